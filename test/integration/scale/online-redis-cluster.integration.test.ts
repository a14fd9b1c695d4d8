/**
 * The online store on a Redis Cluster of the test's own (3 primaries from the Debian
 * redis-server package, scripts/services.ts): the OnlineStore port's suite, the cluster key
 * layout (every multi-key call within one slot, a lookup spread over all nodes in one round
 * trip per node), stream views' tiles equal to the brute force, and Kafka → materializer →
 * Redis Cluster → serving end to end with a plain and a stream view.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSpec, staticDefinitions, tripsSpec } from '../../../fixtures/driver-spec.ts';
import { rng } from '../../../fixtures/random.ts';
import {
  type RedisClusterNode,
  redisClusterNodesOf,
  startRedisCluster,
  stopRedisCluster,
} from '../../../scripts/services.ts';
import { Materializer } from '../../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../../services/materializer/metrics.ts';
import { aggregateEvents, type ReferenceEvent } from '../../../shared/aggregations/index.ts';
import type { AggregationSpec, RepoSpec } from '../../../shared/definitions/types.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { createLogger } from '../../../shared/logger.ts';
import { type ViewLayout, viewLayout } from '../../../shared/model/layout.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { ClusterScanClient } from '../../../shared/stores/online/cluster-scan.ts';
import { CLUSTER_BUCKETS, keySlot } from '../../../shared/stores/online/cluster-slots.ts';
import { RedisKeyCounter } from '../../../shared/stores/online/key-count.ts';
import { RedisOnlineStore, type RedisOnlineStoreOptions } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { StreamAdmin, StreamProducer } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';
import { onlineApp } from '../../support/online-app.ts';
import { closedPort } from '../stores/closed-port.ts';
import { describeOnlineStorePort, row, viewNamed } from '../stores/online-port.suite.ts';

const logger = createLogger('test', 'silent');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const runDir = mkdtempSync(path.join(os.tmpdir(), 'tributary-redis-cluster-'));
const prefix = uniqueName('cluster_online');

let nodes: RedisClusterNode[] = [];
let clusterNodes: string[] = [];
/** A client of the test's own, to look at keys and slots. */
let admin: Cluster;

beforeAll(async () => {
  nodes = await startRedisCluster(runDir, 3);
  clusterNodes = redisClusterNodesOf(nodes).split(',');
  admin = new Cluster(clusterNodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })));
  await new Promise((resolve) => admin.once('ready', resolve));
}, 60_000);

afterAll(async () => {
  admin?.disconnect();
  await stopRedisCluster(nodes);
  rmSync(runDir, { recursive: true, force: true });
});

const newStore = (options: Partial<RedisOnlineStoreOptions> = {}) =>
  new RedisOnlineStore({ clusterNodes, prefix, ttlGraceMs: 0, ...options });

describeOnlineStorePort('RedisOnlineStore on a Redis Cluster', {
  create: () => newStore(),
  unreachable: async () =>
    new RedisOnlineStore({ clusterNodes: [`127.0.0.1:${await closedPort()}`], prefix }),
});

