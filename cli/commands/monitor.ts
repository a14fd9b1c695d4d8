import { defaultOpsPort, startMonitorService } from '../../services/monitor/service.ts';
import { loadConfig } from '../../shared/config.ts';
import { TributaryError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/logger.ts';
import { openRegistryWatcher } from '../../shared/registry/live.ts';
import { onShutdown } from '../../shared/shutdown.ts';
import { KafkaEventStream } from '../../shared/stream/kafka.ts';
import type { Command } from '../command.ts';
import { MONITOR_SCHEMA, REGISTRY_SCHEMA, reportError, withOptions } from '../options.ts';

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
registry versions without a restart. Run one instance per monitor. Serves /metrics and /health.

Options:
  --monitor <name>           run only this monitor (repeatable; default: all declared)
  --schema <name>            Postgres schema for profiles, windows and the outbox
                             ${MONITOR_SCHEMA.default}
${REGISTRY_SCHEMA.help}
  --metrics-port <port>      /metrics and /health port (default: METRICS_PORT + 1, else 9465; 0 = any)
  --no-dispatch              do not send outbox deliveries from this process
  -h, --help                 show this help

Environment: KAFKA_BROKERS, DATABASE_URL, LOG_LEVEL, METRICS_PORT, TRIBUTARY_WEBHOOK_URL and
TRIBUTARY_WEBHOOK_SECRET (read by the example feature repository's monitor declaration).

Examples:
  tributary profile --model driver_model --model-version 3 --input training.csv
  tributary monitor
  tributary monitor --monitor driver_model --metrics-port 9475`,

  run: withOptions('monitor', OPTIONS, async (values) => {
    try {
      const config = loadConfig();
      const logger = createLogger('monitor', config.logLevel);
      let opsPort = defaultOpsPort();
      if (values['metrics-port'] !== undefined) {
        opsPort = Number(values['metrics-port']);
        if (!Number.isInteger(opsPort) || opsPort < 0 || opsPort > 65535) {
          throw new TributaryError(
            'TRIB_BAD_REQUEST',
            `--metrics-port ${values['metrics-port']}: expected 0–65535`,
          );
        }
      }
      const definitions = await openRegistryWatcher({
        databaseUrl: config.databaseUrl,
        schema: REGISTRY_SCHEMA.of(values['registry-schema']),
        logger,
      });
      const stream = new KafkaEventStream(config.kafkaBrokers, logger);
      const service = await startMonitorService({
        definitions,
        stream,
        databaseUrl: config.databaseUrl,
        logger,
        schema: MONITOR_SCHEMA.of(values.schema),
        opsPort,
        opsHost: config.host,
        dispatch: !values['no-dispatch'],
        ...(values.monitor ? { only: values.monitor } : {}),
      }).catch(async (error: unknown) => {
        await definitions.close();
        throw error;
      });
      onShutdown(logger, [() => definitions.close(), () => service.close()]);
      logger.info(
        { monitors: service.monitors().map((m) => m.name), metricsPort: service.opsPort },
        'monitor running',
      );
      // Runs until SIGTERM/SIGINT: onShutdown exits the process.
      await new Promise(() => {});
      return 0;
    } catch (error) {
      return reportError('monitor', error);
    }
  }),
};
