/**
 * The offline sweep (one pass over an entity's events, windows moved forward by adding and
 * taking away exact values) against the brute force, bit for bit: random streams with ties of
 * event time and of created, nulls, late events, ±0, cancellation and huge values, asked at
 * random instants and at each window's exact boundaries `floor(t/r)·r − W` and `t`.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../../fixtures/random.ts';
import {
  type AggregateValue,
  aggregateEvents,
  floorTo,
  type ReferenceEvent,
} from '../../../shared/aggregations/index.ts';
import { GroupSweep, groupRows, windowSweep } from '../../../shared/aggregations/sweep.ts';
import type { AggregationFunction } from '../../../shared/definitions/types.ts';

const FUNCTIONS: AggregationFunction[] = ['count', 'sum', 'mean', 'min', 'max', 'stddev', 'last'];

type Gen = () => number;

function value(random: Gen, profile: number): number | null {
  const u = random();
  if (u < 0.12) return null;
  if (u < 0.17) return random() < 0.5 ? 0 : -0;
  const sign = random() < 0.5 ? -1 : 1;
  switch (profile) {
    case 0:
      return Math.round(random() * 10_000) / 100;
    case 1: // cancellation: a sliding sum that adds and takes away 1e16 must stay exact
      return sign * (random() < 0.5 ? 1e16 : random() * 3);
    case 2: // any magnitude, past stddev's bounds too
      return sign * random() * 10 ** Math.floor(random() * 620 - 320);
    case 3: // near the overflow threshold: the scaled big partials
      return sign * (1 + random()) * 2 ** (1020 + Math.floor(random() * 4)) * 0.49;
    case 4: // subnormals
      return sign * random() * 2 ** -1020;
    default: // few distinct values: ties for min, max and last
      return sign * [0.1, 0.2, 0.3, 1 / 3][Math.floor(random() * 4)]!;
  }
}

/** Events with ties of event time and created, late arrivals (offsets not in time order), nulls. */
function stream(random: Gen, size: number, profile: number, start: number): ReferenceEvent[] {
  const events: ReferenceEvent[] = [];
  let clock = start;
  for (let i = 0; i < size; i++) {
    const r = random();
    if (r < 0.55) clock += Math.floor(random() * 40_000);
    const ts = r < 0.8 ? clock : clock - Math.floor(random() * 900_000);
    const created = random() < 0.3 ? null : ts + Math.floor(random() * 3) * 1000;
    events.push({ ts, created, offset: i, values: { x: value(random, profile) } });
  }
  return events;
}

/**
 * By event time, as the store sends events; ties against `last`'s order (latest offset first), so
 * the sweep must break them itself.
 */
function byEventOrder(events: readonly ReferenceEvent[]): ReferenceEvent[] {
  return [...events].sort((a, b) => a.ts - b.ts || b.offset - a.offset);
}

/** Instants worth asking at: random, every boundary of the window, events' own times and ±1. */
function instants(
  random: Gen,
  events: readonly ReferenceEvent[],
  windowMs: number,
  resolutionMs: number,
): number[] {
  const ts = events.map((e) => e.ts);
  const lo = Math.min(...ts) - windowMs;
  const hi = Math.max(...ts) + windowMs + resolutionMs;
  const out: number[] = [];
  for (let k = 0; k < 40; k++) out.push(lo + Math.floor(random() * (hi - lo)));
  for (let k = 0; k < 20; k++) {
    const e = events[Math.floor(random() * events.length)]!;
    // t exactly at an event, and the t whose tail floor(t/r)·r − W is exactly that event.
    out.push(e.ts, e.ts - 1, e.ts + 1);
    const t = e.ts + windowMs;
    out.push(t, t - 1, t + resolutionMs - 1, floorTo(t, resolutionMs));
  }
  return out.sort((a, b) => a - b);
}

function describeValue(v: AggregateValue): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

function sweepAt(
  events: readonly ReferenceEvent[],
  aggregation: { function: AggregationFunction; windowMs: number; resolutionMs: number },
  times: readonly number[],
  unitsPerMs = 1,
): AggregateValue[] {
  const sweep = windowSweep(aggregation, unitsPerMs);
  const ordered = byEventOrder(events);
  const out: AggregateValue[] = [];
  let i = 0;
  for (const t of times) {
    while (i < ordered.length && ordered[i]!.ts * unitsPerMs <= t * unitsPerMs) {
      const e = ordered[i++]!;
      sweep.add(
        e.ts * unitsPerMs,
        e.created === null ? null : e.created * unitsPerMs,
        e.offset,
        e.values['x'],
      );
    }
    out.push(sweep.valueAt(t * unitsPerMs));
  }
  return out;
}

