/**
 * Dead letters never stall a partition: letters that together exceed the broker's request
 * limit go out in bounded requests, and a letter too large for its dead-letter topic is
 * published cut to fit, with the original's size and sha256 — on the real broker.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSpec, staticDefinitions } from '../../../fixtures/driver-spec.ts';
import { killAndWait, startKafka } from '../../../scripts/services.ts';
import { Materializer } from '../../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../../services/materializer/metrics.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { DLQ_HEADERS } from '../../../shared/events/dead-letter.ts';
import { createLogger } from '../../../shared/logger.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { DEFAULT_SEND_TIMEOUT_MS, KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { IncomingMessage } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';

const T0 = Date.parse('2026-11-20T10:00:00Z');
/** The dead-letter topic takes records of at most this many bytes: a 900 KB letter does not fit. */
const DLQ_MAX_MESSAGE_BYTES = 300_000;

describe('materializer dead letters on the real broker', () => {
  const topic = uniqueName('dlq_src');
  const schema = uniqueName('offline');
  const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
  let offline: PostgresOfflineStore;
  let online: RedisOnlineStore;
  let db: pg.Client;

  beforeAll(async () => {
    const admin = await stream.admin();
    await admin.ensureTopics([
      { topic },
      { topic: `${topic}.dlq`, config: { 'max.message.bytes': String(DLQ_MAX_MESSAGE_BYTES) } },
    ]);
    await admin.close();
    offline = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema });
    online = new RedisOnlineStore({ url: services().REDIS_URL, prefix: uniqueName('online') });
    db = new pg.Client({ connectionString: services().DATABASE_URL });
    await db.connect();
  });
  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
    await offline.close();
    await online.close();
    const admin = await stream.admin();
    await admin.deleteTopics([topic, `${topic}.dlq`]);
    await admin.close();
  });

  it('publishes three 900 KB letters of one batch, cut to fit, and commits the valid events behind them', async () => {
    // Not JSON: each one is dead-lettered with its whole payload, 2.7 MB in all.
    const big = Array.from(
      { length: 3 },
      (_, i) => `{"driver_id": ${i}, "junk": "${String(i).repeat(900_000)}`,
    );
    const valid = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ driver_id: i % 5, event_timestamp: T0 + i * 1000, conv_rate: i / 100 }),
    );
    const producer = await stream.producer();
    // One request each, so they reach the broker (and the consumer) together in one batch.
    for (const value of big) await producer.send(topic, [{ key: '0', value, partition: 0 }]);
    await producer.send(
      topic,
      valid.map((value) => ({ key: '0', value, partition: 0 })),
    );
    await producer.close();

    const { materializer, metrics } = await materializeFromBeginning(topic, { stream, offline, online });
    try {
      const count = () => offlineRows(db, schema);
      await expect.poll(count, { timeout: 60_000, interval: 500 }).toBe(50);
      await expect.poll(() => materializer.lag(), { timeout: 30_000 }).toBe(0);
      const counted = (await metrics.deadLetters.get()).values.reduce((sum, v) => sum + v.value, 0);
      expect(counted).toBe(3);
    } finally {
      await materializer.stop();
    }

    const letters = await readAll(stream, `${topic}.dlq`, 3);
    expect(letters).toHaveLength(3);
    for (const letter of letters) {
      const original = big.find((b) => b.startsWith(letter.value!.toString().slice(0, 16)))!;
      expect(original, 'a letter per undecodable message').toBeDefined();
      expect(letter.value!.length).toBeLessThan(DLQ_MAX_MESSAGE_BYTES);
      expect(original.startsWith(letter.value!.toString())).toBe(true);
      expect(letter.headers[DLQ_HEADERS.originalSize]).toBe(String(Buffer.byteLength(original)));
      expect(letter.headers[DLQ_HEADERS.originalSha256]).toBe(
        createHash('sha256').update(original).digest('hex'),
      );
      expect(letter.headers[DLQ_HEADERS.errorCode]).toBe('TRIB_DECODE_FAILED');
    }
    expect(new Set(letters.map((l) => l.headers[DLQ_HEADERS.sourceOffset]))).toEqual(
      new Set(['0', '1', '2']),
    );
  }, 120_000);
});

