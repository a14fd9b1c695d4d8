/**
 * Tile state per aggregation function: what a tile `(s, s + r]` of one entity keeps, how an
 * event is added, how tiles merge, and how merged state becomes a feature value.
 *
 * The one requirement is exactness: folding the same events into states in any order, in
 * any grouping into tiles, and merging those tiles in any order gives bit-identical results,
 * equal to the brute force of `reference.ts`. So every state is a function of the multiset
 * of its events only (sums are exact partials, see `exact.ts`); order enters only where the
 * function is about order (`last`), and then through the events' own (time, created, offset).
 *
 * States are plain data and encode to short JSON arrays (`encodeState`) for the online store.
 */
import type { AggregationFunction } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import { canonicalExpansion, growPartials, roundPartials, twoProduct } from './exact.ts';

/** A source column's value as events carry it (int64 beyond 2^53 as bigint); null/undefined is missing. */
export type EventValue = bigint | number | string | boolean | null | undefined;

/** Where an event sits in the order `last` uses: event time, then created (null first), then offset. */
export interface EventOrder {
  /** Event time, epoch ms. */
  ts: number;
  /** Creation time, epoch ms; null when the event carried none (orders before any creation time). */
  created: number | null;
  /** The Kafka offset (exact below 2^53), the last tie-break. */
  offset: number;
}

/** A feature value: a number for the numeric functions, the column's value for `last`, or null. */
export type AggregateValue = bigint | number | string | boolean | null;

export interface CountState {
  fn: 'count';
  /** Non-null values. */
  n: number;
}
export interface SumState {
  fn: 'sum';
  /** Exact partials of the values below 2^960 in magnitude. */
  p: number[];
  /** Exact partials of the values of magnitude 2^960 and above, each times 2^-64 (so no sum overflows). */
  b: number[];
}
export interface MeanState {
  fn: 'mean';
  n: number;
  p: number[];
  b: number[];
}
export interface StddevState {
  fn: 'stddev';
  /** Non-null values, including `over` and those flushed to 0. */
  n: number;
  /** Values of magnitude above 2^480, whose squares are not kept: the window's stddev is null. */
  over: number;
  /** Exact partials of Σx. */
  p: number[];
  /** Exact partials of Σx² (each square added exactly as TwoProduct's hi + lo). */
  q: number[];
}
export interface ExtremeState {
  fn: 'min' | 'max';
  v: number | null;
}
export interface LastState {
  fn: 'last';
  /** The latest event with a non-null value, or null. */
  at: EventOrder | null;
  v: bigint | number | string | boolean | null;
}

export type AggregationState = CountState | SumState | MeanState | StddevState | ExtremeState | LastState;

export const AGGREGATION_FUNCTIONS: readonly AggregationFunction[] = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'stddev',
  'last',
];

/** Functions that need a numeric (int64 or float64) column; `count` and `last` take any. */
export const NUMERIC_FUNCTIONS: readonly AggregationFunction[] = ['sum', 'mean', 'min', 'max', 'stddev'];

/** At and above this magnitude a summed value goes to the scaled list `b`. */
export const SUM_BIG = 2 ** 960;
/** `b` holds values times this. */
export const SUM_BIG_SCALE = 2 ** -64;
/** Above this magnitude a value's square is not kept: stddev is null. */
export const STDDEV_MAX = 2 ** 480;
/** Below this magnitude a value counts as 0 for stddev. */
export const STDDEV_MIN = 2 ** -480;

/** The state of a tile (or window) with no events. */
export function emptyState(fn: AggregationFunction): AggregationState {
  switch (fn) {
    case 'count':
      return { fn, n: 0 };
    case 'sum':
      return { fn, p: [], b: [] };
    case 'mean':
      return { fn, n: 0, p: [], b: [] };
    case 'stddev':
      return { fn, n: 0, over: 0, p: [], q: [] };
    case 'min':
    case 'max':
      return { fn, v: null };
    case 'last':
      return { fn, at: null, v: null };
  }
}

/**
 * A numeric value as a double: bigint (int64 beyond 2^53) to the nearest double, -0 to +0
 * (so min, max and sums never depend on which zero came first). Throws TRIB_WRONG_TYPE for
 * a non-number and TRIB_NOT_FINITE for NaN or ±Infinity: decoded events never carry either.
 */
