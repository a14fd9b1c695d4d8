import { checkWebhookSecrets } from '../../services/monitor/outbox.ts';
import { startMonitorService } from '../../services/monitor/service.ts';
import { checkListenPolicy, loadConfig, monitorOpsPort } from '../../shared/config.ts';
import type { RepoSpec } from '../../shared/definitions/types.ts';
import { TributaryError } from '../../shared/errors.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import { checkPortFree } from '../../shared/observability/ops-server.ts';
import { createPool } from '../../shared/postgres/index.ts';
import { type DefinitionsSource, openRegistryWatcher } from '../../shared/registry/live.ts';
import { onShutdown } from '../../shared/shutdown.ts';
import { KafkaEventStream } from '../../shared/stream/kafka.ts';
import type { Command } from '../command.ts';
import {
  checkReachable,
  closeQuietly,
  MONITOR_SCHEMA,
  REGISTRY_SCHEMA,
  reportError,
  withOptions,
} from '../options.ts';

const OPTIONS = {
  monitor: { type: 'string', multiple: true },
  schema: { type: 'string' },
  ...REGISTRY_SCHEMA.option,
  'metrics-port': { type: 'string' },
  'no-dispatch': { type: 'boolean', default: false },
} as const;

export const monitorCommand: Command = {
  name: 'monitor',
  summary: 'Watch prediction streams for drift; emit drift and retraining events to Kafka and webhooks',
  help: `Usage: tributary monitor [options]

Runs every monitor declared in the applied registry (or those named with --monitor). Each
consumes its prediction topic, counts predictions into windows (by rows or by event time) per
model version, and at each window end compares every monitored feature and the prediction with
the model version's reference profile ('tributary profile'; the model's latest profile when
that version has none). Results go to the topic tributary.drift; retraining requests, decided
by the monitor's policy, to tributary.retrain; both also to the declared webhooks, signed
(X-Tributary-Signature) and retried with backoff through a Postgres outbox.

Window state and processed offsets are checkpointed in Postgres after every batch, so a restart
neither skips nor double-counts predictions. Malformed events go to <topic>.dlq. Follows new
registry versions without a restart. Run one instance per monitor. Serves /metrics and /health
(bound to HOST, default 127.0.0.1; beyond loopback a request needs a TRIBUTARY_API_KEYS key).

A webhook's signing key is read from the environment variable its declaration names
(secretEnv); the registry holds only the name. A variable that is not set stops the start with
a one-line error naming it; in a version applied later, it keeps that one monitor from starting
(logged) while the others run. Any start-up failure exits non-zero at once.

Options:
  --monitor <name>           run only this monitor (repeatable; default: all declared)
  --schema <name>            Postgres schema for profiles, windows and the outbox
                             ${MONITOR_SCHEMA.default}
${REGISTRY_SCHEMA.help}
  --metrics-port <port>      /metrics and /health port (default: METRICS_PORT + 1, else 9465; 0 = any)
  --no-dispatch              do not send outbox deliveries from this process
  -h, --help                 show this help

Environment: KAFKA_BROKERS, DATABASE_URL, LOG_LEVEL, METRICS_PORT, HOST, TRIBUTARY_API_KEYS,
TRIBUTARY_ALLOW_UNAUTHENTICATED, TRIBUTARY_MONITOR_SCHEMA, TRIBUTARY_REGISTRY_SCHEMA,
TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL (closed windows per model whose histograms are kept for
the dashboard and 'tributary report', default 500, 0: none), TRIBUTARY_PG_POOL_MAX (Postgres
connections, default 10), TRIBUTARY_DEBUG (set: a failure prints its stack), and the
variables the webhooks' secretEnv name (the example feature repository's:
TRIBUTARY_WEBHOOK_SECRET).

Examples:
  tributary profile --model driver_model --model-version 3 --input training.csv
  tributary monitor
  tributary monitor --monitor driver_model --metrics-port 9475`,

  run: withOptions('monitor', OPTIONS, async (values) => {
    const opened: (() => Promise<void>)[] = [];
    try {
      const config = loadConfig();
      const logger = createLogger('monitor', config.logLevel);
      // From the start on, a signal closes what is open (newest first) and exits cleanly.
      onShutdown(logger, opened);
      let opsPort = monitorOpsPort(config.metricsPort);
      if (values['metrics-port'] !== undefined) {
        opsPort = Number(values['metrics-port']);
        if (!/^\d+$/.test(values['metrics-port']) || opsPort > 65535) {
          throw new TributaryError(
            'TRIB_BAD_REQUEST',
            `--metrics-port ${values['metrics-port']}: expected 0–65535`,
          );
        }
      }
      checkListenPolicy(config);
      // The ops server listens only once the monitors run (seconds later); a taken port fails here.
      await checkPortFree(
        config.host,
        opsPort,
        values['metrics-port'] !== undefined
          ? '--metrics-port'
          : '--metrics-port (or METRICS_PORT: the monitor listens on METRICS_PORT + 1)',
      );
      // One pool for the process: the registry and the monitor service (its locks have their own).
      const pool = createPool({
        connectionString: config.databaseUrl,
        max: config.pgPoolMax,
        applicationName: 'tributary-monitor',
        logger,
      });
      opened.push(() => pool.end());
      const watcher = await openRegistryWatcher({
        databaseUrl: config.databaseUrl,
        pool,
        schema: REGISTRY_SCHEMA.of(values['registry-schema']),
        logger,
      });
      opened.push(() => watcher.close());
      const only = values.monitor;
      // A missing secret variable is a start-up error, before any consumer joins.
      checkWebhookSecrets(watcher.current().monitors.filter((m) => !only || only.includes(m.name)));
      const definitions = withResolvableSecrets(watcher, logger);
      const stream = new KafkaEventStream(config.kafkaBrokers, logger);
      opened.push(() => stream.close());
      await checkReachable([{ name: 'Kafka', variable: 'KAFKA_BROKERS', check: () => stream.ping() }]);
      const service = await startMonitorService({
        definitions,
        stream,
        databaseUrl: config.databaseUrl,
        pool,
        logger,
        schema: MONITOR_SCHEMA.of(values.schema),
        opsPort,
        opsHost: config.host,
        opsApiKeys: config.apiKeys,
        dispatch: !values['no-dispatch'],
        keepWindowDetail: config.keepWindowDetail,
        ...(only ? { only } : {}),
      });
      opened.push(() => service.close());
      logger.info(
        { monitors: service.monitors().map((m) => m.name), metricsPort: service.opsPort },
        'monitor running',
      );
      // Runs until SIGTERM/SIGINT: onShutdown exits the process.
      await new Promise(() => {});
      return 0;
    } catch (error) {
      const code = reportError('monitor', error);
      await closeQuietly(opened);
      return code;
    }
  }),
};

/**
 * The registry's definitions without the monitors whose webhook secrets cannot be read here,
 * each logged as an error naming the variable: a version applied while the monitor runs then
 * keeps only that monitor from starting, instead of failing at its first window's end.
 */
function withResolvableSecrets(source: DefinitionsSource, logger: Logger): DefinitionsSource {
  const runnable = (repo: RepoSpec): RepoSpec => {
    const monitors = repo.monitors.filter((monitor) => {
      try {
        checkWebhookSecrets([monitor]);
        return true;
      } catch (error) {
        logger.error({ err: error, monitor: monitor.name }, 'monitor: cannot start');
        return false;
      }
    });
    return monitors.length === repo.monitors.length ? repo : { ...repo, monitors };
  };
  return {
    current: () => runnable(source.current()),
    onChange: (listener) => source.onChange((repo, version) => listener(runnable(repo), version)),
  };
}
