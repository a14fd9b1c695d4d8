/**
 * A stream feature view from Kafka to both stores, on real Kafka, Postgres and Redis: random
 * trips (late events, ties of event time, nulls, three partitions) materialized once, and
 * across a kill -9 of the materializer, give online aggregates equal bit for bit to the brute
 * force over the events, and every event exactly once in the offline table; the serving route
 * answers them like any other feature.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { staticDefinitions, tripsSpec } from '../../../fixtures/driver-spec.ts';
import { rng } from '../../../fixtures/random.ts';
import { Materializer } from '../../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../../services/materializer/metrics.ts';
import { aggregateEvents, type ReferenceEvent } from '../../../shared/aggregations/index.ts';
import type { RepoSpec, StreamFeatureViewSpec } from '../../../shared/definitions/types.ts';
import { createLogger } from '../../../shared/logger.ts';
import { type ViewLayout, viewLayout } from '../../../shared/model/layout.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { OutgoingMessage, StreamAdmin, StreamProducer } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';
import { onlineApp } from '../../support/online-app.ts';

const logger = createLogger('test', 'silent');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PARTITIONS = 3;

interface Trip {
  driver: number;
  ts: number;
  created: number | null;
  fare: number | null;
  rating: number | null;
}

/** Trips over the last 8 days in arrival order: a fifth late by up to 3 h, ties, nulls. */
function trips(seed: number, size: number, drivers: number): Trip[] {
  const random = rng(seed);
  const now = Date.now();
  const out: Trip[] = [];
  for (let i = 0; i < size; i++) {
    let ts = now - 8 * DAY + Math.floor(((8 * DAY - 60_000) * i) / size);
    if (random() < 0.2) ts -= Math.floor(random() * 3 * HOUR);
    if (random() < 0.1 && out.length > 0) ts = out[out.length - 1]!.ts;
    out.push({
      driver: 1 + Math.floor(random() * drivers),
      ts,
      created: random() < 0.3 ? null : ts + Math.floor(random() * 1000),
      fare: random() < 0.1 ? null : Math.round(random() * 10_000) / 100,
      rating: random() < 0.15 ? null : 1 + Math.floor(random() * 5),
    });
  }
  return out;
}

const message = (trip: Trip): OutgoingMessage => ({
  key: String(trip.driver),
  value: JSON.stringify({
    driver_id: trip.driver,
    event_timestamp: new Date(trip.ts).toISOString(),
    ...(trip.created === null ? {} : { created: new Date(trip.created).toISOString() }),
    fare: trip.fare,
    rating: trip.rating,
  }),
});

