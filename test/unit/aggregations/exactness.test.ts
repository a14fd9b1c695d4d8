/**
 * Online/offline consistency at its root: tiles folded in arrival order and merged in any
 * order and grouping give bit-identical values to the brute-force reference, over random
 * streams with ties, nulls, late (out-of-order) events and extreme magnitudes.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../../fixtures/random.ts';
import {
  type AggregationState,
  addValue,
  aggregateEvents,
  decodeState,
  emptyState,
  encodeState,
  finalize,
  foldIntoTiles,
  merge,
  type ReferenceEvent,
  type TileEvent,
  tileStart,
  valueFromTiles,
} from '../../../shared/aggregations/index.ts';
import type { AggregationFunction } from '../../../shared/definitions/types.ts';

const FUNCTIONS: AggregationFunction[] = ['count', 'sum', 'mean', 'min', 'max', 'stddev', 'last'];

type Gen = () => number;

function shuffle<T>(random: Gen, list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A value drawn from a mix meant to break naive sums: cancellation, huge, tiny, ties, zeros, nulls. */
function value(random: Gen, profile: number): number | null {
  const u = random();
  if (u < 0.1) return null;
  if (u < 0.15) return random() < 0.5 ? 0 : -0;
  const sign = random() < 0.5 ? -1 : 1;
  switch (profile) {
    case 0: // everyday fares
      return Math.round(random() * 10_000) / 100;
    case 1: // catastrophic cancellation
      return sign * (random() < 0.5 ? 1e16 : random() * 3);
    case 2: // any magnitude a double has, but for stddev's bounds
      return sign * random() * 10 ** Math.floor(random() * 600 - 300);
    case 3: // near the overflow threshold
      return sign * (1 + random()) * 2 ** (1020 + Math.floor(random() * 4)) * 0.49;
    case 4: // subnormals and the smallest normals
      return sign * random() * 2 ** -1020;
    default: // few distinct values: many exact ties
      return sign * [0.1, 0.2, 0.3, 1 / 3][Math.floor(random() * 4)]!;
  }
}

function stream(seed: number, size: number, profile: number): ReferenceEvent[] {
  const random = rng(seed);
  const events: ReferenceEvent[] = [];
  let clock = 1_700_000_000_000;
  for (let i = 0; i < size; i++) {
    // Mostly advancing, with ties of event time and late events up to ten minutes back.
    const r = random();
    if (r < 0.6) clock += Math.floor(random() * 20_000);
    const ts = r < 0.8 ? clock : clock - Math.floor(random() * 600_000);
    const created = random() < 0.3 ? null : ts + Math.floor(random() * 3) * 1000;
    events.push({ ts, created, offset: i, values: { x: value(random, profile) } });
  }
  return events;
}

const tileEvents = (events: readonly ReferenceEvent[]): TileEvent[] =>
  events.map((e) => ({ ts: e.ts, created: e.created, offset: e.offset, value: e.values['x'] }));

/** Bit-identical (Object.is tells -0 from 0 and NaN from everything). */
function same(a: unknown, b: unknown): boolean {
  return Object.is(a, b);
}

describe('tiles merged in any order equal the brute force', () => {
  const cases: { profile: number; windowMs: number; resolutionMs: number }[] = [
    { profile: 0, windowMs: 3_600_000, resolutionMs: 60_000 },
    { profile: 1, windowMs: 600_000, resolutionMs: 60_000 },
    { profile: 2, windowMs: 1_800_000, resolutionMs: 300_000 },
    { profile: 3, windowMs: 3_600_000, resolutionMs: 60_000 },
    { profile: 4, windowMs: 900_000, resolutionMs: 30_000 },
    { profile: 5, windowMs: 120_000, resolutionMs: 1_000 },
  ];
  for (const { profile, windowMs, resolutionMs } of cases) {
    for (const fn of FUNCTIONS) {
      it(`${fn}, value profile ${profile}, window ${windowMs / 1000}s / ${resolutionMs / 1000}s`, () => {
        for (let seed = 1; seed <= 12; seed++) {
          const events = stream(seed * 7919 + profile, 150, profile);
          const aggregation = { column: 'x', function: fn, windowMs, resolutionMs };
          const random = rng(seed);
          // Online: arrival order. Offline: any other order.
          const online = foldIntoTiles(aggregation, tileEvents(events));
          const offline = foldIntoTiles(aggregation, tileEvents(shuffle(random, events)));
          const ts = events.map((e) => e.ts);
          const lo = Math.min(...ts);
          const hi = Math.max(...ts);
          for (let k = 0; k < 8; k++) {
            const t = lo + Math.floor(random() * (hi - lo + windowMs));
            const expected = aggregateEvents(events, aggregation, t);
            const head = tileStart(t, resolutionMs);
            const headEvents = tileEvents(events).filter((e) => tileStart(e.ts, resolutionMs) === head);
            for (const tiles of [online, offline]) {
              const got = valueFromTiles(aggregation, tiles, t, headEvents);
              if (!same(got, expected)) {
                throw new Error(
                  `seed ${seed} t ${t}: tiles gave ${String(got)}, brute force ${String(expected)}`,
                );
              }
            }
          }
        }
      });
    }
  }
});