export function numericValue(value: bigint | number | string | boolean): number {
  const x = typeof value === 'bigint' ? Number(value) : value;
  if (typeof x !== 'number') {
    throw new TributaryError('TRIB_WRONG_TYPE', `an aggregation expected a number, got ${typeof value}`, {
      details: { value: String(value) },
    });
  }
  if (!Number.isFinite(x)) {
    throw new TributaryError('TRIB_NOT_FINITE', `an aggregation got the non-finite value ${x}`);
  }
  return x + 0;
}

/** True when event `a` is later than `b` in the order `last` uses. */
export function isLater(a: EventOrder, b: EventOrder): boolean {
  if (a.ts !== b.ts) return a.ts > b.ts;
  const ac = a.created ?? Number.NEGATIVE_INFINITY;
  const bc = b.created ?? Number.NEGATIVE_INFINITY;
  if (ac !== bc) return ac > bc;
  return a.offset > b.offset;
}

function addToSum(p: number[], b: number[], x: number): void {
  if (Math.abs(x) >= SUM_BIG) growPartials(b, x * SUM_BIG_SCALE);
  else growPartials(p, x);
}

/**
 * The state after one more event. Returns a new state; `state` is not changed. A null or
 * missing value leaves every state as it is (count counts non-null values only).
 */
export function addValue(state: AggregationState, value: EventValue, at: EventOrder): AggregationState {
  if (value === null || value === undefined) return state;
  switch (state.fn) {
    case 'count':
      return { fn: 'count', n: state.n + 1 };
    case 'sum': {
      const next: SumState = { fn: 'sum', p: [...state.p], b: [...state.b] };
      addToSum(next.p, next.b, numericValue(value));
      return next;
    }
    case 'mean': {
      const next: MeanState = { fn: 'mean', n: state.n + 1, p: [...state.p], b: [...state.b] };
      addToSum(next.p, next.b, numericValue(value));
      return next;
    }
    case 'stddev': {
      const x = numericValue(value);
      const next: StddevState = {
        fn: 'stddev',
        n: state.n + 1,
        over: state.over,
        p: [...state.p],
        q: [...state.q],
      };
      const m = Math.abs(x);
      if (m > STDDEV_MAX) next.over += 1;
      else if (m >= STDDEV_MIN) {
        growPartials(next.p, x);
        const [hi, lo] = twoProduct(x, x);
        growPartials(next.q, hi);
        growPartials(next.q, lo);
      }
      return next;
    }
    case 'min':
    case 'max': {
      const x = numericValue(value);
      if (state.v === null) return { fn: state.fn, v: x };
      return { fn: state.fn, v: state.fn === 'min' ? Math.min(state.v, x) : Math.max(state.v, x) };
    }
    case 'last':
      if (state.at !== null && !isLater(at, state.at)) return state;
      // -0 as +0 here too: JSON (and so the stored state) cannot tell them apart.
      return { fn: 'last', at: { ...at }, v: typeof value === 'number' ? value + 0 : value };
  }
}

function mergedPartials(a: readonly number[], b: readonly number[]): number[] {
  const out = [...a];
  for (const x of b) growPartials(out, x);
  return out;
}

/** The state of the union of two disjoint sets of events (two tiles, or a window and a tile). */
export function merge(a: AggregationState, b: AggregationState): AggregationState {
  if (a.fn !== b.fn) {
    throw new TributaryError('TRIB_INTERNAL', `cannot merge a ${a.fn} state with a ${b.fn} state`);
  }
  switch (a.fn) {
    case 'count':
      return { fn: 'count', n: a.n + (b as CountState).n };
    case 'sum': {
      const o = b as SumState;
      return { fn: 'sum', p: mergedPartials(a.p, o.p), b: mergedPartials(a.b, o.b) };
    }
    case 'mean': {
      const o = b as MeanState;
      return { fn: 'mean', n: a.n + o.n, p: mergedPartials(a.p, o.p), b: mergedPartials(a.b, o.b) };
    }
    case 'stddev': {
      const o = b as StddevState;
      return {
        fn: 'stddev',
        n: a.n + o.n,
        over: a.over + o.over,
        p: mergedPartials(a.p, o.p),
        q: mergedPartials(a.q, o.q),
      };
    }
    case 'min':
    case 'max': {
      const v = (b as ExtremeState).v;
      if (a.v === null) return { fn: a.fn, v };
      if (v === null) return { fn: a.fn, v: a.v };
      return { fn: a.fn, v: a.fn === 'min' ? Math.min(a.v, v) : Math.max(a.v, v) };
    }
    case 'last': {
      const o = b as LastState;
      if (o.at === null) return a;
      if (a.at === null || isLater(o.at, a.at)) return o;
      return a;
    }
  }
}

