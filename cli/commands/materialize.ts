import cliProgress from 'cli-progress';
import { Materializer } from '../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../services/materializer/metrics.ts';
import { checkListenPolicy, loadConfig } from '../../shared/config.ts';
import { TributaryError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/logger.ts';
import { checkDependencies } from '../../shared/observability/health.ts';
import { startOpsServer } from '../../shared/observability/ops-server.ts';
import { createPool } from '../../shared/postgres/index.ts';
import { openRegistryWatcher } from '../../shared/registry/live.ts';
import { onShutdown } from '../../shared/shutdown.ts';
import { PostgresDeadLetterCounts } from '../../shared/stores/offline/postgres/dead-letter-counts.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import { onlineTarget, RedisOnlineStore } from '../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../shared/stream/kafka.ts';
import type { StartPosition } from '../../shared/stream/port.ts';
import type { Command } from '../command.ts';
import {
  checkReachable,
  closeQuietly,
  OFFLINE_SCHEMA,
  ONLINE_PREFIX,
  REGISTRY_SCHEMA,
  reportError,
  withOptions,
} from '../options.ts';

const OPTIONS = {
  'from-beginning': { type: 'boolean', default: false },
  from: { type: 'string' },
  source: { type: 'string', multiple: true },
  group: { type: 'string' },
  ...REGISTRY_SCHEMA.option,
  ...OFFLINE_SCHEMA.option,
  ...ONLINE_PREFIX.option,
  'metrics-port': { type: 'string' },
} as const;

export const materializeCommand: Command = {
  name: 'materialize',
  summary: 'Consume the Kafka sources into the offline (Postgres) and online (Redis) stores',
  help: `Usage: tributary materialize [options]

Runs one consumer group per Kafka source of the applied registry and writes every event
to the offline store (full history) and the online store (latest value per entity).
Offsets are committed only after both stores hold a batch; undecodable or invalid messages
go to <topic>.dlq with the reason in headers. Follows new registry versions without a
restart. Serves /metrics and /health on --metrics-port (bound to HOST, default 127.0.0.1;
beyond loopback a request needs 'Authorization: Bearer <key>' of TRIBUTARY_API_KEYS).
A start-up failure (a taken port, an unreachable service, a bad setting) exits non-zero at
once with a one-line reason.

Backfill: with --from-beginning or --from <time>, replays the sources into the stores with
a consumer group of its own (the live one is untouched), shows a progress bar, and exits
when it has caught up with what the topics held at start. Replays are idempotent.

Options:
  --from-beginning           backfill: replay every source from its first message, then exit
  --from <time>              backfill: replay from an ISO-8601 time or epoch ms, then exit
  --source <name>            only this Kafka source (repeatable; default: all)
  --group <prefix>           consumer group prefix (default: tributary-materializer, or
                             tributary-backfill-<time> for a backfill)
${REGISTRY_SCHEMA.help}
${OFFLINE_SCHEMA.help}
${ONLINE_PREFIX.help}
  --metrics-port <port>      /metrics and /health port (default: METRICS_PORT, else 9464; 0 = any)
  -h, --help                 show this help

Environment: KAFKA_BROKERS, DATABASE_URL, REDIS_URL (or REDIS_CLUSTER_NODES), LOG_LEVEL, METRICS_PORT, HOST,
TRIBUTARY_API_KEYS, TRIBUTARY_ALLOW_UNAUTHENTICATED, TRIBUTARY_REGISTRY_SCHEMA,
TRIBUTARY_PG_POOL_MAX (Postgres connections, default 10), TRIBUTARY_DEBUG (set: a failure prints its stack).

Examples:
  tributary materialize
  tributary materialize --from-beginning --source driver_stats_source
  tributary materialize --from 2026-11-01T00:00:00Z`,

  run: withOptions('materialize', OPTIONS, async (values) => {
    // What is open so far, closed (newest first) when the start fails half-way.
    const opened: (() => Promise<void>)[] = [];
    try {
      const config = loadConfig();
      const start = startPosition(values['from-beginning'], values.from);
      const backfill = start !== undefined;
      const metricsPort = backfill ? 0 : metricsPortOf(values['metrics-port'], config.metricsPort);
      if (!backfill) checkListenPolicy(config);
      const logger = createLogger(
        'materializer',
        backfill && config.logLevel === 'info' ? 'warn' : config.logLevel,
      );
      // From the start on, a signal closes what is open (newest first) and exits cleanly.
      if (!backfill) onShutdown(logger, opened);
      const metrics = createMaterializerMetrics();
      // The ops port is bound before anything connects: a taken port fails in milliseconds,
      // with nothing to unwind. /health says 503 'starting' until the consumers run.
      let health: (() => Promise<Record<string, unknown> & { ok: boolean }>) | null = null;
      const ops = backfill
        ? null
        : await startOpsServer({
            port: metricsPort,
            host: config.host,
            apiKeys: config.apiKeys,
            portSetting:
              values['metrics-port'] !== undefined ? '--metrics-port' : '--metrics-port (or METRICS_PORT)',
            registry: metrics.registry,
            health: () => (health ? health() : { ok: false, starting: true }),
          });
      if (ops) opened.push(ops.close);
      // One pool for the process: registry reads and offline writes.
      const pool = createPool({
        connectionString: config.databaseUrl,
        max: config.pgPoolMax,
        applicationName: 'tributary-materializer',
        logger,
      });
      opened.push(() => pool.end());
      const definitions = await openRegistryWatcher({
        databaseUrl: config.databaseUrl,
        pool,
        schema: REGISTRY_SCHEMA.of(values['registry-schema']),
        logger,
      });
      opened.push(() => definitions.close());
      const offline = new PostgresOfflineStore({
        pool,
        logger,
        ...OFFLINE_SCHEMA.of(values['offline-schema']),
      });
      opened.push(() => offline.close());
      const online = new RedisOnlineStore({
        ...onlineTarget(config).connection,
        logger,
        ...ONLINE_PREFIX.of(values['online-prefix']),
      });
      opened.push(() => online.close());
      const stream = new KafkaEventStream(config.kafkaBrokers, logger);
      opened.push(() => stream.close());
      await checkReachable([
        { name: 'Kafka', variable: 'KAFKA_BROKERS', check: () => stream.ping() },
        { name: 'Redis', variable: onlineTarget(config).variable, check: () => online.ping() },
      ]);
      const materializer = new Materializer(
        {
          definitions,
          stream,
          offline,
          online,
          metrics,
          logger,
          deadLetterCounts: new PostgresDeadLetterCounts(pool, offline.schema, logger),
        },
        {
          groupPrefix:
            values.group ?? (backfill ? `tributary-backfill-${Date.now()}` : 'tributary-materializer'),
          ...(start ? { start } : {}),
          ...(values.source ? { sources: values.source } : {}),
        },
      );
      opened.push(() => materializer.stop());
      const closeAll = async () => {
        await materializer.stop();
        await Promise.all([offline.close(), online.close(), definitions.close()]);
        await pool.end();
      };
      if (backfill) return await runBackfill(materializer, metrics, closeAll);

      await materializer.start();
      health = async () => {
        const report = await checkDependencies({
          kafka: () => stream.ping(),
          postgres: () => pool.query('SELECT 1'),
          redis: () => online.ping(),
        });
        const own = materializer.health();
        return { ...own, ok: own.ok && report.ok, dependencies: report.dependencies, down: report.down };
      };
      logger.info({ metricsPort: ops?.port }, 'materializer running');
      // Runs until SIGTERM/SIGINT: onShutdown exits the process.
      await new Promise(() => {});
      return 0;
    } catch (error) {
      const code = reportError('materialize', error);
      await closeQuietly(opened);
      return code;
    }
  }),
};

/** `--metrics-port`, else METRICS_PORT (already checked by loadConfig). */
function metricsPortOf(option: string | undefined, fromEnv: number): number {
  if (option === undefined) return fromEnv;
  const port = Number(option);
  if (!/^\d+$/.test(option) || port > 65535) {
    throw new TributaryError('TRIB_BAD_REQUEST', `--metrics-port ${option}: expected 0–65535`);
  }
  return port;
}

function startPosition(
  fromBeginning: boolean | undefined,
  from: string | undefined,
): StartPosition | undefined {
  if (fromBeginning && from) {
    throw new TributaryError('TRIB_BAD_REQUEST', 'give either --from-beginning or --from, not both');
  }
  if (fromBeginning) return { from: 'beginning' };
  if (from === undefined) return undefined;
  const timestamp = /^\d+$/.test(from) ? Number(from) : Date.parse(from);
  if (!Number.isFinite(timestamp)) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `--from ${JSON.stringify(from)} is neither an ISO-8601 time nor epoch milliseconds`,
    );
  }
  return { from: 'timestamp', timestamp };
}

/** Replays until the lag is zero, with a progress bar of messages consumed. */
async function runBackfill(
  materializer: Materializer,
  metrics: ReturnType<typeof createMaterializerMetrics>,
  closeAll: () => Promise<void>,
): Promise<number> {
  const bar = new cliProgress.SingleBar(
    {
      format: 'backfill [{bar}] {percentage}% | {value}/{total} messages | {rate}/s | eta {eta_formatted}',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  await materializer.start();
  const total = await materializer.lag();
  const started = Date.now();
  bar.start(total, 0, { rate: 0 });
  for (;;) {
    const lag = await materializer.lag();
    const done = Math.max(0, total - lag);
    bar.update(done, { rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
    if (lag === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  bar.stop();
  const events = (await metrics.eventsIn.get()).values.reduce((sum, v) => sum + v.value, 0);
  const dead = (await metrics.deadLetters.get()).values.reduce((sum, v) => sum + v.value, 0);
  await closeAll();
  console.log(
    `backfill done: ${events} messages in ${((Date.now() - started) / 1000).toFixed(1)} s, ${dead} dead-lettered`,
  );
  return 0;
}
