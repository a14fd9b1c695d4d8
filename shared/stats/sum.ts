/**
 * Compensated summation. Drift scores add thousands of small terms; Neumaier's
 * correction keeps the rounding error independent of the number of terms, so the
 * results stay within a few ulps of numpy/scipy whatever order they summed in.
 */

/** Neumaier-compensated sum of `values`. */
export function sum(values: ArrayLike<number>): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const t = s + x;
    c += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
    s = t;
  }
  return s + c;
}

/** A running compensated sum, for loops that produce their terms one at a time. */
export class Accumulator {
  private s = 0;
  private c = 0;

  /** Adds one term. */
  add(x: number): void {
    const t = this.s + x;
    this.c += Math.abs(this.s) >= Math.abs(x) ? this.s - t + x : x - t + this.s;
    this.s = t;
  }

  /** The sum so far. */
  value(): number {
    return this.s + this.c;
  }
}
