/**
 * Stream feature views in the Redis online store, on a real Redis: random streams with late
 * events, ties, nulls and redeliveries folded into tiles, read back equal bit for bit to the
 * brute-force reference; concurrent writers of one entity lose nothing; dead tiles are deleted.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../../../fixtures/random.ts';
import { aggregateEvents, type ReferenceEvent } from '../../../shared/aggregations/index.ts';
import type { AggregationFunction, AggregationSpec } from '../../../shared/definitions/types.ts';
import type { ViewLayout } from '../../../shared/model/layout.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { services, uniqueName } from '../../support/env.ts';
import { viewNamed } from './online-port.suite.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function aggregation(
  column: string,
  fn: AggregationFunction,
  windowMs: number,
  resolutionMs: number,
  type: AggregationSpec['type'],
): AggregationSpec {
  return {
    column,
    function: fn,
    windowMs,
    resolutionMs,
    name: `${column}_${fn}_${windowMs}_${resolutionMs}`,
    type,
  };
}

const AGGREGATIONS: AggregationSpec[] = [
  aggregation('fare', 'sum', HOUR, MIN, 'float64'),
  aggregation('fare', 'sum', DAY, MIN, 'float64'),
  aggregation('fare', 'count', DAY, 5 * MIN, 'int64'),
  aggregation('fare', 'mean', 7 * DAY, HOUR, 'float64'),
  aggregation('fare', 'min', HOUR, 5 * MIN, 'float64'),
  aggregation('fare', 'max', 2 * HOUR, 10 * MIN, 'float64'),
  aggregation('fare', 'stddev', DAY, HOUR, 'float64'),
  aggregation('rating', 'last', 7 * DAY, HOUR, 'int64'),
  aggregation('rating', 'count', HOUR, MIN, 'int64'),
];

const tripStats = (name: string): ViewLayout => ({
  name,
  joinKeys: [{ name: 'driver_id', type: 'int64' }],
  features: [
    { name: 'fare', type: 'float64' },
    { name: 'rating', type: 'int64' },
  ],
  ttlMs: 0,
  aggregations: AGGREGATIONS,
});

interface Event extends ReferenceEvent {
  driver: bigint;
  partition: number;
}

/** Events of `drivers` over the last 8 days, in arrival order: late ones, ties and nulls included. */
function stream(seed: number, size: number, drivers: number, now: number): Event[] {
  const random = rng(seed);
  const events: Event[] = [];
  let clock = now - 8 * DAY;
  for (let i = 0; i < size; i++) {
    clock += Math.floor(random() * ((8 * DAY) / size) * 1.5);
    if (clock > now - 1) clock = now - 1;
    const late = random() < 0.2 ? Math.floor(random() * 3 * HOUR) : 0;
    const tie = random() < 0.1 && events.length > 0 ? events[events.length - 1]!.ts : undefined;
    const ts = tie ?? clock - late;
    const fare =
      random() < 0.1 ? null : random() < 0.05 ? 1e16 * (random() - 0.5) : Math.round(random() * 5000) / 100;
    const rating = random() < 0.15 ? null : BigInt(Math.floor(random() * 5) + 1);
    events.push({
      driver: BigInt(1 + Math.floor(random() * drivers)),
      partition: 0,
      ts,
      created: random() < 0.3 ? null : ts + Math.floor(random() * 1000),
      offset: i,
      values: { fare, rating },
    });
  }
  return events;
}

const rowOf = (topic: string, e: Event): FeatureRow => ({
  keys: [e.driver],
  eventTimestamp: e.ts,
  created: e.created,
  values: [e.values.fare ?? null, (e.values.rating as bigint | null) ?? null],
  origin: { topic, partition: e.partition, offset: String(e.offset) },
});

/** The reference's value as `read` types it (int64 features as bigint). */
function expected(events: readonly Event[], a: AggregationSpec, t: number): unknown {
  const value = aggregateEvents(events, a, t);
  return a.type === 'int64' && typeof value === 'number' ? BigInt(value) : value;
}

function sameValue(a: unknown, b: unknown): boolean {
  return typeof a === 'number' && typeof b === 'number' ? Object.is(a, b) || (a === 0 && b === 0) : a === b;
}

