/**
 * The monitor process: one DriftMonitor per declared monitor, one outbox Dispatcher, the ops
 * server (/metrics, /health). Monitors follow the registry: a changed declaration restarts its
 * monitor (from its checkpoint), a removed one stops, a new one starts.
 */

import { metricsPortFromEnv, monitorOpsPort } from '../../shared/config.ts';
import type { MonitorSpec } from '../../shared/definitions/types.ts';
import type { Logger } from '../../shared/logger.ts';
import { PostgresMonitorStore } from '../../shared/monitoring/postgres.ts';
import {
  checkDependencies,
  HEALTH_CHECK_TIMEOUT_MS,
  withinTimeout,
} from '../../shared/observability/health.ts';
import { startOpsServer } from '../../shared/observability/ops-server.ts';
import { createPool, type PgPool } from '../../shared/postgres/index.ts';
import { PostgresProfileStore } from '../../shared/profiles/postgres.ts';
import type { DefinitionsSource } from '../../shared/registry/live.ts';
import type { EventStream, StartPosition, StreamProducer } from '../../shared/stream/port.ts';
import { createMonitorMetrics, type MonitorMetrics } from './metrics.ts';
import { DriftMonitor } from './monitor.ts';
import { Dispatcher, type DispatcherOptions, type RetryPolicy } from './outbox.ts';
import type { ClosedWindow } from './processor.ts';

export { DEFAULT_MONITOR_SCHEMA } from '../../shared/monitoring/postgres.ts';

import { DEFAULT_MONITOR_SCHEMA } from '../../shared/monitoring/postgres.ts';

export interface MonitorServiceOptions {
  definitions: DefinitionsSource;
  stream: EventStream;
  databaseUrl: string;
  /**
   * The process's shared pool (the CLI's, sized by TRIB_PG_POOL_MAX); default a pool of
   * `poolMax` connections of the service's own, ended by `close`.
   */
  pool?: PgPool;
  /** Size of the service's own pool when no `pool` is given; default 6. */
  poolMax?: number;
  logger: Logger;
  /** Postgres schema for profiles, state and outbox; default `tributary_monitor`. */
  schema?: string;
  /** Run only these monitors (by name); default every declared monitor. */
  only?: readonly string[];
  /** Ops server port (0: any free port; null: none). Default METRICS_PORT + 1 = 9465. */
  opsPort?: number | null;
  opsHost?: string;
  /** Keys a request from beyond loopback must present to /metrics and /health (TRIBUTARY_API_KEYS). */
  opsApiKeys?: readonly string[];
  /** Consumer group per monitor; default `tributary-monitor-<name>`. */
  groupIdOf?: (spec: MonitorSpec) => string;
  start?: StartPosition;
  retry?: Partial<RetryPolicy>;
  dispatcher?: Partial<Pick<DispatcherOptions, 'requestTimeoutMs' | 'idleMs' | 'batchSize' | 'post'>>;
  /** Run the outbox dispatcher in this process; default true. */
  dispatch?: boolean;
  metrics?: MonitorMetrics;
  /** How often a standby (another process runs the monitor) asks for its lock; default 5 s. */
  lockRetryMs?: number;
  onWindowClosed?: (monitor: string, closed: ClosedWindow) => void;
  /** Closed windows per model whose detail (histograms, shares) is kept; default 500. */
  keepWindowDetail?: number;
}

export interface MonitorService {
  readonly metrics: MonitorMetrics;
  readonly store: PostgresMonitorStore;
  readonly profiles: PostgresProfileStore;
  readonly opsPort: number | null;
  monitors(): DriftMonitor[];
  close(): Promise<void>;
}

/** The most monitors one process runs: each holds one Postgres connection for its lock. */
export const MAX_MONITORS_PER_PROCESS = 64;

/**
 * The default ops port: METRICS_PORT + 1 (9465), validated as `loadConfig` does, so a bad
 * METRICS_PORT is TRIB_CONFIG_INVALID here too rather than quietly 9465.
 */
export function defaultOpsPort(env?: NodeJS.ProcessEnv): number {
  return monitorOpsPort(metricsPortFromEnv(env));
}

