/** Population stability index over aligned bins or categories. */

import { assertAligned, toShares } from './shares.ts';
import { Accumulator } from './sum.ts';

/** Share substituted for an empty bin: PSI is infinite otherwise (the usual convention). */
export const PSI_EMPTY_SHARE = 0.0001;

/** PSI = Σ (c − r)·ln(c / r) over bins, from reference and current counts; 0-shares become 0.0001. */
export function psi(referenceCounts: ArrayLike<number>, currentCounts: ArrayLike<number>): number {
  assertAligned(referenceCounts, currentCounts);
  const r = toShares(referenceCounts);
  const c = toShares(currentCounts);
  const acc = new Accumulator();
  for (let i = 0; i < r.length; i++) {
    const ri = r[i] === 0 ? PSI_EMPTY_SHARE : r[i]!;
    const ci = c[i] === 0 ? PSI_EMPTY_SHARE : c[i]!;
    acc.add((ci - ri) * Math.log(ci / ri));
  }
  return acc.value();
}
