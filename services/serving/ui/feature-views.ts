/**
 * The feature views page: per view of the registry, what the offline store can tell cheaply —
 * the latest event time written (and so the lag behind now) and an estimate of its rows. The
 * stats port is optional: without it the page lists the views and their declarations only.
 */

import type { RepoSpec } from '../../../shared/definitions/types.ts';
import {
  DEFAULT_OFFLINE_SCHEMA,
  type PgPool,
  qualified,
  quoteLiteral,
  transaction,
} from '../../../shared/postgres/index.ts';
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
}

export interface FeatureViewRow {
  name: string;
  kind: 'featureView' | 'streamFeatureView';
  entities: string[];
  source: string;
  features: string[];
  ttlMs: number;
  online: boolean;
  offline: boolean;
  /** Stream views: their aggregations' windows. */
  aggregations: { name: string; function: string; windowMs: number; resolutionMs: number }[];
  stats: OfflineViewStats | null;
  now: number;
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
    online: true,
    offline: true,
    aggregations: v.aggregations.map((a) => ({
      name: a.name,
      function: a.function,
      windowMs: a.windowMs,
      resolutionMs: a.resolutionMs,
    })),
  }));
  const views = [...plain, ...streams]
    .filter((v) => only === undefined || v.name === only)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return Promise.all(
    views.map(async (v) => ({
      ...v,
      now,
      stats:
        stats && v.offline
          ? await stats
              .offline(v.name)
              .catch(() => ({ latestEventTime: null, rowsEstimate: null, note: 'unavailable' }))
          : null,
    })),
  );
}

const lagOf = (v: FeatureViewRow) =>
  v.stats?.latestEventTime === null || v.stats?.latestEventTime === undefined
    ? null
    : v.now - v.stats.latestEventTime;

export function featureViewsBody(views: FeatureViewRow[], withStats: boolean): string {
  if (views.length === 0)
    return '<h1>Feature views</h1><p>No feature views in the registry. Run <code>tributary apply</code>.</p>';
  const rows = views
    .map(
      (v) =>
        `<tr><td><a href="/ui/feature-views/${esc(encodeURIComponent(v.name))}">${esc(v.name)}</a></td><td>${v.kind === 'streamFeatureView' ? 'stream (aggregated)' : 'plain'}</td><td>${esc(v.entities.join(', '))}</td><td>${esc(v.source)}</td><td class="num">${v.features.length}</td><td>${esc(isoTime(v.stats?.latestEventTime ?? null))}</td><td class="num">${esc(duration(lagOf(v)))}</td><td class="num">${v.stats?.rowsEstimate === null || v.stats?.rowsEstimate === undefined ? '–' : `≈ ${v.stats.rowsEstimate}`}</td></tr>`,
    )
    .join('\n');
  return `<h1>Feature views</h1>
${withStats ? '' : '<p class="warn">This server has no offline-store statistics: freshness and rows are not shown.</p>'}
<table class="grid"><thead><tr><th scope="col">view</th><th scope="col">kind</th><th scope="col">entities</th><th scope="col">source</th><th scope="col">features</th><th scope="col">latest event (offline)</th><th scope="col">lag</th><th scope="col">rows (estimate)</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="legend">Rows are Postgres's estimate as of the table's last ANALYZE. Dead letters by reason and online writes are counted by the materializer: its <code>/metrics</code> has <code>tributary_materializer_dead_letters_total{reason}</code>; this page does not scan Redis for a key count.</p>`;
}

export function featureViewBody(v: FeatureViewRow, withStats: boolean): string {
  const aggregations = v.aggregations.length
    ? `<h2>Aggregations</h2><table class="grid"><thead><tr><th scope="col">feature</th><th scope="col">function</th><th scope="col">window</th><th scope="col">resolution</th></tr></thead><tbody>${v.aggregations
        .map(
          (a) =>
            `<tr><td>${esc(a.name)}</td><td>${esc(a.function)}</td><td>${esc(duration(a.windowMs))}</td><td>${esc(duration(a.resolutionMs))}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '';
  return `<h1>${esc(v.name)}</h1>
<dl>
<dt>kind</dt><dd>${v.kind === 'streamFeatureView' ? 'stream feature view (aggregations)' : 'feature view'}</dd>
<dt>entities</dt><dd>${esc(v.entities.join(', '))}</dd>
<dt>source</dt><dd>${esc(v.source)}</dd>
<dt>features</dt><dd>${v.features.map((f) => `<code>${esc(f)}</code>`).join(', ')}</dd>
<dt>ttl</dt><dd>${v.ttlMs ? esc(duration(v.ttlMs)) : 'none'}</dd>
<dt>stores</dt><dd>${[v.online ? 'online' : '', v.offline ? 'offline' : ''].filter(Boolean).join(', ')}</dd>
${
  withStats
    ? `<dt>latest event (offline)</dt><dd>${esc(isoTime(v.stats?.latestEventTime ?? null))} (lag ${esc(duration(lagOf(v)))})</dd>
<dt>rows (estimate)</dt><dd>${v.stats?.rowsEstimate ?? '–'}${v.stats?.note ? ` (${esc(v.stats.note)})` : ''}</dd>`
    : ''
}
</dl>
${aggregations}`;
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