describe('a dead letter the dead-letter topic refuses for good', () => {
  const topic = uniqueName('dlq_refused');
  const schema = uniqueName('offline');
  const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
  let offline: PostgresOfflineStore;
  let online: RedisOnlineStore;
  let db: pg.Client;

  beforeAll(async () => {
    const admin = await stream.admin();
    // A compacted topic refuses a record without a key (INVALID_RECORD): no retry can help.
    await admin.ensureTopics([{ topic }, { topic: `${topic}.dlq`, config: { 'cleanup.policy': 'compact' } }]);
    await admin.close();
    offline = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema });
    online = new RedisOnlineStore({ url: services().REDIS_URL, prefix: uniqueName('online') });
    db = new pg.Client({ connectionString: services().DATABASE_URL });
    await db.connect();
  });
  afterAll(async () => {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
    await offline.close();
    await online.close();
    const admin = await stream.admin();
    await admin.deleteTopics([topic, `${topic}.dlq`]);
    await admin.close();
  });

  it('does not stall the partition: valid events behind it land and are committed, the refusal is counted', async () => {
    const producer = await stream.producer();
    // Keyless and undecodable: its letter keeps the null key, which the compacted DLQ refuses.
    await producer.send(topic, [{ key: null, value: '{"driver_id": 1, "oops', partition: 0 }]);
    // Keyed and undecodable: its letter is accepted.
    await producer.send(topic, [{ key: '7', value: 'not json', partition: 0 }]);
    const valid = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ driver_id: i % 5, event_timestamp: T0 + i * 1000, conv_rate: i / 100 }),
    );
    await producer.send(
      topic,
      valid.map((value) => ({ key: '0', value, partition: 0 })),
    );
    await producer.close();

    const { materializer, metrics } = await materializeFromBeginning(topic, { stream, offline, online });
    try {
      const count = () => offlineRows(db, schema);
      await expect.poll(count, { timeout: 60_000, interval: 500 }).toBe(20);
      await expect.poll(() => materializer.lag(), { timeout: 30_000 }).toBe(0);
      const sum = async (metric: { get(): Promise<{ values: { value: number; labels: object }[] }> }) =>
        (await metric.get()).values.reduce((total, v) => total + v.value, 0);
      expect(await sum(metrics.deadLetters)).toBe(1);
      const unpublished = (await metrics.deadLettersUnpublished.get()).values;
      expect(unpublished).toEqual([
        expect.objectContaining({
          value: 1,
          labels: { source: expect.any(String), code: 'TRIB_STREAM_REFUSED' },
        }),
      ]);
      expect(materializer.health().ok).toBe(true);
    } finally {
      await materializer.stop();
    }
    const letters = await readAll(stream, `${topic}.dlq`, 1);
    expect(letters.map((l) => [l.key?.toString(), l.headers[DLQ_HEADERS.sourceOffset]])).toEqual([
      ['7', '1'],
    ]);
  }, 120_000);
});

describe('producing with the broker gone', () => {
  it('fails within the send timeout with the retriable TRIB_STREAM_UNAVAILABLE (what /push answers as 503)', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'tributary-gone-'));
    const broker = await startKafka(runDir);
    try {
      // A timeout shorter than the default: the option is honoured.
      const own = new KafkaEventStream([`127.0.0.1:${broker.port}`], undefined, { sendTimeoutMs: 2_000 });
      const admin = await own.admin();
      await admin.ensureTopics([{ topic: 'gone' }]);
      await admin.close();
      const producer = await own.producer();
      await producer.send('gone', [{ key: null, value: '{}' }]);
      await killAndWait(broker.pid, 30_000);
      const started = Date.now();
      const error = await producer.send('gone', [{ key: null, value: '{}' }]).catch((e: unknown) => e);
      const took = Date.now() - started;
      expect(isTributaryError(error, 'TRIB_STREAM_UNAVAILABLE'), String(error)).toBe(true);
      expect(took).toBeLessThan(2_000 + 1_500);
      expect(DEFAULT_SEND_TIMEOUT_MS).toBeLessThanOrEqual(5_000);
      await producer.close().catch(() => undefined);
    } finally {
      await killAndWait(broker.pid).catch(() => undefined);
      rmSync(runDir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** A materializer of the driver spec on `topic`, started from its first offset. */
async function materializeFromBeginning(
  topic: string,
  deps: { stream: KafkaEventStream; offline: PostgresOfflineStore; online: RedisOnlineStore },
) {
  const metrics = createMaterializerMetrics(new Registry());
  const materializer = new Materializer(
    {
      definitions: staticDefinitions(driverSpec(topic)),
      ...deps,
      metrics,
      logger: createLogger('test', 'silent'),
    },
    { groupPrefix: uniqueName('mat'), start: { from: 'beginning' } },
  );
  await materializer.start();
  return { materializer, metrics };
}

/** Rows in the offline table; 0 until the materializer has created it. */
async function offlineRows(db: pg.Client, schema: string): Promise<number> {
  const result = await db
    .query(`SELECT count(*)::int AS n FROM "${schema}"."driver_hourly_stats"`)
    .catch(() => ({ rows: [{ n: 0 }] }));
  return result.rows[0].n;
}

async function readAll(
  stream: KafkaEventStream,
  topic: string,
  expected: number,
): Promise<IncomingMessage[]> {
  const consumer = await stream.consumer({
    groupId: uniqueName('reader'),
    topics: [topic],
    start: { from: 'beginning' },
  });
  const messages: IncomingMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${messages.length} of ${expected} from ${topic}`)),
        30_000,
      );
      void consumer.run(async (batch) => {
        messages.push(...batch.messages);
        if (messages.length >= expected) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await consumer.close();
  }
  return messages;
}
