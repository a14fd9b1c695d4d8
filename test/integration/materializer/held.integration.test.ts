/**
 * The materializer's retry policy on real Kafka, Postgres and Redis: a write that retrying cannot
 * fix holds its partition (reported in health and a metric) instead of being retried forever,
 * commits nothing, and after the operator fixes the cause and restarts, every row lands once.
 */
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, expect, it } from 'vitest';
import { driverSpec, staticDefinitions } from '../../../fixtures/driver-spec.ts';
import { Materializer } from '../../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../../services/materializer/metrics.ts';
import { createLogger } from '../../../shared/logger.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import { services, uniqueName } from '../../support/env.ts';

const T0 = Date.parse('2026-11-20T10:00:00Z');
const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
const db = new pg.Pool({ connectionString: services().DATABASE_URL, max: 1 });
const topic = uniqueName('drivers');
const schema = uniqueName('offline');
const offline = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema });
const online = new RedisOnlineStore({ url: services().REDIS_URL, prefix: uniqueName('online') });
afterAll(async () => {
  await offline.close();
  await online.close();
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
  const admin = await stream.admin();
  await admin.deleteTopics([topic, `${topic}.dlq`]);
  await admin.close();
});

function event(driverId: number, at: number) {
  return {
    key: String(driverId),
    value: JSON.stringify({
      driver_id: driverId,
      event_timestamp: new Date(at).toISOString(),
      conv_rate: 0.5,
      acc_rate: 0.9,
      avg_daily_trips: 10,
    }),
  };
}

it('holds a partition on an offline write Postgres refuses, says why, and lands every row once after a restart', async () => {
  const admin = await stream.admin();
  await admin.ensureTopics([{ topic }, { topic: `${topic}.dlq` }]);
  await admin.close();
  const producer = await stream.producer();
  const spec = driverSpec(topic);
  const group = uniqueName('mat');
  const materializer = (metrics = createMaterializerMetrics(new Registry())) =>
    new Materializer(
      {
        definitions: staticDefinitions(spec),
        stream,
        offline,
        online,
        metrics,
        logger: createLogger('test', 'silent'),
      },
      { groupPrefix: group, start: { from: 'beginning' } },
    );
  const count = async () =>
    Number((await db.query(`SELECT count(*) AS n FROM "${schema}".driver_hourly_stats`)).rows[0].n);

  const metrics = createMaterializerMetrics(new Registry());
  let running = materializer(metrics);
  await running.start();
  await producer.send(topic, [event(1, T0), event(2, T0)]);
  await expect.poll(count, { timeout: 30_000 }).toBe(2);

  // The view's table goes away by hand: its writes fail with 42P01, which no retry fixes. The
  // materializer used to retry it forever as a store outage.
  await db.query(`ALTER TABLE "${schema}".driver_hourly_stats RENAME TO aside`);
  await producer.send(topic, [event(3, T0)]);
  await expect
    .poll(() => running.health().held, { timeout: 30_000 })
    .toEqual([
      expect.objectContaining({ what: 'offline', code: 'TRIB_STORE_QUERY_FAILED', topic, partition: 0 }),
    ]);
  expect(running.health().ok).toBe(false);
  expect(running.health().held[0]!.message).toContain('42P01');
  expect((await metrics.held.get()).values).toEqual([
    expect.objectContaining({ value: 1, labels: expect.objectContaining({ target: 'offline', topic }) }),
  ]);
  expect((await metrics.storeRetries.get()).values).toEqual([]);

  // The operator puts the table back and restarts: the held batch was never committed.
  await db.query(`ALTER TABLE "${schema}".aside RENAME TO driver_hourly_stats`);
  await running.stop();
  running = materializer();
  await running.start();
  await expect.poll(count, { timeout: 30_000 }).toBe(3);
  await expect.poll(() => running.lag(), { timeout: 30_000 }).toBe(0);
  expect(await count()).toBe(3);
  expect(running.health()).toMatchObject({ ok: true, held: [] });
  await running.stop();
  await producer.close();
}, 120_000);
