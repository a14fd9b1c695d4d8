/**
 * The Postgres historical reader against a reference point-in-time join computed here, row by
 * row, over the same feature rows: with many small ranges over several connections (so answers
 * come back in probe order and are put back in input order range by range), chunks that do not
 * line up with ranges, every value type with nulls, ties on event time, duplicate and unsorted
 * entity rows. Also: a consumer that stops early or aborts leaves no connection or query behind.
 */
import { makeVector } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTributaryError } from '../../../shared/errors.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import { entitiesFromColumns } from '../../../shared/retrieval/entities.ts';
import type { FeatureChunk } from '../../../shared/retrieval/historical.ts';
import { planRetrieval } from '../../../shared/retrieval/plan.ts';
import { PostgresHistoricalReader } from '../../../shared/stores/offline/postgres/index.ts';
import { uniqueName } from '../../support/env.ts';
import { DAY, type Harness, harness, row } from '../serving/support.ts';

const T0 = Date.UTC(2024, 0, 25); // spans a month boundary: two partitions
const DRIVERS = 60;
const ENTITY_ROWS = 1_000;

/** A small deterministic generator (LCG), so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

type Value = number | bigint | string | boolean | null;

/** The row a view contributes for (driver, t), per the point-in-time definition of docs/architecture.md, by scanning every row. */
function expected(rows: FeatureRow[], driver: bigint, t: number, ttlMs: number): FeatureRow | undefined {
  let best: FeatureRow | undefined;
  for (const r of rows) {
    if (r.keys[0] !== driver || r.eventTimestamp > t) continue;
    if (ttlMs > 0 && r.eventTimestamp <= t - ttlMs) continue;
    const later =
      best === undefined ||
      r.eventTimestamp > best.eventTimestamp ||
      (r.eventTimestamp === best.eventTimestamp && (r.created ?? -Infinity) > (best.created ?? -Infinity));
    if (later) best = r;
  }
  return best;
}

