/**
 * Exact floating-point summation, so a sum does not depend on the order its terms arrive in.
 *
 * A plain `a + b + c` rounds after every step, and the rounding errors depend on the order:
 * online tiles are updated in arrival order and merged in tile order, offline sums run in
 * whatever order the database reads rows, and the two must agree to the bit. Instead a sum is
 * kept as Shewchuk's non-overlapping partials (the algorithm of Python's `math.fsum`): a short
 * list of doubles whose exact mathematical sum is exactly the sum of every term added so far.
 * Rounding happens once, at the end, to the nearest double (ties to even) of that exact value,
 * which is a function of the multiset of terms alone.
 *
 * Everything here is plain IEEE-754 double arithmetic with round-to-nearest (no fused
 * multiply-add, no extended precision), so a Lua script in Redis (whose numbers are doubles)
 * can run the same steps and get the same bits.
 */

/**
 * Adds `x` to the partials in place (Python's `msum` inner loop). The partials stay
 * non-overlapping and increasing in magnitude, and their exact sum grows by exactly `x`,
 * as long as no intermediate result overflows (callers keep magnitudes far below 2^1023).
 */
export function growPartials(partials: number[], x: number): void {
  const n = partials.length;
  let i = 0;
  for (let j = 0; j < n; j++) {
    let y = partials[j]!;
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) partials[i++] = lo;
    x = hi;
  }
  // Written in place, the length changed only when it must: the offline sweep adds and takes
  // away every event, and truncating then pushing was a tenth of its time.
  if (i === n) partials.push(x);
  else {
    partials[i] = x;
    if (i + 1 < n) partials.length = i + 1;
  }
}

/** The exact sum of the partials, correctly rounded to the nearest double (Python's `fsum` end step). */
export function roundPartials(partials: readonly number[]): number {
  let n = partials.length;
  if (n === 0) return 0;
  n -= 1;
  let hi = partials[n]!;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    n -= 1;
    const y = partials[n]!;
    hi = x + y;
    const yr = hi - x;
    lo = y - yr;
    if (lo !== 0) break;
  }
  // Half-way cases: the rounding of hi + lo went to even, but the partials below say the
  // exact value lies beyond the half-way point, so round the other way.
  if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
    const y = lo * 2;
    const x = hi + y;
    const yr = x - hi;
    if (y === yr) hi = x;
  }
  // A zero sum is +0 whatever the signs of the zeros that made it.
  return hi + 0;
}

/**
 * The canonical expansion of the partials' exact sum: c1 = round(S), c2 = round(S - c1), ...
 * until the rest is zero. Unlike the partials themselves (which depend on the order terms
 * were added in), it depends on the exact value only, so arithmetic on it is order-free too.
 */
export function canonicalExpansion(partials: readonly number[]): number[] {
  const rest = [...partials];
  const out: number[] = [];
  for (;;) {
    const c = roundPartials(rest);
    if (c === 0) return out;
    out.push(c);
    growPartials(rest, -c);
  }
}

/** 2^27 + 1: Veltkamp's splitter for doubles. */
const SPLITTER = 134_217_729;

/**
 * a·b exactly as hi + lo (Dekker's TwoProduct, without fused multiply-add so Lua can mirror it).
 * Exact when |a|, |b| < 2^996, the product does not overflow and its low part does not underflow.
 */
export function twoProduct(a: number, b: number): [number, number] {
  const hi = a * b;
  let c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLITTER * b;
  const bh = c - (c - b);
  const bl = b - bh;
  const lo = ah * bh - hi + ah * bl + al * bh + al * bl;
  return [hi, lo];
}
