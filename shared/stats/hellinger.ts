/** Hellinger distance between two discrete distributions. */

import { assertAligned, toShares } from './shares.ts';
import { Accumulator } from './sum.ts';

/** √(Σ(√p − √q)²)/√2 from two aligned count vectors; in [0, 1]. */
export function hellinger(referenceCounts: ArrayLike<number>, currentCounts: ArrayLike<number>): number {
  assertAligned(referenceCounts, currentCounts);
  const p = toShares(referenceCounts);
  const q = toShares(currentCounts);
  const acc = new Accumulator();
  for (let i = 0; i < p.length; i++) {
    const d = Math.sqrt(p[i]!) - Math.sqrt(q[i]!);
    acc.add(d * d);
  }
  return Math.sqrt(acc.value()) / Math.SQRT2;
}
