/** Count vectors to shares: the distances compare distributions, not sample sizes. */

import { sum } from './sum.ts';

/** Divides counts by their total; an all-zero vector gives NaNs (callers check for empty windows first). */
export function toShares(counts: ArrayLike<number>): number[] {
  const total = sum(counts);
  return Array.from(counts, (c) => c / total);
}

/** Throws unless the two count vectors have the same length (bins or categories must be aligned). */
export function assertAligned(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length)
    throw new RangeError(`count vectors differ in length: ${a.length} vs ${b.length}`);
}
