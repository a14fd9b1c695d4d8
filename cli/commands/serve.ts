import { buildApp } from '../../services/serving/app.ts';
import { tuneHeapForServing } from '../../services/serving/heap.ts';
import { PostgresFeatureViewStats } from '../../services/serving/ui/feature-views.ts';
import { checkListenPolicy, loadConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { openMonitorQueries } from '../../shared/monitoring/queries.ts';
import { checkPortFree, listenError } from '../../shared/observability/ops-server.ts';
import { createPool } from '../../shared/postgres/index.ts';
import { openRegistryWatcher } from '../../shared/registry/live.ts';
import { onShutdown } from '../../shared/shutdown.ts';
import { PostgresDeadLetterCounts } from '../../shared/stores/offline/postgres/dead-letter-counts.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import { ClusterScanClient } from '../../shared/stores/online/cluster-scan.ts';
import { RedisKeyCounter } from '../../shared/stores/online/key-count.ts';
import { onlineTarget, RedisOnlineStore } from '../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../shared/stream/kafka.ts';
import type { Command } from '../command.ts';
import {
  checkReachable,
  closeQuietly,
  MONITOR_SCHEMA,
  OFFLINE_SCHEMA,
  ONLINE_PREFIX,
  REGISTRY_SCHEMA,
  reportError,
  withOptions,
} from '../options.ts';

const OPTIONS = {
  ...REGISTRY_SCHEMA.option,
  ...OFFLINE_SCHEMA.option,
  ...ONLINE_PREFIX.option,
  ...MONITOR_SCHEMA.option,
} as const;

/** How long an online read may take before serving answers 503 TRIB_ONLINE_STORE_UNAVAILABLE. */
const LOOKUP_TIMEOUT_MS = 1_000;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the feature server: online lookups, push, historical retrieval (HTTP)',
  help: `Usage: tributary serve [options]

Serves the HTTP API on PORT (default 6566): POST /get-online-features, POST /push,
POST /get-historical-features, GET /feature-views, /feature-services, /health, /metrics,
/openapi.json and the API docs at /docs. Definitions come from the registry ('tributary apply')
and follow new versions without a restart. With TRIBUTARY_API_KEYS set, every route but /health
needs 'Authorization: Bearer <key>'. The server binds HOST (default 127.0.0.1, keys or not); a
HOST beyond loopback without TRIBUTARY_API_KEYS is refused unless TRIBUTARY_ALLOW_UNAUTHENTICATED=1.
A start-up failure (a taken port, an unreachable service, a bad setting) exits non-zero at once
with a one-line reason. Stops gracefully on SIGTERM/SIGINT. See docs/serving.md.

Options:
${REGISTRY_SCHEMA.help}
${OFFLINE_SCHEMA.help}
${ONLINE_PREFIX.help}
  --monitor-schema <name>    Postgres schema of the drift monitor, for GET /monitors/...
                             ${MONITOR_SCHEMA.default}

Environment: DATABASE_URL, REDIS_URL (or REDIS_CLUSTER_NODES), KAFKA_BROKERS, TRIBUTARY_API_KEYS, PORT, HOST,
TRIBUTARY_ALLOW_UNAUTHENTICATED, LOG_LEVEL, TRIBUTARY_REGISTRY_SCHEMA, TRIBUTARY_MONITOR_SCHEMA,
TRIBUTARY_PG_POOL_MAX (Postgres connections, default 10), TRIBUTARY_DEBUG (set: a failure prints its stack).`,
  run: withOptions('serve', OPTIONS, async (values) => {
    // What is open so far: closed newest first on SIGTERM/SIGINT (from the start on, so a signal
    // during start-up exits cleanly too) or when the start fails half-way.
    const opened: (() => Promise<void>)[] = [];
    try {
      const config = loadConfig();
      checkListenPolicy(config);
      // The API listens only once everything is connected; a taken port fails before that.
      await checkPortFree(config.host, config.port, 'PORT');
      const logger = createLogger('serving', config.logLevel);
      onShutdown(logger, opened);
      // One pool for the process, shared by the registry, historical retrieval and monitor queries.
      const pool = createPool({
        connectionString: config.databaseUrl,
        max: config.pgPoolMax,
        applicationName: 'tributary-serve',
        connectTimeoutMs: 5_000,
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
      const historical = new PostgresOfflineStore({
        pool,
        logger,
        ...OFFLINE_SCHEMA.of(values['offline-schema']),
      });
      const online = new RedisOnlineStore({
        ...onlineTarget(config).connection,
        logger,
        // A lookup answers 503 within a second when Redis is away, rather than waiting out the
        // default 10 s meant for the materializer's large writes (the chaos test measures it).
        commandTimeoutMs: LOOKUP_TIMEOUT_MS,
        ...ONLINE_PREFIX.of(values['online-prefix']),
      });
      opened.push(() => online.close());
      const stream = new KafkaEventStream(config.kafkaBrokers, logger);
      opened.push(() => stream.close());
      await checkReachable([
        { name: 'Kafka', variable: 'KAFKA_BROKERS', check: () => stream.ping() },
        { name: 'Redis', variable: onlineTarget(config).variable, check: () => online.ping() },
      ]);
      const producer = await stream.producer();
      opened.push(() => producer.close());
      const monitoring = openMonitorQueries({
        pool,
        schema: MONITOR_SCHEMA.of(values['monitor-schema']),
      });
      opened.push(() => monitoring.close());
      // The feature views page's figures: offline freshness, online keys, dead letters.
      const offlineStats = new PostgresFeatureViewStats(pool, historical.schema);
      const deadLetterCounts = new PostgresDeadLetterCounts(pool, historical.schema);
      // On a cluster the count walks every primary's keyspace (cluster-scan.ts).
      const clusterScan =
        config.redisClusterNodes.length > 0
          ? new ClusterScanClient(config.redisClusterNodes, {
              connectionName: `tributary:${online.prefix}:key-count`,
              logger,
            })
          : undefined;
      const keyCounter = new RedisKeyCounter({
        ...(clusterScan ? { redis: clusterScan } : { url: config.redisUrl }),
        prefix: online.prefix,
        logger,
      });
      opened.push(() => keyCounter.close());
      if (clusterScan) opened.push(async () => clusterScan.disconnect());
      // Before the lookups start: services/serving/heap.ts says why.
      tuneHeapForServing();
      const app = await buildApp({
        definitions,
        online,
        historical,
        producer,
        config,
        logger,
        monitorQueries: monitoring.queries,
        featureViewStats: {
          offline: (view) => offlineStats.offline(view),
          onlineKeys: (view) => keyCounter.countKeys(view),
          deadLetters: (topic) => deadLetterCounts.ofTopic(topic),
        },
        health: {
          postgres: () => pool.query('SELECT 1'),
          redis: () => online.ping(),
          kafka: () => stream.ping(),
        },
      });
      // Closed first: in-flight requests finish before the stores they read go away.
      opened.push(() => app.close());
      const address = await app.listen({ port: config.port, host: config.host }).catch((error: unknown) => {
        throw listenError(error, config.host, config.port, 'PORT');
      });
      logger.info({ address, auth: config.apiKeys.length > 0 }, 'serving');
      // Runs until a signal; onShutdown exits the process.
      await new Promise<never>(() => undefined);
      return 0;
    } catch (error) {
      const code = reportError('serve', error);
      await closeQuietly(opened);
      return code;
    }
  }),
};
