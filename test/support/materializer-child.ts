/**
 * A materializer in a process of its own, for tests that kill it with SIGKILL mid-stream.
 * Reads the services from the usual variables and the test's names from TEST_*.
 */
import { Registry } from 'prom-client';
import { driverSpec, staticDefinitions } from '../../fixtures/driver-spec.ts';
import { Materializer } from '../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../services/materializer/metrics.ts';
import { createLogger } from '../../shared/logger.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import { onlineTarget, RedisOnlineStore } from '../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../shared/stream/kafka.ts';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const logger = createLogger('materializer-child', 'warn');
const offline = new PostgresOfflineStore({
  connectionString: env('DATABASE_URL'),
  schema: env('TEST_SCHEMA'),
});
// REDIS_CLUSTER_NODES, when set, puts the online store on a Redis Cluster instead of REDIS_URL.
const online = new RedisOnlineStore({
  ...onlineTarget({
    redisUrl: process.env.REDIS_URL ?? '',
    redisClusterNodes: process.env.REDIS_CLUSTER_NODES?.split(',').filter(Boolean) ?? [],
  }).connection,
  prefix: env('TEST_PREFIX'),
});
const materializer = new Materializer(
  {
    // TEST_SPEC: a whole RepoSpec as JSON, for tests of other repositories than the driver stats.
    definitions: staticDefinitions(
      process.env.TEST_SPEC ? JSON.parse(process.env.TEST_SPEC) : driverSpec(env('TEST_TOPIC')),
    ),
    stream: new KafkaEventStream(env('KAFKA_BROKERS').split(',')),
    offline,
    online,
    metrics: createMaterializerMetrics(new Registry()),
    logger,
  },
  { groupPrefix: env('TEST_GROUP') },
);
await materializer.start();
process.stdout.write('started\n');
