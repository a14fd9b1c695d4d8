/**
 * The feature views page: per view of the registry, what the stores can tell cheaply — the
 * latest event time written offline (and so the lag behind now), an estimate of its rows, how
 * many keys it holds online (a bounded, cached SCAN: key-count.ts), and its dead letters by
 * error code (counted by the materializer in Postgres: dead-letter-counts.ts); for stream
 * views, their aggregations' windows. Each figure's source is optional: without it the page
 * says so and shows the rest.
 */

import type { RepoSpec } from '../../../shared/definitions/types.ts';
import type { DeadLetterTally } from '../../../shared/events/dead-letter-counts.ts';
import {
  DEFAULT_OFFLINE_SCHEMA,
  type PgPool,
  qualified,
  quoteLiteral,
  transaction,
} from '../../../shared/postgres/index.ts';
import type { OnlineKeyCount } from '../../../shared/stores/online/key-count.ts';
import { duration, esc, isoTime } from './templates.ts';

export interface OfflineViewStats {
  /** The latest event time in the view's table, epoch ms; null when empty or unknown. */
  latestEventTime: number | null;
  /** Rows by Postgres's statistics (pg_class.reltuples, as of the last ANALYZE): approximate. */
  rowsEstimate: number | null;
  /** Why a figure is missing (no table yet, timed out). */
  note?: string;
}

export interface FeatureViewStats {
  offline(view: string): Promise<OfflineViewStats>;
  /** Keys the view holds in the online store; absent: the page shows no key count. */
  onlineKeys?(view: string): Promise<OnlineKeyCount>;
  /** Dead letters of a source topic by view and code; absent: the page shows none. */
  deadLetters?(sourceTopic: string): Promise<DeadLetterTally[]>;
}

export interface FeatureViewRow {
  name: string;
  kind: 'featureView' | 'streamFeatureView';
  entities: string[];
  source: string;
  /** The Kafka topic the view is materialized from (a push source's through its batch source). */
  topic: string | null;
  features: string[];
  ttlMs: number;
  online: boolean;
  offline: boolean;
  /** Stream views: their aggregations and windows. */
  aggregations: { name: string; function: string; column: string; windowMs: number; resolutionMs: number }[];
  stats: OfflineViewStats | null;
  /** Null: not asked (no counter, or an offline-only view); `note` when the count failed. */
  onlineKeys: OnlineKeyCount | { note: string } | null;
  /**
   * The view's dead letters by code, newest reason each; a row with `view: null` is a message
   * that failed before any view (not JSON, a bad header) and so counts for every view of the
   * topic. Null: not asked; `note` when the counts could not be read.
   */
  deadLetters: { tallies: DeadLetterTally[]; note?: string } | null;
  now: number;
}

/** The Kafka topic of a source by name (a push source travels through its batch source's). */
function topicOf(repo: RepoSpec, source: string): string | null {
  const push = repo.pushSources.find((p) => p.name === source);
  const name = push ? push.batchSource : source;
  return repo.kafkaSources.find((s) => s.name === name)?.topic ?? null;
}

export async function featureViewsOf(
  repo: RepoSpec,
  stats: FeatureViewStats | undefined,
  only?: string,
): Promise<FeatureViewRow[]> {
  const now = Date.now();
  const plain = repo.featureViews.map((v) => ({
    name: v.name,
    kind: 'featureView' as const,
    entities: v.entities,
    source: v.source,
    features: v.schema.map((f) => f.name),
    ttlMs: v.ttlMs,
    online: v.online,
    offline: v.offline,
    aggregations: [],
  }));
  const streams = (repo.streamFeatureViews ?? []).map((v) => ({
    name: v.name,
    kind: 'streamFeatureView' as const,
    entities: v.entities,
    source: v.source,
    features: v.aggregations.map((a) => a.name),
    ttlMs: 0,
    online: v.online,
    offline: v.offline,
    aggregations: v.aggregations.map((a) => ({
      name: a.name,
      function: a.function,
      column: a.column,
      windowMs: a.windowMs,
      resolutionMs: a.resolutionMs,
    })),
  }));
  const views = [...plain, ...streams]
    .filter((v) => only === undefined || v.name === only)
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((v) => ({ ...v, topic: topicOf(repo, v.source) }));
  // One read per topic, shared by the views it feeds.
  const lettersByTopic = new Map<string, Promise<{ tallies: DeadLetterTally[]; note?: string }>>();
  const lettersOf = (topic: string) => {
    let held = lettersByTopic.get(topic);
    if (!held && stats?.deadLetters) {
      held = stats.deadLetters(topic).then(
        (tallies) => ({ tallies }),
        () => ({ tallies: [], note: 'unavailable' }),
      );
      lettersByTopic.set(topic, held);
    }
    return held;
  };
  return Promise.all(
    views.map(async (v) => {
      const letters = v.topic === null ? undefined : lettersOf(v.topic);
      const [offline, onlineKeys, deadLetters] = await Promise.all([
        stats && v.offline
          ? stats
              .offline(v.name)
              .catch(() => ({ latestEventTime: null, rowsEstimate: null, note: 'unavailable' }))
          : null,
        stats?.onlineKeys && v.online
          ? stats.onlineKeys(v.name).catch(() => ({ note: 'unavailable' }))
          : null,
        letters
          ? letters.then((all) => ({
              ...all,
              tallies: all.tallies.filter((t) => t.view === v.name || t.view === null),
            }))
          : null,
      ]);
      return { ...v, now, stats: offline, onlineKeys, deadLetters };
    }),
  );
}

