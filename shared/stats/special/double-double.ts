/**
 * Just enough double-double arithmetic (hi + lo, ~106 bits) to port scipy's one-sided
 * Smirnov sum, which needs it: the sum has up to n terms of binomials times powers with
 * exponents up to n, and plain doubles lose log2(n) bits on each of them.
 * Algorithms: Dekker/Knuth error-free transforms as in the QD library (Hida, Li, Bailey).
 */

/** A double-double number hi + lo with |lo| <= ulp(hi)/2. */
export interface DD {
  readonly hi: number;
  readonly lo: number;
}

const SPLITTER = 134217729; // 2^27 + 1

/** Creates a double-double from one double. */
export function dd(x: number): DD {
  return { hi: x, lo: 0 };
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return { hi: s, lo: b - (s - a) };
}

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return { hi: s, lo: a - (s - bb) + (b - bb) };
}

function split(a: number): [number, number] {
  const t = SPLITTER * a;
  const hi = t - (t - a);
  return [hi, a - hi];
}

function twoProd(a: number, b: number): DD {
  const p = a * b;
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return { hi: p, lo: ah * bh - p + ah * bl + al * bh + al * bl };
}

/** a + b of two doubles, exactly. */
export function addDd(a: number, b: number): DD {
  return twoSum(a, b);
}

/** a · b of two doubles, exactly. */
export function mulDd(a: number, b: number): DD {
  return twoProd(a, b);
}

/** a + b. */
export function add(a: DD, b: DD): DD {
  const s = twoSum(a.hi, b.hi);
  const t = twoSum(a.lo, b.lo);
  let r = quickTwoSum(s.hi, s.lo + t.hi);
  r = quickTwoSum(r.hi, r.lo + t.lo);
  return r;
}

/** −a. */
export function neg(a: DD): DD {
  return { hi: -a.hi, lo: -a.lo };
}

/** a − b. */
export function sub(a: DD, b: DD): DD {
  return add(a, neg(b));
}

/** a · b. */
export function mul(a: DD, b: DD): DD {
  const p = twoProd(a.hi, b.hi);
  return quickTwoSum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi));
}

/** a · b for a double b. */
export function mulD(a: DD, b: number): DD {
  const p = twoProd(a.hi, b);
  return quickTwoSum(p.hi, p.lo + a.lo * b);
}

/** a / b of two doubles, to double-double precision. */
export function divDd(a: number, b: number): DD {
  const q1 = a / b;
  const p = twoProd(q1, b);
  const s = twoSum(a, -p.hi);
  const q2 = (s.hi + (s.lo - p.lo)) / b;
  return quickTwoSum(q1, q2);
}

/** a / b. */
export function div(a: DD, b: DD): DD {
  const q1 = a.hi / b.hi;
  let r = sub(a, mulD(b, q1));
  const q2 = r.hi / b.hi;
  r = sub(r, mulD(b, q2));
  const q3 = r.hi / b.hi;
  return add(quickTwoSum(q1, q2), dd(q3));
}

/** The double nearest to a. */
export function toDouble(a: DD): number {
  return a.hi + a.lo;
}

/** floor(a). */
export function floor(a: DD): DD {
  const hi = Math.floor(a.hi);
  if (hi === a.hi) return quickTwoSum(hi, Math.floor(a.lo));
  return { hi, lo: 0 };
}

/** Whether a is zero. */
export function isZero(a: DD): boolean {
  return a.hi === 0;
}

/** Whether a is finite. */
export function isFiniteDD(a: DD): boolean {
  return Number.isFinite(a.hi);
}

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
// Little-endian hosts hold the sign/exponent word at index 1 (Node on x64 and arm64).
const HI_WORD = 1;

/** C's frexp: x = m · 2^e with 0.5 <= |m| < 1. */
export function frexp(x: number): [number, number] {
  if (x === 0 || !Number.isFinite(x) || Number.isNaN(x)) return [x, 0];
  F64[0] = x;
  let biased = (U32[HI_WORD]! >>> 20) & 0x7ff;
  let extra = 0;
  if (biased === 0) {
    // Subnormal: scale into the normal range first.
    F64[0] = x * 2 ** 64;
    biased = (U32[HI_WORD]! >>> 20) & 0x7ff;
    extra = -64;
  }
  const e = biased - 1022;
  U32[HI_WORD] = (U32[HI_WORD]! & 0x800fffff) | (1022 << 20);
  return [F64[0]!, e + extra];
}

/** C's ldexp: x · 2^e, without intermediate overflow for large |e|. */
export function ldexp(x: number, e: number): number {
  let r = x;
  let k = e;
  while (k > 1000) {
    r *= 2 ** 1000;
    k -= 1000;
  }
  while (k < -1000) {
    r *= 2 ** -1000;
    k += 1000;
  }
  return r * 2 ** k;
}

/** frexp of a double-double: the mantissa of hi in [0.5, 1), lo scaled alike. */
export function frexpDD(a: DD): [DD, number] {
  const [m, e] = frexp(a.hi);
  return [{ hi: m, lo: ldexp(a.lo, -e) }, e];
}

/** a · 2^e. */
export function ldexpDD(a: DD, e: number): DD {
  return { hi: ldexp(a.hi, e), lo: ldexp(a.lo, e) };
}

/** 1 / a. */
export function inv(a: DD): DD {
  return div(dd(1), a);
}