describe('PostgresHistoricalReader', () => {
  let h: Harness;
  const stats: FeatureRow[] = [];
  const profile: FeatureRow[] = [];
  const next = random(7);
  const driverIds: bigint[] = [];
  const times: number[] = [];

  beforeAll(async () => {
    h = await harness(uniqueName('hist_reader'));
    for (let d = 1; d <= DRIVERS; d++) {
      // Driver DRIVERS has no rows at all.
      if (d === DRIVERS) break;
      for (let i = 0; i < 12; i++) {
        const ts = T0 + Math.floor(next() * 14 * DAY);
        const created = next() < 0.3 ? null : ts + Math.floor(next() * 1000);
        const trips = next() < 0.1 ? null : BigInt(Math.floor(next() * 100));
        stats.push(row([BigInt(d)], ts, [next() < 0.1 ? null : next(), trips], created));
        // A tie on event time, decided by created (a null one loses).
        if (i === 0) stats.push(row([BigInt(d)], ts, [next(), 7n], created === null ? ts + 5 : created + 1));
      }
      for (let i = 0; i < 3; i++) {
        const ts = T0 - 20 * DAY + Math.floor(next() * 30 * DAY);
        profile.push(
          row(
            [BigInt(d)],
            ts,
            [
              next(),
              next() < 0.5 ? null : next(),
              next() < 0.2 ? null : `city-${d}-${i}${'é'.repeat(i * 20)}`,
              next() < 0.2 ? null : next() < 0.5,
              next() < 0.2 ? null : ts - DAY,
            ],
            null,
          ),
        );
      }
    }
    await h.write('driver_hourly_stats', stats);
    await h.write('driver_profile', profile);
    for (let j = 0; j < ENTITY_ROWS; j++) {
      driverIds.push(BigInt(1 + Math.floor(next() * DRIVERS)));
      times.push(T0 - DAY + Math.floor(next() * 17 * DAY));
    }
    // Duplicates: the same entity row again, far from the first.
    driverIds[ENTITY_ROWS - 1] = driverIds[0]!;
    times[ENTITY_ROWS - 1] = times[0]!;
  });
  afterAll(async () => {
    await h?.close();
  });

  const plan = () =>
    planRetrieval(
      h.spec,
      {
        features: [
          'driver_hourly_stats:conv_rate',
          'driver_hourly_stats:avg_daily_trips',
          'driver_profile:rating',
          'driver_profile:conv_rate',
          'driver_profile:city',
          'driver_profile:active',
          'driver_profile:signed_up',
        ],
        fullFeatureNames: true,
      },
      'offline',
    );

  async function readAll(reader: PostgresHistoricalReader, chunkRows: number) {
    const p = plan();
    const entities = entitiesFromColumns({ driver_id: driverIds, event_timestamp: times }, p.joinKeys);
    const chunks: FeatureChunk[] = [];
    for await (const chunk of reader.readFeatures(p, entities, { chunkRows })) chunks.push(chunk);
    return chunks;
  }

  function check(chunks: FeatureChunk[]): void {
    let start = 0;
    for (const chunk of chunks) {
      expect(chunk.start).toBe(start);
      start += chunk.length;
    }
    expect(start).toBe(ENTITY_ROWS);
    const columns = Array.from({ length: 7 }, (_, c) =>
      chunks.flatMap((k) => [...makeVector(k.columns[c]!)]),
    );
    for (let j = 0; j < ENTITY_ROWS; j++) {
      const s = expected(stats, driverIds[j]!, times[j]!, DAY);
      const p = expected(profile, driverIds[j]!, times[j]!, 0);
      const want: Value[] = [
        s ? (s.values[0] as Value) : null,
        s ? (s.values[1] as Value) : null,
        ...(p ? (p.values as Value[]) : [null, null, null, null, null]),
      ];
      const got = columns.map((c) => c[j] as Value);
      // Arrow gives timestamps as epoch milliseconds.
      expect(got, `entity row ${j}`).toEqual(want);
    }
  }

  it('matches the reference join with many ranges over two connections, chunks not aligned to ranges', async () => {
    const chunks = await readAll(
      new PostgresHistoricalReader(h.pool, { schema: h.schema, rangeRows: 97 }),
      40,
    );
    expect(chunks.length).toBeGreaterThan(ENTITY_ROWS / 97);
    check(chunks);
  });

  it('matches it with one range on one connection, and with three connections', async () => {
    check(await readAll(new PostgresHistoricalReader(h.pool, { schema: h.schema, parallelism: 1 }), 65_536));
    check(
      await readAll(
        new PostgresHistoricalReader(h.pool, { schema: h.schema, parallelism: 3, rangeRows: 128 }),
        64,
      ),
    );
  });

  it('matches it for a string join key, which Postgres sorts, split over two connections', async () => {
    const spend: FeatureRow[] = [];
    for (let c = 0; c < 20; c++) {
      for (let i = 0; i < 5; i++) spend.push(row([`c-${c}-ü`], T0 + Math.floor(next() * 10 * DAY), [next()]));
    }
    await h.write('customer_stats', spend);
    const customers = Array.from({ length: 600 }, () => `c-${Math.floor(next() * 22)}-ü`);
    const at = customers.map(() => T0 + Math.floor(next() * 12 * DAY));
    const p = planRetrieval(h.spec, { features: ['customer_stats:spend'] }, 'offline');
    const entities = entitiesFromColumns({ customer_id: customers, event_timestamp: at }, p.joinKeys);
    const reader = new PostgresHistoricalReader(h.pool, { schema: h.schema, rangeRows: 250 });
    const got: unknown[] = [];
    for await (const chunk of reader.readFeatures(p, entities, { chunkRows: 40 })) {
      got.push(...makeVector(chunk.columns[0]!));
    }
    const want = customers.map((c, j) => {
      let best: FeatureRow | undefined;
      for (const r of spend) {
        if (
          r.keys[0] === c &&
          r.eventTimestamp <= at[j]! &&
          (!best || r.eventTimestamp > best.eventTimestamp)
        )
          best = r;
      }
      return best ? best.values[0] : null;
    });
    expect(got).toEqual(want);
  });

  it('leaves no connection or query behind when the consumer stops after the first chunk', async () => {
    const reader = new PostgresHistoricalReader(h.pool, { schema: h.schema, rangeRows: 100 });
    const p = plan();
    const entities = entitiesFromColumns({ driver_id: driverIds, event_timestamp: times }, p.joinKeys);
    for await (const chunk of reader.readFeatures(p, entities, { chunkRows: 50 })) {
      expect(chunk.start).toBe(0);
      break;
    }
    expect(h.pool.totalCount - h.pool.idleCount).toBe(0);
    await expect
      .poll(async () => {
        const { rows } = await h.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT e.rn%' AND pid <> pg_backend_pid()`,
        );
        return rows[0].n;
      })
      .toBe(0);
    check(await readAll(reader, 64));
  });

  it('fails with TRIB_OFFLINE_STORE_UNAVAILABLE, without hanging, when Postgres ends a backend mid-answer', async () => {
    const n = 400_000;
    const p = plan();
    const entities = entitiesFromColumns(
      {
        driver_id: Array.from({ length: n }, (_, j) => BigInt(1 + (j % DRIVERS))),
        event_timestamp: Array.from({ length: n }, (_, j) => T0 + (j % 1000) * 60_000),
      },
      p.joinKeys,
    );
    const reader = new PostgresHistoricalReader(h.pool, { schema: h.schema });
    const reading = (async () => {
      for await (const _ of reader.readFeatures(p, entities)) {
        // consumed
      }
    })().catch((e: unknown) => e);
    // Terminate the first backend seen answering a probe query of this test's schema (another
    // file's retrievals may be running on the same Postgres).
    let terminated = 0;
    for (let tries = 0; tries < 2_000 && terminated === 0; tries++) {
      const { rows } = await h.pool.query(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE query LIKE 'COPY (SELECT e.rn%' AND strpos(query, $1) > 0 AND pid <> pg_backend_pid()`,
        [`"${h.schema}"`],
      );
      terminated = rows[0].n;
    }
    expect(terminated).toBeGreaterThan(0);
    const error = await reading;
    expect(isTributaryError(error, 'TRIB_OFFLINE_STORE_UNAVAILABLE')).toBe(true);
    await expect.poll(() => h.pool.totalCount - h.pool.idleCount).toBe(0);
    // The pool still serves a full read.
    check(await readAll(reader, 64));
  });

  it('fails with TRIB_BAD_REQUEST when aborted, and leaves no connection checked out', async () => {
    const reader = new PostgresHistoricalReader(h.pool, { schema: h.schema, rangeRows: 100 });
    const p = plan();
    const entities = entitiesFromColumns({ driver_id: driverIds, event_timestamp: times }, p.joinKeys);
    const controller = new AbortController();
    const error = await (async () => {
      for await (const chunk of reader.readFeatures(p, entities, {
        chunkRows: 50,
        signal: controller.signal,
      })) {
        if (chunk.start === 0) controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(isTributaryError(error, 'TRIB_BAD_REQUEST')).toBe(true);
    expect(h.pool.totalCount - h.pool.idleCount).toBe(0);
  });
});