const lagOf = (v: FeatureViewRow) =>
  v.stats?.latestEventTime === null || v.stats?.latestEventTime === undefined
    ? null
    : v.now - v.stats.latestEventTime;

/** `1234`, `≥ 1234 (scan capped)`, or why there is no figure. */
function keysText(v: FeatureViewRow): string {
  const k = v.onlineKeys;
  if (k === null) return v.online ? '–' : 'offline only';
  if ('note' in k) return k.note;
  return k.capped ? `≥ ${k.keys} (scan capped)` : String(k.keys);
}

function deadLetterTotal(v: FeatureViewRow): string {
  const d = v.deadLetters;
  if (d === null) return '–';
  if (d.note) return d.note;
  return String(d.tallies.reduce((n, t) => n + t.count, 0));
}

function aggregationsTable(v: FeatureViewRow): string {
  return `<table class="grid"><thead><tr><th scope="col">feature</th><th scope="col">function</th><th scope="col">column</th><th scope="col">window</th><th scope="col">resolution</th></tr></thead><tbody>${v.aggregations
    .map(
      (a) =>
        `<tr data-aggregation="${esc(a.name)}"><td>${esc(a.name)}</td><td>${esc(a.function)}</td><td><code>${esc(a.column)}</code></td><td>${esc(duration(a.windowMs))}</td><td>${esc(duration(a.resolutionMs))}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

export function featureViewsBody(views: FeatureViewRow[], withStats: boolean): string {
  if (views.length === 0)
    return '<h1>Feature views</h1><p>No feature views in the registry. Run <code>tributary apply</code>.</p>';
  const link = (v: FeatureViewRow) => `/ui/feature-views/${esc(encodeURIComponent(v.name))}`;
  const rows = views
    .map(
      (v) =>
        `<tr data-view="${esc(v.name)}"><td><a href="${link(v)}">${esc(v.name)}</a></td><td>${v.kind === 'streamFeatureView' ? 'stream (aggregated)' : 'plain'}</td><td>${esc(v.entities.join(', '))}</td><td>${esc(v.source)}</td><td class="num">${v.features.length}</td><td>${esc(isoTime(v.stats?.latestEventTime ?? null))}</td><td class="num">${esc(duration(lagOf(v)))}</td><td class="num">${v.stats?.rowsEstimate === null || v.stats?.rowsEstimate === undefined ? '–' : `≈ ${v.stats.rowsEstimate}`}</td><td class="num" data-online-keys>${esc(keysText(v))}</td><td class="num" data-dead-letters><a href="${link(v)}#dead-letters">${esc(deadLetterTotal(v))}</a></td></tr>`,
    )
    .join('\n');
  const aggregated = views.filter((v) => v.aggregations.length > 0);
  const windows = aggregated.length
    ? `<h2>Aggregated views</h2>${aggregated
        .map((v) => `<h3><a href="${link(v)}">${esc(v.name)}</a></h3>${aggregationsTable(v)}`)
        .join('\n')}`
    : '';
  return `<h1>Feature views</h1>
${withStats ? '' : '<p class="warn">This server has no store statistics: freshness, rows, online keys and dead letters are not shown.</p>'}
<table class="grid"><thead><tr><th scope="col">view</th><th scope="col">kind</th><th scope="col">entities</th><th scope="col">source</th><th scope="col">features</th><th scope="col">latest event (offline)</th><th scope="col">lag</th><th scope="col">rows (estimate)</th><th scope="col">online keys</th><th scope="col">dead letters</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="legend">Rows are Postgres's estimate as of the table's last ANALYZE. Online keys come from one SCAN of the online store, bounded in time and cached for 30 s: "≥ N (scan capped)" when it stopped early. Dead letters are counted by the materializer as it publishes them, by error code; each view's page lists them.</p>
${windows}`;
}

function deadLettersSection(v: FeatureViewRow): string {
  const d = v.deadLetters;
  const head = '<h2 id="dead-letters">Dead letters</h2>';
  if (d === null) return `${head}<p>This server does not count dead letters.</p>`;
  if (d.note) return `${head}<p class="warn">Dead-letter counts are ${esc(d.note)}.</p>`;
  const topic = v.topic ? ` in <code>${esc(v.topic)}.dlq</code>` : '';
  if (d.tallies.length === 0) return `${head}<p>None${topic}.</p>`;
  const rows = d.tallies
    .map(
      (t) =>
        `<tr data-code="${esc(t.code)}"><td><code>${esc(t.code)}</code>${t.view === null ? ' (whole message, before any view)' : ''}</td><td class="num">${t.count}</td><td>${esc(t.latestReason)}</td><td>${esc(isoTime(t.latestAt))}</td></tr>`,
    )
    .join('');
  return `${head}<p>Messages of this view's topic sent${topic}, by error code (docs/errors.md); the letters themselves can be replayed from there.</p>
<table class="grid"><thead><tr><th scope="col">code</th><th scope="col">count</th><th scope="col">latest reason</th><th scope="col">latest at</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function featureViewBody(v: FeatureViewRow, withStats: boolean): string {
  const aggregations = v.aggregations.length ? `<h2>Aggregations</h2>${aggregationsTable(v)}` : '';
  return `<h1>${esc(v.name)}</h1>
<dl>
<dt>kind</dt><dd>${v.kind === 'streamFeatureView' ? 'stream feature view (aggregations)' : 'feature view'}</dd>
<dt>entities</dt><dd>${esc(v.entities.join(', '))}</dd>
<dt>source</dt><dd>${esc(v.source)}${v.topic ? ` (topic <code>${esc(v.topic)}</code>)` : ''}</dd>
<dt>features</dt><dd>${v.features.map((f) => `<code>${esc(f)}</code>`).join(', ')}</dd>
<dt>ttl</dt><dd>${v.ttlMs ? esc(duration(v.ttlMs)) : 'none'}</dd>
<dt>stores</dt><dd>${[v.online ? 'online' : '', v.offline ? 'offline' : ''].filter(Boolean).join(', ')}</dd>
${
  withStats
    ? `<dt>latest event (offline)</dt><dd>${esc(isoTime(v.stats?.latestEventTime ?? null))} (lag ${esc(duration(lagOf(v)))})</dd>
<dt>rows (estimate)</dt><dd>${v.stats?.rowsEstimate ?? '–'}${v.stats?.note ? ` (${esc(v.stats.note)})` : ''}</dd>
<dt>online keys</dt><dd data-online-keys>${esc(keysText(v))}</dd>`
    : ''
}
</dl>
${aggregations}
${withStats ? deadLettersSection(v) : ''}`;
}

/**
 * Offline-store statistics from Postgres. The latest event time is a max() over the view's
 * table bounded by a 2 s statement timeout (the month partitions make it one index or scan per
 * partition); the row count is the planner's estimate, not a count(*).
 */
export class PostgresFeatureViewStats implements FeatureViewStats {
  constructor(
    private readonly pool: PgPool,
    private readonly schema = DEFAULT_OFFLINE_SCHEMA,
  ) {}

  async offline(view: string): Promise<OfflineViewStats> {
    const table = qualified(this.schema, view);
    try {
      return await transaction(this.pool, async (client) => {
        await client.query(`SET LOCAL statement_timeout = 2000`);
        const exists = await client.query<{ oid: string | null }>(
          `SELECT to_regclass(${quoteLiteral(table)})::oid::text AS oid`,
        );
        const oid = exists.rows[0]?.oid;
        if (!oid) return { latestEventTime: null, rowsEstimate: null, note: 'no table yet' };
        const estimate = await client.query<{ n: number | null }>(
          `SELECT sum(GREATEST(c.reltuples, 0))::float8 AS n FROM pg_class c
            WHERE c.oid = $1::oid OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::oid)`,
          [oid],
        );
        const latest = await client.query<{ ms: number | null }>(
          `SELECT (EXTRACT(EPOCH FROM max(event_timestamp)) * 1000)::float8 AS ms FROM ${table}`,
        );
        return {
          latestEventTime: latest.rows[0]?.ms ?? null,
          rowsEstimate:
            estimate.rows[0]?.n === null || estimate.rows[0]?.n === undefined
              ? null
              : Math.round(estimate.rows[0].n),
        };
      });
    } catch {
      return { latestEventTime: null, rowsEstimate: null, note: 'timed out or unavailable' };
    }
  }
}