describe('RedisOnlineStore on a Redis Cluster: layout and routing', () => {
  it('keys carry their bucket as hash tag; one entity shares a slot across views', () => {
    const store = newStore();
    try {
      const a = viewNamed('layout_a');
      const b = viewNamed('layout_b');
      const key = store.keyOf(a, [1001n]);
      expect(key).toMatch(new RegExp(`^${prefix}:layout_a:\\{(\\d+)\\}:1001$`));
      const bucket = Number(/\{(\d+)\}/.exec(key)![1]);
      expect(bucket).toBeLessThan(CLUSTER_BUCKETS);
      // The same entity of another view: the same tag, the same slot.
      expect(keySlot(store.keyOf(b, [1001n]))).toBe(keySlot(key));
      // 1001, '1001' and 1001n name one entity, and so one bucket.
      expect(store.keyOf(a, [1001])).toBe(key);
    } finally {
      void store.close();
    }
  });

  it('computes slots as the cluster does (CLUSTER KEYSLOT)', async () => {
    const store = newStore();
    try {
      const view = viewNamed('slots');
      for (let i = 0; i < 50; i++) {
        const key = store.keyOf(view, [BigInt(i * 7919)]);
        expect(keySlot(key)).toBe(Number(await admin.cluster('KEYSLOT', key)));
      }
      // Keys without a tag and odd tags, by Redis's rule.
      for (const key of ['plain', 'a{}b', '{x}y', 'a{b}{c}', 'é{ü}']) {
        expect(keySlot(key)).toBe(Number(await admin.cluster('KEYSLOT', key)));
      }
    } finally {
      await store.close();
    }
  });

  it('writes and reads 2,000 entities across all 3 nodes, every multi-key call within one slot', async () => {
    const store = newStore({ rowsPerCall: 50 });
    try {
      const view = viewNamed('spread');
      const rows = Array.from({ length: 2000 }, (_, i) => row([BigInt(i)], 1_000 + i, [i, i, BigInt(i)]));
      // Calls each primary ran, from its command stats (a call spanning slots would fail with
      // CROSSSLOT, so every write and read succeeding is the single-slot check itself).
      const calls = () =>
        Promise.all(
          admin.nodes('master').map(async (node) => {
            const stats = await node.info('commandstats');
            const count = (name: string) =>
              Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
            return { scripts: count('evalsha') + count('eval'), mgets: count('mget') };
          }),
        );
      const before = await calls();
      expect(await store.write(view, rows)).toBe(2000);
      const [records] = await store.read([{ view, keys: rows.map((r) => r.keys) }]);
      expect(records!.map((r) => r?.eventTimestamp)).toEqual(rows.map((r) => r.eventTimestamp));
      const [json] = await store.readJson([{ view, keys: rows.slice(0, 300).map((r) => r.keys) }]);
      expect(json!.map((r) => r?.eventTimestamp)).toEqual(rows.slice(0, 300).map((r) => r.eventTimestamp));
      // Every primary ran some of the script calls and MGETs: one pipeline per node, not one node.
      const after = await calls();
      after.forEach((node, i) => {
        expect(node.scripts).toBeGreaterThan(before[i]!.scripts);
        expect(node.mgets).toBeGreaterThan(before[i]!.mgets);
      });
      // One script call per slot the batch touches (each holds fewer than rowsPerCall keys):
      // about the 256 buckets, not 2,000 / 50.
      const slots = new Set(rows.map((r) => keySlot(store.keyOf(view, r.keys)))).size;
      expect(slots).toBeLessThanOrEqual(CLUSTER_BUCKETS);
      expect(after.reduce((sum, node, i) => sum + node.scripts - before[i]!.scripts, 0)).toBe(slots);
      // And one MGET per slot of each read.
      const slotsOf300 = new Set(rows.slice(0, 300).map((r) => keySlot(store.keyOf(view, r.keys)))).size;
      expect(after.reduce((sum, node, i) => sum + node.mgets - before[i]!.mgets, 0)).toBe(slots + slotsOf300);
      // The keys live on all three primaries.
      const perNode = await Promise.all(admin.nodes('master').map((node) => node.dbsize()));
      for (const size of perNode) expect(size).toBeGreaterThan(100);
    } finally {
      await store.close();
    }
  });

  it("the dashboard's key count walks every primary", async () => {
    const store = newStore();
    const scan = new ClusterScanClient(clusterNodes, { connectionName: 'test:key-count' });
    // A small COUNT, so the pass takes several calls on each primary.
    const counter = new RedisKeyCounter({ redis: scan, prefix, countPerCall: 50 });
    try {
      const view = viewNamed('counted');
      const rows = Array.from({ length: 700 }, (_, i) => row([BigInt(i)], 1_000, [i, i, BigInt(i)]));
      expect(await store.write(view, rows)).toBe(700);
      expect(await counter.countKeys('counted')).toMatchObject({ keys: 700, capped: false });
    } finally {
      await counter.close();
      scan.disconnect();
      await store.close();
    }
  });

  it('a stream view on the cluster equals the brute force, redeliveries counting nothing', async () => {
    const store = newStore({ rowsPerCall: 7 });
    try {
      const aggregations: AggregationSpec[] = [
        {
          column: 'fare',
          function: 'sum',
          windowMs: HOUR,
          resolutionMs: 60_000,
          name: 'fare_sum_1h',
          type: 'float64',
        },
        {
          column: 'fare',
          function: 'count',
          windowMs: DAY,
          resolutionMs: 300_000,
          name: 'fare_count_1d',
          type: 'int64',
        },
        {
          column: 'fare',
          function: 'stddev',
          windowMs: DAY,
          resolutionMs: HOUR,
          name: 'fare_sd_1d',
          type: 'float64',
        },
        {
          column: 'rating',
          function: 'last',
          windowMs: 7 * DAY,
          resolutionMs: HOUR,
          name: 'last_rating',
          type: 'int64',
        },
      ];
      const view: ViewLayout = {
        name: 'cluster_trips',
        joinKeys: [{ name: 'driver_id', type: 'int64' }],
        features: [
          { name: 'fare', type: 'float64' },
          { name: 'rating', type: 'int64' },
        ],
        ttlMs: 0,
        aggregations,
      };
      const random = rng(5);
      const now = Date.now();
      const drivers = 60;
      const events = Array.from({ length: 1500 }, (_, i) => {
        const ts =
          now -
          2 * DAY +
          Math.floor((2 * DAY * i) / 1500) -
          (random() < 0.2 ? Math.floor(random() * HOUR) : 0);
        return {
          driver: 1 + Math.floor(random() * drivers),
          ts,
          created: null,
          offset: i,
          values: {
            fare: random() < 0.1 ? null : Math.round(random() * 5000) / 100,
            rating: BigInt(1 + Math.floor(random() * 5)),
          },
        };
      });
      const rows = events.map((e) => ({
        keys: [BigInt(e.driver)],
        eventTimestamp: e.ts,
        created: null,
        values: [e.values.fare, e.values.rating],
        origin: { topic: 'trips', partition: 0, offset: String(e.offset) },
      }));
      let applied = 0;
      for (let i = 0; i < rows.length; i += 250) applied += await store.write(view, rows.slice(i, i + 250));
      expect(applied).toBe(rows.length);
      expect(await store.write(view, rows.slice(100, 600))).toBe(0);
      const t = Date.now();
      const keys = Array.from({ length: drivers + 1 }, (_, i) => [BigInt(i + 1)]);
      // Twice: merged from the tiles, then from the window cache the first read wrote.
      for (let pass = 0; pass < 2; pass++) {
        const [records] = await store.read([{ view, keys }], { at: t });
        const mismatches: string[] = [];
        records!.forEach((record, i) => {
          const mine = events.filter((e) => e.driver === i + 1) as ReferenceEvent[];
          if (mine.length === 0) {
            expect(record).toBeNull();
            return;
          }
          aggregations.forEach((a, k) => {
            let want: unknown = aggregateEvents(mine, a, t);
            if (a.type === 'int64' && typeof want === 'number') want = BigInt(want);
            const got = record?.values[k];
            if (!Object.is(got, want) && !(got === 0 && want === 0))
              mismatches.push(`driver ${i + 1} ${a.name}: online ${String(got)}, reference ${String(want)}`);
          });
        });
        expect(mismatches).toEqual([]);
        expect(records![drivers]).toBeNull();
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await store.close();
    }
  });
});

describe('RedisOnlineStore on a Redis Cluster: a node that stops answering', () => {
  it('fails a lookup spanning it retriably within the command timeout, and reads again once it answers', async () => {
    const store = newStore({ commandTimeoutMs: 1_000 });
    const view = viewNamed('paused');
    const keys = Array.from({ length: 100 }, (_, i) => [BigInt(i)]);
    try {
      expect(
        await store.write(
          view,
          keys.map((k) => row(k, 1_000, [1, 1, 1n])),
        ),
      ).toBe(100);
      // SIGSTOP: the node holds its connections open and answers nothing, the worst case; kept
      // well under cluster-node-timeout (5 s) so the cluster never marks it failed.
      process.kill(nodes[1]!.pid, 'SIGSTOP');
      const started = Date.now();
      let caught: unknown;
      try {
        await store.readJson([{ view, keys }]);
      } catch (error) {
        caught = error;
      } finally {
        process.kill(nodes[1]!.pid, 'SIGCONT');
      }
      expect(isTributaryError(caught) && caught.code).toBe('TRIB_ONLINE_STORE_UNAVAILABLE');
      expect(isTributaryError(caught) && caught.retriable).toBe(true);
      expect(Date.now() - started).toBeLessThan(2_500);
      const [records] = await store.read([{ view, keys }]);
      expect(records!.every((r) => r?.eventTimestamp === 1_000)).toBe(true);
    } finally {
      process.kill(nodes[1]!.pid, 'SIGCONT');
      await store.close();
    }
  });
});

describe('Kafka → materializer → Redis Cluster → serving', () => {
  let stream: KafkaEventStream;
  let streamAdmin: StreamAdmin;
  let producer: StreamProducer;
  let db: pg.Client;
  const tripsTopic = uniqueName('cluster_trips');
  const driversTopic = uniqueName('cluster_drivers');
  const schema = uniqueName('cluster_offline');

  beforeAll(async () => {
    stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
    streamAdmin = await stream.admin();
    producer = await stream.producer();
    db = new pg.Client({ connectionString: services().DATABASE_URL });
    await db.connect();
    await streamAdmin.ensureTopics([
      { topic: tripsTopic, partitions: 3 },
      { topic: `${tripsTopic}.dlq` },
      { topic: driversTopic, partitions: 3 },
      { topic: `${driversTopic}.dlq` },
    ]);
  });
  afterAll(async () => {
    await producer?.close();
    await streamAdmin?.deleteTopics([tripsTopic, `${tripsTopic}.dlq`, driversTopic, `${driversTopic}.dlq`]);
    await streamAdmin?.close();
    await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db?.end();
  });

  it('materializes a plain and a stream view onto the cluster, and serving answers both', async () => {
    const trips = tripsSpec(tripsTopic);
    const drivers = driverSpec(driversTopic);
    const spec: RepoSpec = {
      ...trips,
      kafkaSources: [...trips.kafkaSources, ...drivers.kafkaSources],
      pushSources: [...trips.pushSources, ...drivers.pushSources],
      featureViews: drivers.featureViews,
    };
    const streamView = spec.streamFeatureViews![0]!;
    const plainView = spec.featureViews[0]!;
    const DRIVERS = 90;
    const now = Date.now();
    const random = rng(9);
    const tripEvents = Array.from({ length: 1200 }, (_, i) => ({
      driver: 1 + (i % DRIVERS),
      ts: now - 12 * HOUR + Math.floor((12 * HOUR * i) / 1200),
      fare: Math.round(random() * 10_000) / 100,
      rating: 1 + Math.floor(random() * 5),
    }));
    const statEvents = Array.from({ length: DRIVERS }, (_, i) => ({
      driver_id: i + 1,
      event_timestamp: new Date(now - 60_000).toISOString(),
      conv_rate: i / 100,
      acc_rate: 0.5,
      avg_daily_trips: i * 3,
    }));
    await producer.send(
      tripsTopic,
      tripEvents.map((e) => ({
        key: String(e.driver),
        value: JSON.stringify({
          driver_id: e.driver,
          event_timestamp: new Date(e.ts).toISOString(),
          fare: e.fare,
          rating: e.rating,
        }),
      })),
    );
    await producer.send(
      driversTopic,
      statEvents.map((e) => ({ key: String(e.driver_id), value: JSON.stringify(e) })),
    );
    const offline = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema });
    const online = new RedisOnlineStore({ clusterNodes, prefix: uniqueName('cluster_e2e') });
    const materializer = new Materializer(
      {
        definitions: staticDefinitions(spec),
        stream,
        offline,
        online,
        metrics: createMaterializerMetrics(new Registry()),
        logger,
      },
      { groupPrefix: uniqueName('cluster_mat') },
    );
    const app = await onlineApp(spec, online);
    try {
      await materializer.start();
      const offlineCount = async (table: string) =>
        (
          await db
            .query(`SELECT count(*)::int AS n FROM "${schema}"."${table}"`)
            .catch(() => ({ rows: [{ n: 0 }] }))
        ).rows[0].n as number;
      await expect
        .poll(() => offlineCount('driver_trip_stats'), { timeout: 60_000, interval: 200 })
        .toBe(1200);
      await expect
        .poll(() => offlineCount('driver_hourly_stats'), { timeout: 60_000, interval: 200 })
        .toBe(DRIVERS);
      await expect.poll(() => materializer.lag(), { timeout: 30_000, interval: 200 }).toBe(0);

      // One read of both views for every driver: spans all three nodes.
      const keys = Array.from({ length: DRIVERS }, (_, i) => [BigInt(i + 1)]);
      const t = Date.now();
      const [plain, aggregated] = await online.read(
        [
          { view: viewLayout(plainView, spec.entities), keys },
          { view: viewLayout(streamView, spec.entities), keys },
        ],
        { at: t },
      );
      const slots = await Promise.all(
        keys.map((k) => admin.cluster('KEYSLOT', online.keyOf(viewLayout(plainView, spec.entities), k))),
      );
      const ownerOf = (slot: number) => admin.slots[slot]![0];
      expect(new Set(slots.map((s) => ownerOf(Number(s)))).size).toBe(3);
      const count = streamView.aggregations.find((a) => a.name === 'fare_count_1d')!;
      keys.forEach((_, i) => {
        expect(plain![i]?.values).toEqual([i / 100, 0.5, BigInt(i * 3)]);
        const mine = tripEvents
          .filter((e) => e.driver === i + 1)
          .map((e, n) => ({
            ts: e.ts,
            created: null,
            offset: n,
            values: { fare: e.fare, rating: BigInt(e.rating) },
          }));
        expect(aggregated![i]?.values[streamView.aggregations.indexOf(count)]).toBe(
          BigInt(aggregateEvents(mine, count, t) as number),
        );
      });

      const res = await app.inject({
        method: 'POST',
        url: '/get-online-features',
        payload: {
          features: ['driver_hourly_stats:avg_daily_trips', 'driver_trip_stats:fare_count_1d'],
          entities: { driver_id: [1, 2, 90, 999] },
        },
      });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.results[1].values.slice(0, 3)).toEqual([0, 3, 267]);
      expect(body.results[1].statuses[3]).toBe('NOT_FOUND');
      // 1,200 trips over 90 drivers, all within the day: driver 1 has 14.
      expect(body.results[2].values[0]).toBe(14);
      expect(body.results[2].statuses[3]).toBe('NOT_FOUND');
    } finally {
      await app.close();
      await materializer.stop();
      await offline.close();
      await online.close();
    }
  }, 120_000);
});
