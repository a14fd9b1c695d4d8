/**
 * The brute-force reference: an aggregation's value at `t` computed straight from the raw
 * events, with exact rational arithmetic (BigInt) and one final rounding, sharing no code
 * with the tile path of `state.ts` beyond the definitions of the semantics. Tests hold the
 * tiles, the online store and the offline computation to it, bit for bit. Slow; not for serving.
 */
import type { AggregationSpec } from '../definitions/types.ts';
import {
  type AggregateValue,
  type EventOrder,
  type EventValue,
  isLater,
  numericValue,
  STDDEV_MAX,
  STDDEV_MIN,
} from './state.ts';
import { inWindow } from './window.ts';

/** One raw event as the reference reads it: its order fields and its source columns by name. */
export interface ReferenceEvent extends EventOrder {
  values: Readonly<Record<string, EventValue>>;
}

/** Exponent of the fixed point every double is an integer multiple of (2^-1074). */
const FRAC = 1074n;

/** A finite double as the exact integer x·2^1074. */
export function exactScaled(x: number): bigint {
  if (x === 0) return 0n;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n === 1n ? -1n : 1n;
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  // value = mantissa·2^(e−1075) for normals, fraction·2^(−1074) for subnormals.
  const scaled = exponent === 0 ? fraction : (fraction | (1n << 52n)) << BigInt(exponent - 1);
  return sign * scaled;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** The nearest double (ties to even) to N·2^-shift for an integer N and shift ≥ 1074; ±Infinity beyond range. */
export function roundScaled(value: bigint, shift: bigint = FRAC): number {
  if (value === 0n) return 0;
  const negative = value < 0n;
  let n = negative ? -value : value;
  // The result's ulp is at least 2^-1074, i.e. at least 2^(shift−1074) in units of N.
  const length = bitLength(n);
  let drop = BigInt(Math.max(length - 53, 0));
  if (drop < shift - FRAC) drop = shift - FRAC;
  if (drop > 0n) {
    const rest = n & ((1n << drop) - 1n);
    n >>= drop;
    const half = 1n << (drop - 1n);
    if (rest > half || (rest === half && (n & 1n) === 1n)) n += 1n;
  }
  // Now the value is n·2^(drop − shift) with n ≤ 2^53 and drop − shift ≥ −1074.
  let e = Number(drop - shift);
  let out = Number(n);
  while (e > 1000) {
    out *= 2 ** 1000;
    e -= 1000;
  }
  if (e < -1000) {
    out *= 2 ** -1000;
    e += 1000;
  }
  out *= 2 ** e;
  return negative ? -out : out + 0;
}

function nonNull(events: readonly ReferenceEvent[], column: string): { e: ReferenceEvent; v: EventValue }[] {
  return events
    .filter((e) => e.values[column] !== null && e.values[column] !== undefined)
    .map((e) => ({ e, v: e.values[column] }));
}

/** The value of `aggregation` at instant `t` over `events` (any order), by brute force. */
export function aggregateEvents(
  events: readonly ReferenceEvent[],
  aggregation: Pick<AggregationSpec, 'column' | 'function' | 'windowMs' | 'resolutionMs'>,
  t: number,
): AggregateValue {
  const inside = events.filter((e) => inWindow(e.ts, t, aggregation.windowMs, aggregation.resolutionMs));
  const present = nonNull(inside, aggregation.column);
  const xs = () => present.map(({ v }) => numericValue(v as bigint | number | string | boolean));
  switch (aggregation.function) {
    case 'count':
      return present.length;
    case 'sum':
    case 'mean': {
      const values = xs();
      if (aggregation.function === 'mean' && values.length === 0) return null;
      const n = Math.max(values.length, 1);
      const total = values.reduce((acc, x) => acc + exactScaled(x), 0n);
      const sum = roundScaled(total);
      if (Math.abs(sum) < 2 ** 1022) return aggregation.function === 'sum' ? sum : sum / n;
      const u = roundScaled(total, FRAC + 64n);
      return aggregation.function === 'sum' ? u * 2 ** 64 : (u / n) * 2 ** 64;
    }
    case 'stddev': {
      const values = xs();
      const n = values.length;
      if (n < 2 || values.some((x) => Math.abs(x) > STDDEV_MAX)) return null;
      const kept = values.map((x) => (Math.abs(x) < STDDEV_MIN ? 0n : exactScaled(x)));
      const s = kept.reduce((acc, x) => acc + x, 0n);
      const q = kept.reduce((acc, x) => acc + x * x, 0n);
      const d = roundScaled(BigInt(n) * q - s * s, 2n * FRAC);
      return Math.sqrt(d / (n * (n - 1)));
    }
    case 'min':
    case 'max': {
      const values = xs();
      if (values.length === 0) return null;
      return aggregation.function === 'min' ? Math.min(...values) : Math.max(...values);
    }
    case 'last': {
      let best: { e: ReferenceEvent; v: EventValue } | null = null;
      for (const item of present) if (best === null || isLater(item.e, best.e)) best = item;
      if (best === null) return null;
      return typeof best.v === 'number' ? best.v + 0 : (best.v as AggregateValue);
    }
  }
}
