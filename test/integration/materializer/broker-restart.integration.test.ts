/**
 * The materializer through a broker restart: a broker of its own (the shared one serves other
 * test files), stopped and started again on the same port and data while the materializer runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSpec, staticDefinitions } from '../../../fixtures/driver-spec.ts';
import { type KafkaProcess, killAndWait, launchKafka, startKafka } from '../../../scripts/services.ts';
import { Materializer } from '../../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../../services/materializer/metrics.ts';
import { createLogger } from '../../../shared/logger.ts';
import { viewLayout } from '../../../shared/model/layout.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { OutgoingMessage } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';

const T0 = Date.parse('2026-11-20T10:00:00Z');
const DRIVERS = 20;

function events(from: number, count: number): OutgoingMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    return {
      key: String(n % DRIVERS),
      value: JSON.stringify({ driver_id: n % DRIVERS, event_timestamp: T0 + n * 1000, conv_rate: n / 1000 }),
    };
  });
}

describe('materializer across a broker restart', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'tributary-broker-'));
  const topic = uniqueName('restart');
  const schema = uniqueName('offline');
  const spec = driverSpec(topic);
  const view = viewLayout(spec.featureViews[0]!, spec.entities);
  let broker: KafkaProcess;
  let stream: KafkaEventStream;
  let offline: PostgresOfflineStore;
  let online: RedisOnlineStore;
  let db: pg.Client;

  beforeAll(async () => {
    broker = await startKafka(runDir);
    stream = new KafkaEventStream([`127.0.0.1:${broker.port}`]);
    offline = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema });
    online = new RedisOnlineStore({ url: services().REDIS_URL, prefix: uniqueName('online') });
    db = new pg.Client({ connectionString: services().DATABASE_URL });
    await db.connect();
  }, 90_000);
  afterAll(async () => {
    await killAndWait(broker.pid);
    rmSync(runDir, { recursive: true, force: true });
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
    await offline.close();
    await online.close();
  });

  async function offlineCount(): Promise<number> {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}"."driver_hourly_stats"`);
    return rows[0].n;
  }

  async function latestConvRate(driver: number): Promise<unknown> {
    const records = await online.read([{ view, keys: [[BigInt(driver)]] }]);
    return records[0]?.[0]?.values[0];
  }

  it('reconnects and ends with every event in both stores, none twice', async () => {
    const admin = await stream.admin();
    await admin.ensureTopics([{ topic, partitions: 2 }, { topic: `${topic}.dlq` }]);
    await admin.close();
    const materializer = new Materializer(
      {
        definitions: staticDefinitions(spec),
        stream,
        offline,
        online,
        metrics: createMaterializerMetrics(new Registry()),
        logger: createLogger('test', 'silent'),
      },
      { groupPrefix: uniqueName('mat') },
    );
    await materializer.start();
    try {
      let producer = await stream.producer();
      await producer.send(topic, events(0, 200));
      await expect.poll(offlineCount, { timeout: 20_000 }).toBe(200);
      await producer.close();

      // A clean stop (SIGTERM), a pause, and the same broker back on the same port and data.
      await killAndWait(broker.pid, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      broker = await launchKafka(runDir, broker.port);

      producer = await stream.producer();
      await producer.send(topic, events(200, 200));
      await producer.close();
      await expect.poll(offlineCount, { timeout: 60_000, interval: 500 }).toBe(400);
      await expect.poll(() => materializer.lag(), { timeout: 30_000 }).toBe(0);
      expect(await offlineCount()).toBe(400);
      const { rows } = await db.query(
        `SELECT count(DISTINCT (_partition, _offset))::int AS n FROM "${schema}"."driver_hourly_stats"`,
      );
      expect(rows[0].n).toBe(400);
      // Each driver's latest event is the one from after the restart.
      for (const driver of [0, 7, 19]) expect(await latestConvRate(driver)).toBe((380 + driver) / 1000);
      expect(materializer.health().ok).toBe(true);
    } finally {
      await materializer.stop();
    }
  }, 180_000);
});