describe('the sweep equals the brute force at every instant', () => {
  const cases = [
    { profile: 0, windowMs: 3_600_000, resolutionMs: 60_000 },
    { profile: 1, windowMs: 600_000, resolutionMs: 60_000 },
    { profile: 2, windowMs: 1_800_000, resolutionMs: 300_000 },
    { profile: 3, windowMs: 3_600_000, resolutionMs: 60_000 },
    { profile: 4, windowMs: 900_000, resolutionMs: 30_000 },
    { profile: 5, windowMs: 120_000, resolutionMs: 1_000 },
    { profile: 5, windowMs: 60_000, resolutionMs: 60_000 },
  ];
  for (const { profile, windowMs, resolutionMs } of cases) {
    for (const fn of FUNCTIONS) {
      it(`${fn}, values ${profile}, window ${windowMs / 1000}s / ${resolutionMs / 1000}s`, () => {
        for (let seed = 1; seed <= 25; seed++) {
          const random = rng(seed * 104_729 + profile * 31 + FUNCTIONS.indexOf(fn));
          // Negative times too: floor, not truncation, places the tail.
          const start = seed % 5 === 0 ? -5_000_000 : 1_700_000_000_000;
          const events = stream(random, 20 + Math.floor(random() * 180), profile, start);
          const aggregation = { column: 'x', function: fn, windowMs, resolutionMs };
          const times = instants(random, events, windowMs, resolutionMs);
          // In ms, and in µs as the offline store reads time.
          for (const unit of [1, 1000]) {
            const got = sweepAt(events, aggregation, times, unit);
            times.forEach((t, k) => {
              const expected = aggregateEvents(events, aggregation, t);
              if (!Object.is(got[k], expected)) {
                throw new Error(
                  `seed ${seed} unit ${unit} t ${t}: sweep ${describeValue(got[k]!)}, brute force ${describeValue(expected)}`,
                );
              }
            });
          }
        }
      });
    }
  }

  it('a window that cancels to zero and refills stays exact (1 + 1e100 + 1 − 1e100)', () => {
    const xs = [1, 1e100, 1, -1e100, 3, 1e-300];
    const events = xs.map((x, i) => ({ ts: (i + 1) * 1000, created: null, offset: i, values: { x } }));
    const aggregation = { column: 'x', function: 'sum' as const, windowMs: 2000, resolutionMs: 1000 };
    const times = [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000];
    expect(sweepAt(events, aggregation, times)).toEqual(
      times.map((t) => aggregateEvents(events, aggregation, t)),
    );
    expect(sweepAt(events, aggregation, [4000])).toEqual([1 - 1e100]);
  });
});

describe('GroupSweep: many entities, rows in any order', () => {
  it('answers every row with the brute force of its own entity, rows before any event and entities without events included', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = rng(seed);
      const aggregations = [
        { column: 'x', function: 'sum' as const, windowMs: 3_600_000, resolutionMs: 60_000 },
        { column: 'x', function: 'count' as const, windowMs: 86_400_000, resolutionMs: 300_000 },
        { column: 'x', function: 'mean' as const, windowMs: 600_000, resolutionMs: 600_000 },
        { column: 'y', function: 'last' as const, windowMs: 1_800_000, resolutionMs: 60_000 },
        { column: 'x', function: 'max' as const, windowMs: 300_000, resolutionMs: 1_000 },
        { column: 'y', function: 'stddev' as const, windowMs: 7_200_000, resolutionMs: 3_600_000 },
      ];
      const entities = 1 + Math.floor(random() * 12);
      // Entity e has events unless it is the last one, which has none.
      const eventsOf: ReferenceEvent[][] = [];
      for (let e = 0; e < entities; e++) {
        const own =
          e === entities - 1 ? [] : stream(random, Math.floor(random() * 80), seed % 6, 1_700_000_000_000);
        for (const ev of own) ev.values = { x: ev.values['x'], y: value(random, 5) };
        eventsOf.push(own);
      }
      // Entity rows in random order, some before every event of their entity.
      const rowsN = 1 + Math.floor(random() * 200);
      const rowEntity: number[] = [];
      const times = new Float64Array(rowsN);
      for (let r = 0; r < rowsN; r++) {
        rowEntity.push(Math.floor(random() * entities));
        times[r] = 1_700_000_000_000 + Math.floor(random() * 12_000_000) - 2_000_000;
      }
      const groups = groupRows(rowsN, (r) => `e${rowEntity[r]}`, times);
      const got = aggregations.map(() => new Array<AggregateValue>(rowsN));
      let answered = 0;
      const sweep = new GroupSweep(aggregations, [0, 0, 0, 1, 0, 1], groups, (row, a, v) => {
        got[a]![row] = v;
        answered++;
      });
      const values: (number | null)[] = [null, null];
      groups.keys.forEach((firstRow, g) => {
        // As the store sends them: by event time, ties in any order (last breaks them itself).
        const shuffled = [...eventsOf[rowEntity[firstRow]!]!].sort(() => random() - 0.5);
        for (const ev of [...shuffled].sort((a, b) => a.ts - b.ts)) {
          values[0] = ev.values['x'] as number | null;
          values[1] = ev.values['y'] as number | null;
          sweep.event(g, ev.ts, ev.created, ev.offset, values);
        }
      });
      sweep.finish();
      expect(answered).toBe(rowsN * aggregations.length);
      for (let r = 0; r < rowsN; r++) {
        aggregations.forEach((aggregation, a) => {
          const expected = aggregateEvents(eventsOf[rowEntity[r]!]!, aggregation, times[r]!);
          if (!Object.is(got[a]![r], expected)) {
            throw new Error(
              `seed ${seed} row ${r} ${aggregation.function}: ${describeValue(got[a]![r]!)} vs ${describeValue(expected)}`,
            );
          }
        });
      }
    }
  });

  it('refuses events out of order with TRIB_INTERNAL instead of answering wrong', () => {
    const times = new Float64Array([10, 20]);
    const groups = groupRows(2, (r) => String(r), times);
    const sweep = new GroupSweep(
      [{ function: 'count', windowMs: 100, resolutionMs: 10 }],
      [0],
      groups,
      () => undefined,
    );
    sweep.event(1, 5, null, 0, [1]);
    expect(() => sweep.event(0, 5, null, 1, [1])).toThrow(expect.objectContaining({ code: 'TRIB_INTERNAL' }));
    const again = new GroupSweep(
      [{ function: 'count', windowMs: 100, resolutionMs: 10 }],
      [0],
      groups,
      () => undefined,
    );
    again.event(0, 5, null, 0, [1]);
    expect(() => again.event(0, 4, null, 1, [1])).toThrow(expect.objectContaining({ code: 'TRIB_INTERNAL' }));
  });
});
