/**
 * Historical retrieval of stream views' aggregated features on real Postgres: raw events written
 * through the offline store as the materializer writes them, read back as of every entity row's
 * time, mixed with plain views in one request, and every value held bit for bit to the brute
 * force `aggregateEvents` over the same events. Events come with ties of event time (decided by
 * created, then offset), nulls, late arrivals, ±0, cancelling and huge values, int64 beyond 2^53;
 * entity rows fall before any event, on events and on window tails; one driver has no events.
 * Ranges, chunks and connections are varied, and the HTTP route answers the same.
 */
import { makeVector, tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../../../fixtures/random.ts';
import {
  type AggregateValue,
  aggregateEvents,
  type ReferenceEvent,
} from '../../../shared/aggregations/index.ts';
import type {
  AggregationSpec,
  RepoSpec,
  StreamFeatureViewSpec,
  ValueType,
} from '../../../shared/definitions/types.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { viewLayout } from '../../../shared/model/layout.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import { entitiesFromColumns } from '../../../shared/retrieval/entities.ts';
import type { FeatureChunk } from '../../../shared/retrieval/historical.ts';
import { planRetrieval } from '../../../shared/retrieval/plan.ts';
import { PostgresHistoricalReader } from '../../../shared/stores/offline/postgres/index.ts';
import { uniqueName } from '../../support/env.ts';
import { DAY, type Harness, harness, row, servingSpec } from '../serving/support.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.UTC(2024, 0, 28); // the events span a month boundary: two partitions
const DRIVERS = 40;
const ENTITY_ROWS = 1_500;

function agg(
  column: string,
  fn: AggregationSpec['function'],
  windowMs: number,
  resolutionMs: number,
  name: string,
  type: ValueType,
): AggregationSpec {
  return { column, function: fn, windowMs, resolutionMs, name, type };
}

const tripStats: StreamFeatureViewSpec = {
  kind: 'streamFeatureView',
  name: 'driver_trip_stats',
  entities: ['driver'],
  source: 'trips_push',
  schema: [
    { name: 'fare', type: 'float64' },
    { name: 'rating', type: 'int64' },
  ],
  aggregations: [
    agg('fare', 'sum', HOUR, MINUTE, 'fare_sum_1h', 'float64'),
    agg('fare', 'count', DAY, 5 * MINUTE, 'fare_count_1d', 'int64'),
    agg('fare', 'mean', 7 * DAY, HOUR, 'fare_mean_7d', 'float64'),
    agg('rating', 'last', 7 * DAY, HOUR, 'last_rating', 'int64'),
    agg('fare', 'max', 30 * MINUTE, MINUTE, 'fare_max_30m', 'float64'),
    agg('rating', 'min', 2 * HOUR, 10 * MINUTE, 'rating_min_2h', 'int64'),
    agg('fare', 'stddev', 6 * HOUR, HOUR, 'fare_stddev_6h', 'float64'),
    agg('rating', 'sum', HOUR, 15 * MINUTE, 'rating_sum_1h', 'float64'),
  ],
  online: true,
  offline: true,
};

/** Keyed by a string: the reader groups such rows itself instead of radix-sorting them. */
const customerTrips: StreamFeatureViewSpec = {
  kind: 'streamFeatureView',
  name: 'customer_trips',
  entities: ['customer'],
  source: 'trips_push',
  schema: [{ name: 'fare', type: 'float64' }],
  aggregations: [
    agg('fare', 'sum', 2 * HOUR, 30 * MINUTE, 'spent_2h', 'float64'),
    agg('fare', 'last', DAY, HOUR, 'last_fare', 'float64'),
  ],
  online: true,
  offline: true,
};

/** Never written to: its table does not exist. */
const neverWritten: StreamFeatureViewSpec = {
  kind: 'streamFeatureView',
  name: 'driver_tips',
  entities: ['driver'],
  source: 'trips_push',
  schema: [{ name: 'tip', type: 'float64' }],
  aggregations: [
    agg('tip', 'count', HOUR, MINUTE, 'tip_count_1h', 'int64'),
    agg('tip', 'sum', HOUR, MINUTE, 'tip_sum_1h', 'float64'),
    agg('tip', 'last', HOUR, MINUTE, 'last_tip', 'float64'),
  ],
  online: true,
  offline: true,
};

/** Fares meant to break a float loop: cancellation, huge, tiny, ±0, nulls. */
function fare(random: () => number): number | null {
  const u = random();
  if (u < 0.1) return null;
  if (u < 0.15) return random() < 0.5 ? 0 : -0;
  if (u < 0.25) return (random() < 0.5 ? -1 : 1) * 1e16;
  if (u < 0.28) return (random() < 0.5 ? -1 : 1) * 1e300;
  if (u < 0.3) return random() * 1e-310;
  return Math.round(random() * 10_000) / 100;
}

function rating(random: () => number): bigint | null {
  const u = random();
  if (u < 0.15) return null;
  if (u < 0.2) return 2n ** 60n + BigInt(Math.floor(random() * 1000)); // beyond 2^53: last keeps it exact
  return BigInt(Math.floor(random() * 5) + 1);
}

type Event = ReferenceEvent & { driver: bigint };

/** Plain point-in-time row (greatest event time ≤ t, then created; within ttl), by scanning. */
function pointInTime(rows: FeatureRow[], driver: bigint, t: number, ttlMs: number): FeatureRow | undefined {
  let best: FeatureRow | undefined;
  for (const r of rows) {
    if (r.keys[0] !== driver || r.eventTimestamp > t) continue;
    if (ttlMs > 0 && r.eventTimestamp <= t - ttlMs) continue;
    if (
      best === undefined ||
      r.eventTimestamp > best.eventTimestamp ||
      (r.eventTimestamp === best.eventTimestamp && (r.created ?? -Infinity) > (best.created ?? -Infinity))
    )
      best = r;
  }
  return best;
}

/** An Arrow value and the reference's, compared exactly for the feature's type. */
function same(type: ValueType, got: unknown, want: AggregateValue): boolean {
  if (want === null || got === null) return got === want;
  if (type === 'int64') return got === BigInt(want as number | bigint);
  return Object.is(got, want);
}

describe('historical retrieval of aggregated features', () => {
  let h: Harness;
  const events: Event[] = [];
  const stats: FeatureRow[] = [];
  const customerEvents = new Map<string, ReferenceEvent[]>();
  const driverIds: bigint[] = [];
  const times: number[] = [];
  const random = rng(2024);

  const spec = (schema: string): RepoSpec => {
    const base = servingSpec(`${schema}_topic`);
    return {
      ...base,
      pushSources: [
        ...base.pushSources,
        { kind: 'pushSource', name: 'trips_push', batchSource: 'driver_stats_source' },
      ],
      streamFeatureViews: [tripStats, customerTrips, neverWritten],
    };
  };

  beforeAll(async () => {
    const schema = uniqueName('hist_aggregations');
    h = await harness(schema, {}, spec(schema));
    // Driver DRIVERS has no events.
    const rows: FeatureRow[] = [];
    for (let d = 1; d < DRIVERS; d++) {
      let clock = T0 + Math.floor(random() * DAY);
      const n = 10 + Math.floor(random() * 90);
      for (let i = 0; i < n; i++) {
        const r = random();
        if (r < 0.6) clock += Math.floor(random() * 3 * HOUR);
        // Ties of event time, and late events: written (given offsets) after later ones.
        const ts = r < 0.85 ? clock : clock - Math.floor(random() * 2 * DAY);
        const created = random() < 0.3 ? null : ts + Math.floor(random() * 3) * 1000;
        const values = [fare(random), rating(random)];
        const featureRow = row([BigInt(d)], ts, values, created);
        rows.push(featureRow);
        events.push({
          driver: BigInt(d),
          ts,
          created,
          offset: Number(featureRow.origin.offset),
          values: { fare: values[0], rating: values[1] },
        });
      }
      for (let i = 0; i < 8; i++) {
        stats.push(row([BigInt(d)], T0 + Math.floor(random() * 20 * DAY), [random(), BigInt(i)]));
      }
    }
    // As the materializer writes them: every event a raw row of the view's offline table.
    const layout = viewLayout(tripStats, h.spec.entities);
    await h.offline.ensureTable(layout);
    // Several writes, in arrival order (so offsets go with arrival, not event time).
    for (let i = 0; i < rows.length; i += 500) await h.offline.write(layout, rows.slice(i, i + 500));
    // A replayed batch adds nothing.
    expect(await h.offline.write(layout, rows.slice(0, 50))).toBe(0);
    await h.write('driver_hourly_stats', stats);

    const customerLayout = viewLayout(customerTrips, h.spec.entities);
    await h.offline.ensureTable(customerLayout);
    const customerRows: FeatureRow[] = [];
    for (let c = 0; c < 15; c++) {
      const own: ReferenceEvent[] = [];
      for (let i = 0; i < 30; i++) {
        const ts = T0 + Math.floor(random() * 3 * DAY);
        const value = fare(random);
        const featureRow = row([`c-${c}-ü`], ts, [value], random() < 0.5 ? null : ts);
        customerRows.push(featureRow);
        own.push({
          ts,
          created: featureRow.created,
          offset: Number(featureRow.origin.offset),
          values: { fare: value },
        });
      }
      customerEvents.set(`c-${c}-ü`, own);
    }
    await h.offline.write(customerLayout, customerRows);

    // Entity rows: random instants, some before every event, exactly on events, and exactly on
    // a window's tail (t whose floor(t/r)·r − W is an event's time) or just past it.
    for (let j = 0; j < ENTITY_ROWS; j++) {
      const d = BigInt(1 + Math.floor(random() * DRIVERS));
      driverIds.push(d);
      const own = events.filter((e) => e.driver === d);
      const u = random();
      if (own.length === 0 || u < 0.4) times.push(T0 - 2 * DAY + Math.floor(random() * 14 * DAY));
      else {
        const e = own[Math.floor(random() * own.length)]!;
        const a = tripStats.aggregations[Math.floor(random() * tripStats.aggregations.length)]!;
        const choices = [
          e.ts,
          e.ts - 1,
          e.ts + a.windowMs,
          e.ts + a.windowMs + a.resolutionMs - 1,
          e.ts + a.windowMs + a.resolutionMs,
        ];
        times.push(choices[Math.floor(random() * choices.length)]!);
      }
    }
    // A row before any event of its driver.
    driverIds[0] = 1n;
    times[0] = T0 - 3 * DAY;
  });
  afterAll(async () => {
    await h?.close();
  });

  const features = [
    'driver_hourly_stats:conv_rate',
    ...tripStats.aggregations.slice(0, 4).map((a) => `driver_trip_stats:${a.name}`),
    'driver_tips:tip_count_1h',
    'driver_hourly_stats:avg_daily_trips',
    ...tripStats.aggregations.slice(4).map((a) => `driver_trip_stats:${a.name}`),
    'driver_tips:tip_sum_1h',
    'driver_tips:last_tip',
  ];
  const plan = () => planRetrieval(h.spec, { features, fullFeatureNames: true }, 'offline');

  /** The expected value of every requested feature at entity row j. */
  function expectedRow(j: number): { type: ValueType; value: AggregateValue }[] {
    const d = driverIds[j]!;
    const t = times[j]!;
    const own = events.filter((e) => e.driver === d);
    const s = pointInTime(stats, d, t, DAY);
    return plan().features.map((f) => {
      if (f.view === 'driver_hourly_stats') {
        const i = f.name === 'conv_rate' ? 0 : 1;
        return { type: f.type, value: s ? (s.values[i] as AggregateValue) : null };
      }
      const aggregation = f.aggregation!;
      return { type: f.type, value: aggregateEvents(f.view === 'driver_tips' ? [] : own, aggregation, t) };
    });
  }

  function check(chunks: FeatureChunk[]): void {
    let start = 0;
    for (const chunk of chunks) {
      expect(chunk.start).toBe(start);
      start += chunk.length;
    }
    expect(start).toBe(ENTITY_ROWS);
    const p = plan();
    const columns = p.features.map((_, c) => chunks.flatMap((k) => [...makeVector(k.columns[c]!)]));
    let checked = 0;
    for (let j = 0; j < ENTITY_ROWS; j++) {
      expectedRow(j).forEach(({ type, value }, c) => {
        const got = columns[c]![j];
        if (!same(type, got, value)) {
          throw new Error(
            `row ${j} (driver ${driverIds[j]}, t ${times[j]}) ${p.features[c]!.ref}: got ${String(got)}, brute force ${String(value)}`,
          );
        }
        checked++;
      });
    }
    expect(checked).toBe(ENTITY_ROWS * p.features.length);
  }

  async function readAll(reader: PostgresHistoricalReader, chunkRows: number): Promise<FeatureChunk[]> {
    const p = plan();
    const entities = entitiesFromColumns({ driver_id: driverIds, event_timestamp: times }, p.joinKeys);
    const chunks: FeatureChunk[] = [];
    for await (const chunk of reader.readFeatures(p, entities, { chunkRows })) chunks.push(chunk);
    return chunks;
  }

  it('equals the brute force, mixed with a plain view, with many ranges over two connections', async () => {
    check(await readAll(new PostgresHistoricalReader(h.pool, { schema: h.schema, rangeRows: 211 }), 50));
  });

  it('equals it with one range on one connection, and with three connections', async () => {
    check(await readAll(new PostgresHistoricalReader(h.pool, { schema: h.schema, parallelism: 1 }), 65_536));
    check(
      await readAll(
        new PostgresHistoricalReader(h.pool, { schema: h.schema, parallelism: 3, rangeRows: 500 }),
        97,
      ),
    );
  });

  it('types the columns as planned: count int64, sums and means float64, min and last as the column', async () => {
    const chunks = await readAll(new PostgresHistoricalReader(h.pool, { schema: h.schema }), 65_536);
    const types = chunks[0]!.columns.map((c) => String(c.type));
    expect(types).toEqual(plan().features.map((f) => (f.type === 'int64' ? 'Int64' : 'Float64')));
    // The driver without events: count and sum 0, everything else null.
    const j = driverIds.indexOf(BigInt(DRIVERS));
    expect(j).toBeGreaterThanOrEqual(0);
    const at = (name: string) =>
      makeVector(chunks[0]!.columns[plan().features.findIndex((f) => f.name === name)]!).get(j);
    expect(at('fare_count_1d')).toBe(0n);
    expect(at('fare_sum_1h')).toBe(0);
    expect(at('fare_mean_7d')).toBeNull();
    expect(at('last_rating')).toBeNull();
  });

  it('groups string keys itself and answers each customer row with the brute force', async () => {
    const customers = Array.from({ length: 700 }, () => `c-${Math.floor(random() * 17)}-ü`);
    const at = customers.map(() => T0 - DAY + Math.floor(random() * 5 * DAY));
    const p = planRetrieval(
      h.spec,
      { features: ['customer_trips:spent_2h', 'customer_stats:spend', 'customer_trips:last_fare'] },
      'offline',
    );
    const entities = entitiesFromColumns({ customer_id: customers, event_timestamp: at }, p.joinKeys);
    const reader = new PostgresHistoricalReader(h.pool, { schema: h.schema, rangeRows: 300 });
    const got: unknown[][] = [[], [], []];
    for await (const chunk of reader.readFeatures(p, entities, { chunkRows: 64 })) {
      chunk.columns.forEach((c, i) => {
        got[i]!.push(...makeVector(c));
      });
    }
    customers.forEach((c, j) => {
      const own = customerEvents.get(c) ?? [];
      expect(
        Object.is(got[0]![j], aggregateEvents(own, customerTrips.aggregations[0]!, at[j]!)),
        `row ${j}`,
      ).toBe(true);
      expect(got[1]![j]).toBeNull();
      expect(
        Object.is(got[2]![j], aggregateEvents(own, customerTrips.aggregations[1]!, at[j]!)),
        `row ${j}`,
      ).toBe(true);
    });
  });

  it('answers the same through POST /get-historical-features as an Arrow stream', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/get-historical-features',
      headers: { accept: 'application/vnd.apache.arrow.stream' },
      payload: {
        entities: {
          driver_id: driverIds.slice(0, 300).map(String),
          event_timestamp: times.slice(0, 300).map((t) => new Date(t).toISOString()),
        },
        features,
        full_feature_names: true,
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const table = tableFromIPC(res.rawPayload);
    expect(table.numRows).toBe(300);
    const p = plan();
    for (let j = 0; j < 300; j++) {
      expectedRow(j).forEach(({ type, value }, c) => {
        const got = table.getChild(p.features[c]!.outputName)!.get(j);
        expect(
          same(type, got, value),
          `row ${j} ${p.features[c]!.ref}: ${String(got)} vs ${String(value)}`,
        ).toBe(true);
      });
    }
  });

  it('stops when aborted mid-read, with TRIB_BAD_REQUEST, no connection checked out and no event query left', async () => {
    const reader = new PostgresHistoricalReader(h.pool, { schema: h.schema, rangeRows: 100 });
    const p = plan();
    const entities = entitiesFromColumns({ driver_id: driverIds, event_timestamp: times }, p.joinKeys);
    const controller = new AbortController();
    let chunks = 0;
    const error = await (async () => {
      for await (const chunk of reader.readFeatures(p, entities, {
        chunkRows: 50,
        signal: controller.signal,
      })) {
        chunks++;
        if (chunk.start === 0) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(isTributaryError(error, 'TRIB_BAD_REQUEST')).toBe(true);
    expect(chunks).toBeLessThan(ENTITY_ROWS / 50);
    expect(h.pool.totalCount - h.pool.idleCount).toBe(0);
    await expect
      .poll(async () => {
        const { rows } = await h.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT g.g%' AND state = 'active' AND pid <> pg_backend_pid()`,
        );
        return rows[0].n;
      })
      .toBe(0);
    // The pool still answers a whole read.
    check(await readAll(reader, 64));
  });
});