export async function startMonitorService(options: MonitorServiceOptions): Promise<MonitorService> {
  const { logger, stream } = options;
  const schema = options.schema ?? DEFAULT_MONITOR_SCHEMA;
  const ownPool = options.pool
    ? null
    : createPool({
        connectionString: options.databaseUrl,
        max: options.poolMax ?? 6,
        applicationName: 'tributary-monitor',
        logger,
        name: 'monitor',
      });
  const pool: PgPool = options.pool ?? ownPool!;
  // Advisory locks get connections of their own (one per running monitor, opened on demand), so
  // any number of monitors leaves the work pool free; the bound fails a start loudly instead of
  // exhausting Postgres, and the connect timeout turns a full pool into a coded error instead of
  // a silent wait.
  const lockPool: PgPool = createPool({
    connectionString: options.databaseUrl,
    max: MAX_MONITORS_PER_PROCESS,
    applicationName: 'tributary-monitor-locks',
    logger,
    name: 'monitor locks',
  });
  const store = new PostgresMonitorStore(pool, schema, lockPool, {
    ...(options.keepWindowDetail === undefined ? {} : { keepWindowDetail: options.keepWindowDetail }),
  });
  const profiles = new PostgresProfileStore(pool, schema);
  await profiles.ensureSchema();
  await store.ensureSchema();
  const metrics = options.metrics ?? createMonitorMetrics();
  const producer: StreamProducer = await stream.producer();

  let dispatcher: Dispatcher | null = null;
  if (options.dispatch !== false) {
    dispatcher = new Dispatcher({
      store,
      producer,
      logger,
      ...(options.retry ? { retry: options.retry } : {}),
      ...options.dispatcher,
      onOutcome: ({ kind, result }) => metrics.deliveries.inc({ kind, result }),
    });
    dispatcher.start();
  }

  const running = new Map<string, { monitor: DriftMonitor; spec: string }>();
  const wanted = (spec: MonitorSpec) => !options.only || options.only.includes(spec.name);

  const startOne = async (spec: MonitorSpec) => {
    const monitor = new DriftMonitor({
      spec,
      stream,
      producer,
      state: store,
      profiles,
      logger,
      metrics,
      groupId: options.groupIdOf?.(spec) ?? `tributary-monitor-${spec.name}`,
      ...(options.start ? { start: options.start } : {}),
      onOutbox: () => dispatcher?.wake(),
      ...(options.lockRetryMs ? { lockRetryMs: options.lockRetryMs } : {}),
      ...(options.onWindowClosed
        ? { onWindowClosed: (c: ClosedWindow) => options.onWindowClosed!(spec.name, c) }
        : {}),
    });
    await monitor.start();
    running.set(spec.name, { monitor, spec: JSON.stringify(spec) });
  };

  // Registry changes are applied one at a time, in order.
  let applying: Promise<void> = Promise.resolve();
  const apply = (specs: readonly MonitorSpec[]) => {
    applying = applying.then(async () => {
      const next = new Map(specs.filter(wanted).map((s) => [s.name, s]));
      for (const [name, entry] of [...running]) {
        const spec = next.get(name);
        if (!spec || JSON.stringify(spec) !== entry.spec) {
          logger.info(
            { monitor: name },
            spec ? 'monitor: declaration changed, restarting' : 'monitor: removed, stopping',
          );
          await entry.monitor.stop();
          running.delete(name);
        }
      }
      for (const [name, spec] of next) {
        if (!running.has(name)) {
          await startOne(spec).catch((error) =>
            logger.error({ err: error, monitor: name }, 'monitor: cannot start'),
          );
        }
      }
    });
    return applying;
  };

  const initial = options.definitions.current().monitors.filter(wanted);
  if (options.only) {
    const missing = options.only.filter((n) => !initial.some((s) => s.name === n));
    if (missing.length > 0) logger.warn({ monitors: missing }, 'monitor: not declared (yet) in the registry');
  }
  // Started side by side: each joins a consumer group of its own, which takes seconds.
  await Promise.all(initial.map(startOne));
  const unsubscribe = options.definitions.onChange((repo) => void apply(repo.monitors));
  if (initial.length === 0) logger.warn('monitor: no monitor declared; waiting for one to be applied');

  const collectDepth = async () => metrics.outboxDepth.set(await store.depth());
  const depthTimer = setInterval(() => void collectDepth().catch(() => undefined), 5_000);
  depthTimer.unref();

  const ops =
    options.opsPort === null
      ? null
      : await startOpsServer({
          port: options.opsPort ?? defaultOpsPort(),
          ...(options.opsHost ? { host: options.opsHost } : {}),
          ...(options.opsApiKeys ? { apiKeys: options.opsApiKeys } : {}),
          portSetting: '--metrics-port (or METRICS_PORT: the monitor listens on METRICS_PORT + 1)',
          registry: metrics.registry,
          health: async () => {
            // The details (outbox, lag per monitor) are looked up alongside the dependency
            // checks and within the same bound: /health answers within HEALTH_CHECK_TIMEOUT_MS
            // even when Kafka accepts a connection but does not answer a lag lookup.
            const details = withinTimeout(
              (async () => {
                await collectDepth();
                const [depth, oldestPendingMs] = await Promise.all([
                  store.depth(),
                  store.oldestPendingAgeMs(),
                ]);
                const monitors = await Promise.all(
                  [...running.values()].map(async (r) => ({
                    monitor: r.monitor.name,
                    lag: await r.monitor.lag(),
                    // Partitions held on an error retrying cannot fix: the operator must act.
                    held: r.monitor.held(),
                  })),
                );
                return { outbox: { pending: depth, oldestPendingMs }, monitors };
              })(),
              HEALTH_CHECK_TIMEOUT_MS,
            );
            const [report, detail] = await Promise.all([
              checkDependencies({
                kafka: () => stream.ping(),
                postgres: () => pool.query('SELECT 1'),
              }),
              details.then(
                (value) => ({ value }),
                (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
              ),
            ]);
            const base = { dependencies: report.dependencies, down: report.down };
            if ('error' in detail) return { ok: false, ...base, error: detail.error };
            return {
              ok: report.ok && detail.value.monitors.every((m) => m.held.length === 0),
              ...base,
              ...detail.value,
            };
          },
        });

  return {
    metrics,
    store,
    profiles,
    opsPort: ops?.port ?? null,
    monitors: () => [...running.values()].map((r) => r.monitor),
    async close() {
      unsubscribe();
      clearInterval(depthTimer);
      await applying.catch(() => undefined);
      for (const { monitor } of running.values()) await monitor.stop().catch(() => undefined);
      running.clear();
      await dispatcher?.stop();
      await ops?.close();
      await producer.close().catch(() => undefined);
      await ownPool?.end();
      await lockPool.end();
    },
  };
}
