import { loadConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { viewLayout } from '../../shared/model/layout.ts';
import { createPool } from '../../shared/postgres/index.ts';
import { openRegistryWatcher } from '../../shared/registry/live.ts';
import { compareAt, type Mismatch, streamViewOf } from '../../shared/retrieval/consistency.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import { onlineTarget, RedisOnlineStore } from '../../shared/stores/online/redis.ts';
import type { Command } from '../command.ts';
import { OFFLINE_SCHEMA, ONLINE_PREFIX, REGISTRY_SCHEMA, reportError, withOptions } from '../options.ts';

const OPTIONS = {
  view: { type: 'string' },
  sample: { type: 'string', default: '100' },
  json: { type: 'boolean', default: false },
  ...REGISTRY_SCHEMA.option,
  ...OFFLINE_SCHEMA.option,
  ...ONLINE_PREFIX.option,
} as const;

/** The most entities one run compares (each is one online read and one historical row). */
const MAX_SAMPLE = 100_000;

export const consistencyCommand: Command = {
  name: 'consistency',
  summary: "Compare a stream view's aggregates online and offline at the same instant, exactly",
  help: `Usage: tributary consistency --view <stream view> [--sample <n>] [--json]

Draws up to <n> entities at random among those with an event inside the view's longest window,
reads their aggregated features from the online store (Redis) at an instant t, computes the same
features as of t by historical retrieval from the offline store (Postgres), and compares every
value exactly (bit for bit; -0 is taken as 0). Entities that differ are read again at a new instant:
a difference that goes away was an event still in flight between the two stores (the materializer
writes both before it commits), one that stays is reported as a mismatch.

Exit status: 0 when every value agrees, 1 when some do not (or on an error), 2 on a usage error.

Options:
  --view <name>              the stream feature view (required)
  --sample <n>               entities to compare, 1–${MAX_SAMPLE} (default 100)
  --json                     print the result as JSON
${REGISTRY_SCHEMA.help}
${OFFLINE_SCHEMA.help}
${ONLINE_PREFIX.help}

Environment: DATABASE_URL, REDIS_URL (or REDIS_CLUSTER_NODES).

Example:
  tributary consistency --view driver_trip_stats --sample 1000`,

  run: withOptions('consistency', OPTIONS, async (values) => {
    const sample = Number(values.sample);
    if (!values.view || !Number.isInteger(sample) || sample < 1 || sample > MAX_SAMPLE) {
      console.error(
        `tributary consistency: --view is required and --sample must be an integer from 1 to ${MAX_SAMPLE}. Run 'tributary consistency --help'.`,
      );
      return 2;
    }
    const config = loadConfig();
    const logger = createLogger('consistency', 'warn');
    const pool = createPool({
      connectionString: config.databaseUrl,
      max: config.pgPoolMax,
      applicationName: 'tributary-consistency',
      logger,
    });
    const online = new RedisOnlineStore({
      ...onlineTarget(config).connection,
      logger,
      ...ONLINE_PREFIX.of(values['online-prefix']),
    });
    const definitions = await openRegistryWatcher({
      databaseUrl: config.databaseUrl,
      pool,
      schema: REGISTRY_SCHEMA.of(values['registry-schema']),
      logger,
    }).catch((error) => error as Error);
    try {
      if (definitions instanceof Error) throw definitions;
      const repo = definitions.current();
      const view = streamViewOf(repo, values.view);
      const offline = new PostgresOfflineStore({
        pool,
        logger,
        ...OFFLINE_SCHEMA.of(values['offline-schema']),
      });
      const layout = viewLayout(view, repo.entities);
      const longest = Math.max(...view.aggregations.map((a) => a.windowMs + a.resolutionMs));
      const started = Date.now();
      const keys = await offline.sampleEntities(layout, sample, started - longest);
      // As compareAt names an entity in a mismatch.
      const entityText = (k: readonly unknown[]) =>
        JSON.stringify(Object.fromEntries(layout.joinKeys.map((key, i) => [key.name, String(k[i])])));
      const deps = { repo, online, historical: offline };
      const first = await compareAt(deps, view.name, keys, Date.now());
      // Entities that differed, read again: what an in-flight batch explains goes away.
      const differing = [...new Set(first.mismatches.map((m) => JSON.stringify(m.entity)))];
      const again = keys.filter((k) => differing.includes(entityText(k)));
      const second = again.length > 0 ? await compareAt(deps, view.name, again, Date.now()) : null;
      const persistent = (second?.mismatches ?? []).filter((m) =>
        first.mismatches.some((f) => f.feature === m.feature && sameEntity(f, m)),
      );
      const summary = {
        view: view.name,
        at: new Date(first.at).toISOString(),
        entities: first.entities,
        features: view.aggregations.length,
        compared: first.compared,
        mismatches: persistent.length,
        transient: first.mismatches.length - persistent.length,
        consistency: first.compared === 0 ? 1 : 1 - persistent.length / first.compared,
        durationMs: Date.now() - started,
        details: persistent.map(printable),
      };
      if (values.json) console.log(JSON.stringify(summary, null, 2));
      else printSummary(summary);
      return persistent.length === 0 ? 0 : 1;
    } catch (error) {
      return reportError('consistency', error);
    } finally {
      if (!(definitions instanceof Error)) await definitions.close();
      await online.close();
      await pool.end();
    }
  }),
};

function sameEntity(a: Mismatch, b: Mismatch): boolean {
  return JSON.stringify(a.entity) === JSON.stringify(b.entity);
}

/** JSON has no bigint: int64 values as their digits. */
function printable(m: Mismatch) {
  const text = (v: Mismatch['online']) => (typeof v === 'bigint' ? v.toString() : v);
  return { entity: m.entity, feature: m.feature, online: text(m.online), offline: text(m.offline) };
}

function printSummary(summary: {
  view: string;
  at: string;
  entities: number;
  features: number;
  compared: number;
  mismatches: number;
  transient: number;
  consistency: number;
  durationMs: number;
  details: ReturnType<typeof printable>[];
}): void {
  console.log(`consistency of ${summary.view} at ${summary.at}`);
  console.log(
    `  ${summary.entities} entities × ${summary.features} features = ${summary.compared} values compared in ${summary.durationMs} ms`,
  );
  console.log(
    `  ${summary.mismatches} mismatch${summary.mismatches === 1 ? '' : 'es'}` +
      (summary.transient > 0
        ? ` (${summary.transient} more went away when read again: events in flight)`
        : '') +
      `; consistency ${(summary.consistency * 100).toFixed(4)}%`,
  );
  if (summary.details.length > 0) console.table(summary.details.slice(0, 50));
}