/** Merges any number of states of one function (empty list: the empty state of `fn`). */
export function mergeAll(fn: AggregationFunction, states: Iterable<AggregationState>): AggregationState {
  let out = emptyState(fn);
  for (const s of states) out = merge(out, s);
  return out;
}

/** At or above this magnitude a sum is rounded through the scaled domain (see `sumAndMean`). */
const HUGE = 2 ** 1022;

/**
 * The correctly rounded sum T of a sum state, and T/n. When |round(T)| < 2^1022 the mean is
 * round(T)/n. Beyond, u = round(T·2^-64) is formed and sum = u·2^64 (±Infinity when T
 * overflows), mean = (u/n)·2^64, so a mean of huge values is finite even where their sum is not.
 */
function sumAndMean(p: readonly number[], b: readonly number[], n: number): { sum: number; mean: number } {
  const big = roundPartials(b);
  if (big === 0) {
    // Every value was below 2^960: |T| < 2^1022 for any realistic count, no overflow.
    const sum = roundPartials(p);
    return { sum, mean: sum / n };
  }
  if (Math.abs(big) < 2 ** 959) {
    const all = [...p];
    for (const x of b) growPartials(all, x / SUM_BIG_SCALE);
    const sum = roundPartials(all);
    if (Math.abs(sum) < HUGE) return { sum, mean: sum / n };
  }
  // T·2^-64 = B + P·2^-64. The canonical expansion of P (a function of its exact value) is
  // scaled down; only bits below 2^-1074 can be lost there, which can matter solely to break
  // an exact tie, and even then the same way whatever the order of the events.
  const scaled = [...b];
  for (const c of canonicalExpansion(p)) growPartials(scaled, c * SUM_BIG_SCALE);
  const u = roundPartials(scaled);
  return { sum: u / SUM_BIG_SCALE, mean: u / n / SUM_BIG_SCALE };
}

/**
 * Sample variance numerator D = n·Σx² − (Σx)², exactly, rounded once: both sums are taken as
 * their canonical expansions and every product is split exactly by TwoProduct. Exact for the
 * values stddev keeps (2^-480 ≤ |x| ≤ 2^480, fewer than 2^31 of them).
 */
function varianceNumerator(n: number, p: readonly number[], q: readonly number[]): number {
  const s = canonicalExpansion(p);
  const terms: number[] = [];
  for (const qi of canonicalExpansion(q)) {
    const [hi, lo] = twoProduct(n, qi);
    growPartials(terms, hi);
    growPartials(terms, lo);
  }
  for (const si of s) {
    for (const sj of s) {
      const [hi, lo] = twoProduct(si, sj);
      growPartials(terms, -hi);
      growPartials(terms, -lo);
    }
  }
  return Math.max(0, roundPartials(terms));
}

/**
 * The feature value of a (merged) state. Empty: 0 for count and sum, null for the rest.
 * stddev: null below two values or when a value exceeds 2^480 in magnitude; otherwise
 * √(D / (n·(n−1))) with D the exactly computed, once-rounded n·Σx² − (Σx)².
 */
export function finalize(state: AggregationState): AggregateValue {
  switch (state.fn) {
    case 'count':
      return state.n;
    case 'sum':
      return sumAndMean(state.p, state.b, 1).sum;
    case 'mean':
      return state.n === 0 ? null : sumAndMean(state.p, state.b, state.n).mean;
    case 'stddev': {
      if (state.n < 2 || state.over > 0) return null;
      const d = varianceNumerator(state.n, state.p, state.q);
      return Math.sqrt(d / (state.n * (state.n - 1)));
    }
    case 'min':
    case 'max':
      return state.v;
    case 'last':
      return state.v;
  }
}