describe('RedisOnlineStore: stream feature views (tiles)', () => {
  const prefix = uniqueName('tiles');
  let store: RedisOnlineStore;
  let redis: Redis;
  beforeAll(() => {
    store = new RedisOnlineStore({ url: services().REDIS_URL, prefix, rowsPerCall: 7 });
    redis = new Redis(services().REDIS_URL);
  });
  afterAll(async () => {
    await store?.close();
    redis?.disconnect();
  });

  async function checkAll(view: ViewLayout, events: readonly Event[], drivers: number, t: number) {
    const keys = Array.from({ length: drivers }, (_, i) => [BigInt(i + 1)]);
    const [records] = await store.read([{ view, keys }], { at: t });
    let compared = 0;
    records!.forEach((record, i) => {
      const mine = events.filter((e) => e.driver === BigInt(i + 1));
      if (mine.length === 0) {
        expect(record).toBeNull();
        return;
      }
      expect(record).not.toBeNull();
      AGGREGATIONS.forEach((a, k) => {
        const want = expected(mine, a, t);
        const got = record!.values[k];
        if (!sameValue(got, want)) {
          throw new Error(
            `driver ${i + 1} ${a.name} at ${t}: online ${String(got)}, reference ${String(want)}`,
          );
        }
        compared++;
      });
    });
    return compared;
  }

  it('folds random streams into tiles equal to the brute force, redeliveries counting nothing', async () => {
    for (const seed of [1, 2, 3]) {
      const view = tripStats(`trips_${seed}`);
      const now = Date.now();
      const events = stream(seed, 1500, 12, now);
      const rows = events.map((e) => rowOf('trips', e));
      let applied = 0;
      for (let i = 0; i < rows.length; i += 97) applied += await store.write(view, rows.slice(i, i + 97));
      expect(applied).toBe(rows.length);
      // A batch redelivered after a crash, and one retried whole after a partial failure.
      expect(await store.write(view, rows.slice(200, 500))).toBe(0);
      expect(await store.write(view, rows.slice(rows.length - 150))).toBe(0);
      const t = Date.now();
      expect(await checkAll(view, events, 12, t)).toBe(12 * AGGREGATIONS.length);
      // At the exact boundaries of a window: a multiple of each resolution, and one ms after.
      const hour = Math.floor(t / HOUR) * HOUR;
      if (hour > events[0]!.ts) {
        await checkAll(view, events, 12, hour);
        await checkAll(view, events, 12, hour + 1);
      }
    }
  });

  it('two writers of one entity at once (two partitions) lose no event', async () => {
    const view = tripStats('trips_concurrent');
    const now = Date.now();
    const events = stream(7, 800, 3, now).map((e, i) => ({ ...e, partition: i % 2, offset: i >> 1 }));
    const byPartition = [0, 1].map((p) =>
      events.filter((e) => e.partition === p).map((e) => rowOf('trips', e)),
    );
    // Each partition's batches in order, as a consumer delivers them; the two partitions at once.
    const writePartition = async (rows: FeatureRow[]) => {
      let applied = 0;
      for (let i = 0; i < rows.length; i += 20) applied += await store.write(view, rows.slice(i, i + 20));
      return applied;
    };
    const applied = (await Promise.all(byPartition.map(writePartition))).reduce((a, b) => a + b, 0);
    expect(applied).toBe(events.length);
    expect(await checkAll(view, events, 3, Date.now())).toBe(3 * AGGREGATIONS.length);
  });

  it('keeps only live tiles: dead ones are deleted and the hash expires with the last window', async () => {
    // A clock of the test's own: a minute passes between writes, so the store looks for dead
    // tiles on each (it does at most once a minute per entity).
    let clock = Date.now();
    const timed = new RedisOnlineStore({ url: services().REDIS_URL, prefix, clock: () => clock });
    try {
      const view = tripStats('trips_expiry');
      const row = (ts: number, offset: number): FeatureRow => ({
        keys: [1n],
        eventTimestamp: ts,
        created: null,
        values: [1, 1n],
        origin: { topic: 'trips', partition: 0, offset: String(offset) },
      });
      // An event 9 days old is in no window (the longest is 7 days): counted, but no tile is kept.
      expect(await timed.write(view, [row(clock - 9 * DAY, 0)])).toBe(1);
      const key = timed.keyOf(view, [1n]);
      expect(await redis.exists(key)).toBe(0);
      // A tile of an aggregation this version does not declare (a newer process may write it): kept.
      await redis.hset(key, `t:${clock - 9 * DAY}:sum:999:fare`, '[1,1]');
      // One event a minute for two hours, as they happen: the first hour's 1h/1m tiles die.
      for (let i = 1; i <= 120; i++) {
        clock += MIN;
        await timed.write(view, [row(clock - 1000, i)]);
      }
      const fields = await redis.hkeys(key);
      expect(fields).toContain(`t:${clock - 120 * MIN - 9 * DAY}:sum:999:fare`);
      // The 1d sum shares the 1m tiles of fare: all 120 live. The 1h/1m count of rating: 61 at most.
      expect(fields.filter((f) => f.endsWith(':sum:60000:fare')).length).toBe(120);
      expect(fields.filter((f) => f.endsWith(':count:60000:rating')).length).toBeLessThanOrEqual(62);
      expect(fields.filter((f) => f.endsWith(':count:60000:rating')).length).toBeGreaterThanOrEqual(60);
      // Expires with the 7d windows of the last tile (Redis counts from its own clock, 2 h behind ours).
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(7 * DAY + 2 * HOUR - MIN);
      expect(ttl).toBeLessThanOrEqual(7 * DAY + 3 * HOUR + MIN);
      // Read at the store's clock: the last hour's events in the 1h windows, as the brute force says.
      const [records] = await timed.read([{ view, keys: [[1n]] }]);
      const events = Array.from({ length: 120 }, (_, i) => ({
        driver: 1n,
        partition: 0,
        ts: clock - (119 - i) * MIN - 1000,
        created: null,
        offset: i + 1,
        values: { fare: 1, rating: 1n },
      }));
      AGGREGATIONS.forEach((a, k) => {
        expect(records![0]!.values[k], a.name).toBe(expected(events, a, clock));
      });
    } finally {
      await timed.close();
    }
  });

  it('answers from the window cache only for the version and window it was merged at', async () => {
    const view = tripStats('trips_cache');
    const now = Date.now();
    const events = stream(21, 300, 2, now);
    await store.write(
      view,
      events.map((e) => rowOf('trips', e)),
    );
    const key = store.keyOf(view, [1n]);
    const t = Date.now();
    const mine = events.filter((e) => e.driver === 1n);
    const check = async (list: Event[], at: number) => {
      const [records] = await store.read([{ view, keys: [[1n]] }], { at });
      const record = records![0]!;
      AGGREGATIONS.forEach((a, k) => {
        expect(sameValue(record.values[k], expected(list, a, at)), a.name).toBe(true);
      });
    };
    await check(mine, t);
    // The merge left one entry per aggregation, for this version and window.
    await expect
      .poll(async () => (await redis.hkeys(key)).filter((f) => f.startsWith('w:')).length)
      .toBe(AGGREGATIONS.length);
    const entry = (await redis.hget(key, 'w:sum:3600000:60000:fare'))!;
    expect(entry.startsWith(`${await redis.hget(key, 'v')}:`)).toBe(true);
    // A cached read answers the same; a planted entry for another version is not taken.
    await check(mine, t);
    await redis.hset(
      key,
      'w:sum:3600000:60000:fare',
      `999:${entry
        .split(':')
        .slice(1)
        .join(':')
        .replace(/:[^:]*$/, ':12345')}`,
    );
    await check(mine, t);
    // A new event moves the version: the next read merges again and sees it.
    const late: Event = {
      ...mine[mine.length - 1]!,
      ts: t - 1000,
      offset: 10_000,
      values: { fare: 1e6, rating: 5n },
    };
    await store.write(view, [rowOf('trips', late)]);
    await check([...mine, late], t);
    // Another window (a minute on) is merged afresh too.
    await check([...mine, late], t + 60_000);
  });

  it('reads plain and stream views in one call, in request order', async () => {
    const stream = tripStats('trips_mixed');
    const plain = viewNamed(uniqueName('plain_mixed'));
    const now = Date.now();
    await store.write(stream, [
      {
        keys: [5n],
        eventTimestamp: now - 1000,
        created: null,
        values: [10.5, 4n],
        origin: { topic: 'trips', partition: 0, offset: '0' },
      },
    ]);
    const [a, b] = await store.readJson([
      { view: stream, keys: [[5n], [6n]] },
      { view: plain, keys: [[5n]] },
    ]);
    expect(a![1]).toBeNull();
    expect(b![0]).toBeNull();
    const values = JSON.parse(Buffer.from(a![0]!.valuesJson).toString('utf8'));
    // int64 features are JSON strings of digits, as for plain views.
    expect(values).toEqual([10.5, 10.5, '1', 10.5, 10.5, 10.5, null, '4', '1']);
    expect(a![0]!.eventTimestamp).toBe(now - 1000);
  });
});
