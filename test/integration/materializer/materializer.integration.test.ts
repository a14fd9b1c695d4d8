import { type ChildProcess, spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { driverHourlyStats, driverSpec, staticDefinitions } from '../../../fixtures/driver-spec.ts';
import { Materializer, TARGET_HEADER } from '../../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../../services/materializer/metrics.ts';
import type { RepoSpec } from '../../../shared/definitions/types.ts';
import { createLogger, type Logger } from '../../../shared/logger.ts';
import { viewLayout } from '../../../shared/model/layout.ts';
import type { StaticDefinitions } from '../../../shared/registry/live.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type {
  IncomingMessage,
  OutgoingMessage,
  StreamAdmin,
  StreamProducer,
} from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';
import { TcpProxy } from '../../support/tcp-proxy.ts';

const logger = createLogger('test', 'silent');
const T0 = Date.parse('2026-11-20T10:00:00Z');
const HOUR = 3_600_000;

interface Harness {
  topic: string;
  schema: string;
  prefix: string;
  group: string;
  spec: RepoSpec;
  offline: PostgresOfflineStore;
  online: RedisOnlineStore;
  materializer: Materializer | undefined;
}

describe('materializer on real Kafka, Postgres and Redis', () => {
  let stream: KafkaEventStream;
  let admin: StreamAdmin;
  let producer: StreamProducer;
  let db: pg.Client;
  const cleanups: (() => Promise<unknown>)[] = [];
  const topics: string[] = [];

  beforeAll(async () => {
    stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
    admin = await stream.admin();
    producer = await stream.producer();
    db = new pg.Client({ connectionString: services().DATABASE_URL });
    await db.connect();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  afterAll(async () => {
    await producer.close();
    await admin.deleteTopics(topics);
    await admin.close();
    await db.end();
  });

  async function harness(
    options: { databaseUrl?: string; redisUrl?: string; ttlMs?: number; partitions?: number } = {},
  ): Promise<Harness> {
    const topic = uniqueName('drivers');
    const schema = uniqueName('offline');
    const prefix = uniqueName('online');
    await admin.ensureTopics([{ topic, partitions: options.partitions ?? 1 }, { topic: `${topic}.dlq` }]);
    const h: Harness = {
      topic,
      schema,
      prefix,
      group: uniqueName('mat'),
      spec: driverSpec(topic, options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
      offline: new PostgresOfflineStore({
        connectionString: options.databaseUrl ?? services().DATABASE_URL,
        schema,
      }),
      online: new RedisOnlineStore({ url: options.redisUrl ?? services().REDIS_URL, prefix }),
      materializer: undefined,
    };
    cleanups.push(async () => {
      await h.materializer?.stop();
      await h.offline.close();
      await h.online.close();
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      // Deleted at the end: kafkajs's shared producer keeps refreshing metadata of topics it wrote to.
      topics.push(topic, `${topic}.dlq`);
    });
    return h;
  }

  async function start(
    h: Harness,
    start?: { from: 'beginning' },
    definitions: StaticDefinitions = staticDefinitions(h.spec),
    observed: { logger?: Logger; metrics?: ReturnType<typeof createMaterializerMetrics> } = {},
  ): Promise<Materializer> {
    const materializer = new Materializer(
      {
        definitions,
        stream,
        offline: h.offline,
        online: h.online,
        metrics: observed.metrics ?? createMaterializerMetrics(new Registry()),
        logger: observed.logger ?? logger,
      },
      { groupPrefix: h.group, ...(start ? { start } : {}) },
    );
    await materializer.start();
    h.materializer = materializer;
    return materializer;
  }

  function event(driverId: number, at: number, fields: Record<string, unknown> = {}): OutgoingMessage {
    return {
      key: String(driverId),
      value: JSON.stringify({
        driver_id: driverId,
        event_timestamp: new Date(at).toISOString(),
        conv_rate: 0.5,
        acc_rate: 0.9,
        avg_daily_trips: 10,
        ...fields,
      }),
    };
  }

  async function offlineCount(h: Harness): Promise<number> {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${h.schema}"."driver_hourly_stats"`);
    return rows[0].n as number;
  }

  async function onlineRecord(h: Harness, driverId: number) {
    const view = viewLayout(h.spec.featureViews[0]!, h.spec.entities);
    const [[record]] = (await h.online.read([{ view, keys: [[BigInt(driverId)]] }])) as [[unknown]];
    return record as { eventTimestamp: number; created: number | null; values: unknown[] } | null;
  }

  async function caughtUp(materializer: Materializer) {
    await expect.poll(() => materializer.lag(), { timeout: 30_000, interval: 200 }).toBe(0);
  }

  it('keeps the latest value by event time, then created, whatever the arrival order', async () => {
    const h = await harness();
    await producer.send(h.topic, [
      event(1, T0, { conv_rate: 0.1 }),
      event(1, T0 + 2 * HOUR, { conv_rate: 0.3, created: T0 + 5 }),
      event(1, T0 + HOUR, { conv_rate: 0.2 }), // late and older: must not win
      event(1, T0 + 2 * HOUR, { conv_rate: 0.4, created: T0 + 3 }), // tie on time, older created
      event(1, T0 + 2 * HOUR, { conv_rate: 0.45 }), // tie on time, no created: loses to any created
      event(2, T0, { conv_rate: 0.7, avg_daily_trips: 9_007_199_254_740_993n.toString() }),
    ]);
    const materializer = await start(h);
    await caughtUp(materializer);

    expect(await offlineCount(h)).toBe(6);
    const one = await onlineRecord(h, 1);
    expect(one?.eventTimestamp).toBe(T0 + 2 * HOUR);
    expect(one?.created).toBe(T0 + 5);
    expect(one?.values[0]).toBe(0.3);
    const two = await onlineRecord(h, 2);
    expect(two?.values).toEqual([0.7, 0.9, 9_007_199_254_740_993n]);
  });

  it('follows a new registry version without a restart: a feature added to the view is materialized', async () => {
    const h = await harness();
    const definitions = staticDefinitions(h.spec);
    const materializer = await start(h, undefined, definitions);
    await producer.send(h.topic, [event(1, T0, { conv_rate: 0.1, rating: 4.5 })]);
    await caughtUp(materializer);

    const [view] = h.spec.featureViews;
    const extended: RepoSpec = {
      ...h.spec,
      featureViews: [{ ...view!, schema: [...view!.schema, { name: 'rating', type: 'float64' }] }],
    };
    h.spec = extended;
    definitions.set(extended);
    await producer.send(h.topic, [event(1, T0 + HOUR, { conv_rate: 0.2, rating: 4.75 })]);
    await expect.poll(async () => (await onlineRecord(h, 1))?.values[3], { timeout: 30_000 }).toBe(4.75);
    // Committed means both stores hold it (online may land first).
    await caughtUp(materializer);
    const { rows } = await db.query(
      `SELECT rating FROM "${h.schema}"."driver_hourly_stats" ORDER BY event_timestamp`,
    );
    // The first event predates the new field: its column was added empty, the second one fills it.
    expect(rows).toEqual([{ rating: null }, { rating: 4.75 }]);
  });

  it('feeds every view of a topic from one parse, and dead-letters an unparseable message once', async () => {
    const h = await harness();
    const [stats] = h.spec.featureViews;
    h.spec = {
      ...h.spec,
      featureViews: [
        stats!,
        { ...driverHourlyStats({ features: ['avg_daily_trips'] }), name: 'driver_trips' },
      ],
    };
    await producer.send(h.topic, [
      event(1, T0, { avg_daily_trips: 7 }),
      event(1, T0, { driver_id: 'abc' }), // refused by both views
      { value: 'not json' }, // refused before any view sees it
    ]);
    const materializer = await start(h);
    await caughtUp(materializer);

    expect(await offlineCount(h)).toBe(1);
    const { rows } = await db.query(`SELECT avg_daily_trips FROM "${h.schema}"."driver_trips"`);
    expect(rows).toEqual([{ avg_daily_trips: '7' }]);

    const dlq = await stream.consumer({ groupId: uniqueName('dlq-reader'), topics: [`${h.topic}.dlq`] });
    cleanups.push(() => dlq.close());
    const letters: IncomingMessage[] = [];
    await dlq.run(async (batch) => {
      letters.push(...batch.messages);
    });
    await expect.poll(() => letters.length, { timeout: 20_000 }).toBe(3);
    const summary = letters
      .map(
        (l) =>
          `${l.headers['x-tributary-source-offset']} ${l.headers['x-tributary-error-code']} ${l.headers['x-tributary-feature-view'] ?? '-'}`,
      )
      .sort();
    expect(summary).toEqual([
      '1 TRIB_WRONG_TYPE driver_hourly_stats',
      '1 TRIB_WRONG_TYPE driver_trips',
      '2 TRIB_DECODE_FAILED -',
    ]);
  });

  it('adds no offline row when a topic is replayed from the beginning', async () => {
    const h = await harness({ partitions: 3 });
    await producer.send(
      h.topic,
      Array.from({ length: 300 }, (_, i) => event(i % 30, T0 + i * 1000)),
    );
    const first = await start(h);
    await caughtUp(first);
    expect(await offlineCount(h)).toBe(300);
    await first.stop();

    const replay = await start(h, { from: 'beginning' });
    await caughtUp(replay);
    expect(await offlineCount(h)).toBe(300);
    const { rows } = await db.query(
      `SELECT count(DISTINCT (_partition, _offset))::int AS n FROM "${h.schema}"."driver_hourly_stats"`,
    );
    expect(rows[0].n).toBe(300);
  });

  it('dead-letters each class of bad input with its reason and keeps consuming', async () => {
    const h = await harness();
    const bad: [string, OutgoingMessage][] = [
      ['TRIB_DECODE_FAILED', { value: Buffer.from([0xff, 0xfe, 0x00]) }],
      ['TRIB_DECODE_FAILED', { value: '{"driver_id": 1,' }],
      ['TRIB_NOT_AN_OBJECT', { value: '[1, 2, 3]' }],
      ['TRIB_MESSAGE_EMPTY', { value: '' }],
      ['TRIB_MESSAGE_TOO_LARGE', { value: JSON.stringify({ driver_id: 1, pad: 'x'.repeat(1_100_000) }) }],
      ['TRIB_MISSING_FIELD', { value: JSON.stringify({ event_timestamp: T0, conv_rate: 0.1 }) }],
      ['TRIB_WRONG_TYPE', event(1, T0, { driver_id: 'abc' })],
      ['TRIB_WRONG_TYPE', event(1, T0, { driver_id: 2.5 })],
      ['TRIB_WRONG_TYPE', event(1, T0, { conv_rate: 'high' })],
      ['TRIB_WRONG_TYPE', event(1, T0, { avg_daily_trips: 2.5 })],
      ['TRIB_NOT_FINITE', { value: `{"driver_id": 1, "event_timestamp": ${T0}, "conv_rate": 1e400}` }],
      ['TRIB_BAD_TIMESTAMP', event(1, T0, { event_timestamp: 'yesterday' })],
      ['TRIB_BAD_TIMESTAMP', event(1, T0, { event_timestamp: '3026-01-01T00:00:00Z' })],
      ['TRIB_WRONG_TYPE', { value: event(1, T0).value, headers: { [TARGET_HEADER]: 'everywhere' } }],
    ];
    await producer.send(h.topic, [...bad.map(([, m]) => m), event(7, T0, { conv_rate: 0.77 })]);
    const materializer = await start(h);
    await caughtUp(materializer);

    // The good message after all the bad ones made it.
    expect((await onlineRecord(h, 7))?.values[0]).toBe(0.77);
    expect(await offlineCount(h)).toBe(1);

    const dlq = await stream.consumer({ groupId: uniqueName('dlq-reader'), topics: [`${h.topic}.dlq`] });
    cleanups.push(() => dlq.close());
    const letters: IncomingMessage[] = [];
    await dlq.run(async (batch) => {
      letters.push(...batch.messages);
    });
    await expect.poll(() => letters.length, { timeout: 20_000 }).toBe(bad.length);
    letters.sort(
      (a, b) =>
        Number(a.headers['x-tributary-source-offset']) - Number(b.headers['x-tributary-source-offset']),
    );
    expect(letters.map((l) => l.headers['x-tributary-error-code'])).toEqual(bad.map(([code]) => code));
    for (const [i, letter] of letters.entries()) {
      expect(letter.headers['x-tributary-source-topic']).toBe(h.topic);
      expect(letter.headers['x-tributary-source-partition']).toBe('0');
      expect(letter.headers['x-tributary-source-offset']).toBe(String(i));
      expect(letter.headers['x-tributary-reason']?.length).toBeGreaterThan(5);
    }
    // The original bytes are kept, so a fixed message can be replayed.
    expect(letters[0]?.value).toEqual(Buffer.from([0xff, 0xfe, 0x00]));
  });

  it.each(['postgres', 'redis'] as const)(
    'pauses through a %s outage and ends with exact counts',
    async (store) => {
      const url = store === 'postgres' ? services().DATABASE_URL : services().REDIS_URL;
      const target = TcpProxy.forUrl(url);
      const proxy = await new TcpProxy(target.host, target.port).start();
      cleanups.push(() => proxy.close());
      const proxied = new URL(url);
      proxied.port = String(proxy.port);
      const h = await harness(
        store === 'postgres' ? { databaseUrl: proxied.href } : { redisUrl: proxied.href },
      );
      // What the operator reads during the outage: one line when it starts, one when it ends.
      const out = new PassThrough();
      let logged = '';
      out.on('data', (chunk: Buffer) => {
        logged += chunk.toString();
      });
      const metrics = createMaterializerMetrics(new Registry());
      const retries = async () =>
        (await metrics.storeRetries.get()).values.reduce((sum, v) => sum + v.value, 0);
      const materializer = await start(h, undefined, undefined, {
        logger: createLogger('test', 'info', { format: 'json', destination: out }),
        metrics,
      });

      await producer.send(
        h.topic,
        Array.from({ length: 100 }, (_, i) => event(i, T0 + i)),
      );
      await caughtUp(materializer);
      proxy.cut();
      await producer.send(
        h.topic,
        Array.from({ length: 100 }, (_, i) => event(i, T0 + HOUR + i, { conv_rate: 0.25 })),
      );
      // While the store is down nothing of the second half is committed, and health says why.
      await expect.poll(() => materializer.health().ok, { timeout: 15_000 }).toBe(false);
      expect(await materializer.lag()).toBe(100);
      // Several retries, each counted by the metric, before the store comes back.
      await expect.poll(retries, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
      proxy.restore();
      await caughtUp(materializer);

      const written = store === 'postgres' ? 'offline' : 'online';
      const entries = logged
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((e) => e['target'] === written);
      expect(entries.map((e) => e['level'])).toEqual(['warn', 'info']);
      expect(entries[0]!['msg']).toMatch(
        store === 'postgres' ? /Postgres at DATABASE_URL/ : /Redis at REDIS_URL/,
      );
      expect(entries[1]).toMatchObject({ failedAttempts: await retries() });
      expect(materializer.health().ok).toBe(true);
      expect(await offlineCount(h)).toBe(200);
      for (const id of [0, 42, 99]) expect((await onlineRecord(h, id))?.values[0]).toBe(0.25);
    },
  );

  it('loses and duplicates nothing across a kill -9 and a restart', async () => {
    const h = await harness({ partitions: 2 });
    const total = 20_000;
    const drivers = 500;
    const spawnChild = (): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', 'test/support/materializer-child.ts'], {
        env: {
          ...process.env,
          ...services(),
          TEST_TOPIC: h.topic,
          TEST_SCHEMA: h.schema,
          TEST_PREFIX: h.prefix,
          TEST_GROUP: h.group,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const chunks = 40;
    const size = total / chunks;
    const produceChunk = (b: number) =>
      producer.send(
        h.topic,
        Array.from({ length: size }, (_, i) => {
          const n = b * size + i;
          return event(n % drivers, T0 + n * 1000, { avg_daily_trips: n });
        }),
      );
    const first = spawnChild();
    cleanups.push(async () => first.kill('SIGKILL'));
    // Events keep arriving while the materializer works; it is killed hard once rows have
    // landed, with batches in flight and most of the stream still to come.
    let produced = 0;
    while (produced < chunks / 2) {
      await produceChunk(produced++);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (produced >= 5 && (await offlineCount(h).catch(() => 0)) > 0) break;
    }
    // A slow start (tsx, joining the group) may not have written anything yet: wait for it.
    await expect
      .poll(() => offlineCount(h).catch(() => 0), { timeout: 60_000, interval: 20 })
      .toBeGreaterThan(0);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    // At most the first half was produced: the kill came before the stream ended.
    expect(await offlineCount(h)).toBeLessThan(total);
    while (produced < chunks) await produceChunk(produced++);

    const second = spawnChild();
    cleanups.push(async () => second.kill('SIGKILL'));
    await expect.poll(() => offlineCount(h), { timeout: 60_000, interval: 200 }).toBe(total);
    const { rows } = await db.query(
      `SELECT count(DISTINCT avg_daily_trips)::int AS n FROM "${h.schema}"."driver_hourly_stats"`,
    );
    expect(rows[0].n).toBe(total);
    // Online: each driver's latest event is the last one produced for it.
    for (const id of [0, 1, 250, drivers - 1]) {
      const last = total - drivers + id;
      expect((await onlineRecord(h, id))?.values[2]).toBe(BigInt(last));
    }
  });
});