describe('merge is order- and grouping-free', () => {
  for (const fn of FUNCTIONS) {
    it(`${fn}: any grouping of events into states, merged in any order, finalizes identically`, () => {
      for (let seed = 1; seed <= 20; seed++) {
        const random = rng(seed);
        const profile = seed % 6;
        const events = tileEvents(stream(seed, 60, profile));
        const reference = aggregateEvents(
          events.map((e) => ({ ...e, values: { x: e.value } })),
          { column: 'x', function: fn, windowMs: 1e13, resolutionMs: 1 },
          2e12,
        );
        for (let trial = 0; trial < 4; trial++) {
          // Random partition into groups, each folded in a random order, merged as a random tree.
          const groups: AggregationState[] = [];
          let state = emptyState(fn);
          for (const e of shuffle(random, events)) {
            state = addValue(state, e.value, e);
            if (random() < 0.2) {
              groups.push(state);
              state = emptyState(fn);
            }
          }
          groups.push(state);
          while (groups.length > 1) {
            const i = Math.floor(random() * groups.length);
            const [a] = groups.splice(i, 1);
            const j = Math.floor(random() * groups.length);
            groups[j] = random() < 0.5 ? merge(a!, groups[j]!) : merge(groups[j]!, a!);
          }
          const got = finalize(groups[0]!);
          expect(same(got, reference), `seed ${seed}: ${String(got)} vs ${String(reference)}`).toBe(true);
          // The encoded form (what Redis stores) round-trips to the same value.
          const round = decodeState(fn, JSON.parse(JSON.stringify(encodeState(groups[0]!))));
          expect(same(finalize(round), reference)).toBe(true);
        }
      }
    });
  }
});

describe('known values', () => {
  const all = (fn: AggregationFunction, xs: (number | null)[]) =>
    aggregateEvents(
      xs.map((x, i) => ({ ts: i + 1, created: null, offset: i, values: { x } })),
      { column: 'x', function: fn, windowMs: 1000, resolutionMs: 1000 },
      1000,
    );
  const tiles = (fn: AggregationFunction, xs: (number | null)[]) =>
    finalize(
      foldIntoTiles(
        { function: fn, resolutionMs: 1000 },
        xs.map((x, i) => ({ ts: i + 1, created: null, offset: i, value: x })),
      ).get(0) ?? emptyState(fn),
    );

  it('sums are correctly rounded where a plain loop is not', () => {
    const xs = [1, 1e100, 1, -1e100];
    expect(xs.reduce((a, b) => a + b, 0)).toBe(0);
    expect(tiles('sum', xs)).toBe(2);
    expect(all('sum', xs)).toBe(2);
    expect(tiles('sum', [0.1, 0.2, 0.3])).toBe(0.6000000000000001 - 1.1102230246251565e-16);
    expect(tiles('mean', [1e308, 1e308, 1e308])).toBe(1e308);
    expect(tiles('sum', [1e308, 1e308])).toBe(Number.POSITIVE_INFINITY);
    expect(tiles('sum', [1e308, 1e308, -1e308])).toBe(1e308);
  });

  it('stddev is the sample standard deviation, computed without cancellation', () => {
    expect(tiles('stddev', [2, 4, 4, 4, 5, 5, 7, 9])).toBe(Math.sqrt(32 / 7));
    // Naive Σx² − (Σx)²/n loses everything here; the exact numerator does not.
    expect(tiles('stddev', [1e9 + 1, 1e9 + 2, 1e9 + 3])).toBe(1);
    expect(tiles('stddev', [5])).toBeNull();
    expect(tiles('stddev', [1e200, 1e200])).toBeNull();
  });

  it('empty windows: 0 for count and sum, null for the rest', () => {
    for (const fn of FUNCTIONS) {
      const empty = fn === 'count' || fn === 'sum' ? 0 : null;
      expect(tiles(fn, [])).toBe(empty);
      expect(all(fn, [])).toBe(empty);
      expect(tiles(fn, [null, null])).toBe(empty);
      expect(all(fn, [null, null])).toBe(empty);
    }
  });

  it('count counts non-null values; a zero sum is +0', () => {
    expect(tiles('count', [1, null, 0, null, -0])).toBe(3);
    expect(Object.is(tiles('sum', [-0, -0]), 0)).toBe(true);
    expect(Object.is(tiles('min', [0, -0]), 0)).toBe(true);
    expect(Object.is(tiles('max', [-0, 0]), 0)).toBe(true);
  });
});
