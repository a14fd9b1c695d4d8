/** Jensen–Shannon distance (scipy `spatial.distance.jensenshannon`). */

import { assertAligned, toShares } from './shares.ts';
import { Accumulator } from './sum.ts';

// scipy's rel_entr: x·ln(x/y), 0 when x = 0.
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Number.POSITIVE_INFINITY;
}

/** √(JS divergence) between the distributions given by two count vectors; base e by default, 2 gives [0, 1]. */
export function jensenShannon(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  base: number = Math.E,
): number {
  assertAligned(referenceCounts, currentCounts);
  const p = toShares(referenceCounts);
  const q = toShares(currentCounts);
  const left = new Accumulator();
  const right = new Accumulator();
  for (let i = 0; i < p.length; i++) {
    const m = (p[i]! + q[i]!) / 2;
    left.add(relEntr(p[i]!, m));
    right.add(relEntr(q[i]!, m));
  }
  let js = left.value() + right.value();
  if (base !== Math.E) js /= Math.log(base);
  // Rounding can leave a tiny negative divergence for identical inputs.
  return Math.sqrt(Math.max(js, 0) / 2);
}