describe('stream feature views: Kafka → materializer → Redis tiles and Postgres events', () => {
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

  async function setUp() {
    const topic = uniqueName('trips');
    const schema = uniqueName('offline');
    const prefix = uniqueName('online');
    await admin.ensureTopics([{ topic, partitions: PARTITIONS }, { topic: `${topic}.dlq` }]);
    const spec: RepoSpec = tripsSpec(topic);
    const view = spec.streamFeatureViews![0]!;
    const offline = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema });
    const online = new RedisOnlineStore({ url: services().REDIS_URL, prefix });
    cleanups.push(async () => {
      await offline.close();
      await online.close();
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      topics.push(topic, `${topic}.dlq`);
    });
    return { topic, schema, prefix, group: uniqueName('mat'), spec, view, offline, online };
  }

  async function offlineCount(schema: string): Promise<number> {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}"."driver_trip_stats"`);
    return rows[0].n as number;
  }

  /** The events as the reference reads them, with the offsets the offline table recorded. */
  async function referenceEvents(schema: string): Promise<Map<number, ReferenceEvent[]>> {
    const { rows } = await db.query(
      `SELECT driver_id::int AS driver, (extract(epoch from event_timestamp) * 1000)::float8 AS ts,
              (extract(epoch from created) * 1000)::float8 AS created, _offset::float8 AS offset, fare, rating::text
         FROM "${schema}"."driver_trip_stats"`,
    );
    const byDriver = new Map<number, ReferenceEvent[]>();
    for (const r of rows) {
      const event: ReferenceEvent = {
        ts: Math.round(r.ts),
        created: r.created === null ? null : Math.round(r.created),
        offset: r.offset,
        values: { fare: r.fare, rating: r.rating === null ? null : BigInt(r.rating) },
      };
      const list = byDriver.get(r.driver) ?? [];
      list.push(event);
      byDriver.set(r.driver, list);
    }
    return byDriver;
  }

  /** Online values at `t` of every driver, each equal to the brute force over its events. */
  async function expectOnlineExact(
    online: RedisOnlineStore,
    view: StreamFeatureViewSpec,
    layout: ViewLayout,
    events: Map<number, ReferenceEvent[]>,
    drivers: number,
  ): Promise<number> {
    const t = Date.now();
    const keys = Array.from({ length: drivers }, (_, i) => [BigInt(i + 1)]);
    const [records] = await online.read([{ view: layout, keys }], { at: t });
    const mismatches: string[] = [];
    let compared = 0;
    records!.forEach((record, i) => {
      const mine = events.get(i + 1) ?? [];
      view.aggregations.forEach((a, k) => {
        let want: unknown = aggregateEvents(mine, a, t);
        if (a.type === 'int64' && typeof want === 'number') want = BigInt(want);
        const got = record?.values[k];
        if (!Object.is(got, want) && !(got === 0 && want === 0)) {
          mismatches.push(`driver ${i + 1} ${a.name}: online ${String(got)}, reference ${String(want)}`);
        }
        compared++;
      });
    });
    expect(mismatches).toEqual([]);
    return compared;
  }

  it('online aggregates equal the brute force; every event once offline; serving answers them', async () => {
    const s = await setUp();
    const drivers = 25;
    const all = trips(11, 4000, drivers);
    for (let i = 0; i < all.length; i += 500)
      await producer.send(s.topic, all.slice(i, i + 500).map(message));
    const materializer = new Materializer(
      {
        definitions: staticDefinitions(s.spec),
        stream,
        offline: s.offline,
        online: s.online,
        metrics: createMaterializerMetrics(new Registry()),
        logger,
      },
      { groupPrefix: s.group },
    );
    cleanups.push(() => materializer.stop());
    await materializer.start();
    await expect.poll(() => offlineCount(s.schema), { timeout: 60_000, interval: 200 }).toBe(all.length);
    await expect.poll(() => materializer.lag(), { timeout: 30_000, interval: 200 }).toBe(0);

    const layout = viewLayout(s.view, s.spec.entities);
    const events = await referenceEvents(s.schema);
    expect(await expectOnlineExact(s.online, s.view, layout, events, drivers)).toBe(
      drivers * s.view.aggregations.length,
    );

    // The serving route: aggregated features addressed like any other, with their statuses.
    const app = await onlineApp(s.spec, s.online);
    cleanups.push(() => app.close());
    const res = await app.inject({
      method: 'POST',
      url: '/get-online-features',
      payload: {
        features: ['driver_trip_stats:fare_count_1d', 'driver_trip_stats:last_rating'],
        entities: { driver_id: [1, 2, 999] },
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    const t = Date.now();
    const count = s.view.aggregations.find((a) => a.name === 'fare_count_1d')!;
    const last = s.view.aggregations.find((a) => a.name === 'last_rating')!;
    expect(body.metadata.feature_names).toEqual(['driver_id', 'fare_count_1d', 'last_rating']);
    for (const [i, driver] of [1, 2].entries()) {
      expect(body.results[1].values[i]).toBe(aggregateEvents(events.get(driver)!, count, t));
      expect(body.results[2].values[i]).toBe(Number(aggregateEvents(events.get(driver)!, last, t)));
      expect(body.results[1].statuses[i]).toBe('PRESENT');
    }
    // A driver with no events: not found, as for plain views.
    expect(body.results[1].statuses[2]).toBe('NOT_FOUND');
  });

  it('a materializer killed with kill -9 mid-stream counts no event twice', async () => {
    const s = await setUp();
    const drivers = 40;
    const all = trips(12, 12_000, drivers);
    const chunks = 24;
    const size = all.length / chunks;
    const produceChunk = (c: number) =>
      producer.send(s.topic, all.slice(c * size, (c + 1) * size).map(message));
    const spawnChild = (): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', 'test/support/materializer-child.ts'], {
        env: {
          ...process.env,
          ...services(),
          TEST_TOPIC: s.topic,
          TEST_SCHEMA: s.schema,
          TEST_PREFIX: s.prefix,
          TEST_GROUP: s.group,
          TEST_SPEC: JSON.stringify(s.spec),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const first = spawnChild();
    cleanups.push(async () => first.kill('SIGKILL'));
    let produced = 0;
    while (produced < chunks / 2) {
      await produceChunk(produced++);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (produced >= 4 && (await offlineCount(s.schema).catch(() => 0)) > 0) break;
    }
    await expect
      .poll(() => offlineCount(s.schema).catch(() => 0), { timeout: 60_000, interval: 20 })
      .toBeGreaterThan(0);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect(await offlineCount(s.schema)).toBeLessThan(all.length);
    while (produced < chunks) await produceChunk(produced++);

    const second = spawnChild();
    cleanups.push(async () => second.kill('SIGKILL'));
    await expect.poll(() => offlineCount(s.schema), { timeout: 90_000, interval: 200 }).toBe(all.length);
    // The offline table may be complete a moment before the last online write of the batch.
    const layout = viewLayout(s.view, s.spec.entities);
    const events = await referenceEvents(s.schema);
    await expect
      .poll(
        async () => {
          try {
            return await expectOnlineExact(s.online, s.view, layout, events, drivers);
          } catch {
            return -1;
          }
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(drivers * s.view.aggregations.length);
    await expectOnlineExact(s.online, s.view, layout, events, drivers);
  });
});