// ---- encoding -------------------------------------------------------------------------------

/** A state as a JSON array (layout in docs/aggregations.md); doubles survive JSON exactly. */
export type EncodedState = (number | string | boolean | null)[];

/**
 * Encodes a state compactly:
 * count `[n]`; sum `[k, p1..pk, b...]`; mean `[n, k, p1..pk, b...]`;
 * stddev `[n, over, k, p1..pk, q...]`; min/max `[]` or `[v]`;
 * last `[]` or `[ts, created, offset, v]`, with an int64 beyond 2^53 as `[ts, created, offset, "digits", "int64"]`.
 */
export function encodeState(state: AggregationState): EncodedState {
  switch (state.fn) {
    case 'count':
      return [state.n];
    case 'sum':
      return [state.p.length, ...state.p, ...state.b];
    case 'mean':
      return [state.n, state.p.length, ...state.p, ...state.b];
    case 'stddev':
      return [state.n, state.over, state.p.length, ...state.p, ...state.q];
    case 'min':
    case 'max':
      return state.v === null ? [] : [state.v];
    case 'last': {
      if (state.at === null) return [];
      const head = [state.at.ts, state.at.created, state.at.offset];
      return typeof state.v === 'bigint' ? [...head, state.v.toString(), 'int64'] : [...head, state.v];
    }
  }
}

function corrupt(fn: AggregationFunction, encoded: unknown): never {
  throw new TributaryError('TRIB_INTERNAL', `stored ${fn} aggregation state is malformed`, {
    details: { state: JSON.stringify(encoded) },
  });
}

function numbers(fn: AggregationFunction, encoded: unknown, values: unknown[]): number[] {
  for (const v of values) if (typeof v !== 'number' || !Number.isFinite(v)) corrupt(fn, encoded);
  return values as number[];
}

/** The state `encodeState` encoded; throws TRIB_INTERNAL for anything else. */
export function decodeState(fn: AggregationFunction, encoded: unknown): AggregationState {
  if (!Array.isArray(encoded)) corrupt(fn, encoded);
  const a = encoded as unknown[];
  const split = (at: number, kIndex: number): [number[], number[]] => {
    const k = a[kIndex];
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || at + k > a.length) corrupt(fn, encoded);
    return [numbers(fn, encoded, a.slice(at, at + k)), numbers(fn, encoded, a.slice(at + k))];
  };
  const count = (v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) corrupt(fn, encoded);
    return v;
  };
  switch (fn) {
    case 'count':
      if (a.length !== 1) corrupt(fn, encoded);
      return { fn, n: count(a[0]) };
    case 'sum': {
      const [p, b] = split(1, 0);
      return { fn, p, b };
    }
    case 'mean': {
      const [p, b] = split(2, 1);
      return { fn, n: count(a[0]), p, b };
    }
    case 'stddev': {
      const [p, q] = split(3, 2);
      return { fn, n: count(a[0]), over: count(a[1]), p, q };
    }
    case 'min':
    case 'max':
      if (a.length === 0) return { fn, v: null };
      if (a.length !== 1) corrupt(fn, encoded);
      return { fn, v: numbers(fn, encoded, a)[0]! };
    case 'last': {
      if (a.length === 0) return { fn, at: null, v: null };
      if (a.length !== 4 && !(a.length === 5 && a[4] === 'int64')) corrupt(fn, encoded);
      const [ts, created, offset, v] = a;
      if (typeof ts !== 'number' || typeof offset !== 'number') corrupt(fn, encoded);
      if (created !== null && typeof created !== 'number') corrupt(fn, encoded);
      if (v === null || (typeof v === 'object' && v !== null)) corrupt(fn, encoded);
      let value = v as bigint | number | string | boolean;
      if (a.length === 5) {
        if (typeof v !== 'string' || !/^-?\d+$/.test(v)) corrupt(fn, encoded);
        value = BigInt(v as string);
      }
      return { fn, at: { ts, created: created as number | null, offset }, v: value };
    }
  }
}
