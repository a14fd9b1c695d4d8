/** Pooled two-proportion z-test for a binary feature. */

import { normalTwoSided } from './special/normal.ts';

/** A z statistic and its two-sided p-value. */
export interface ZTestResult {
  statistic: number;
  pValue: number;
}

/**
 * Tests whether the share of the second category differs between reference and current
 * counts ([first, second] each); null when either sample is empty. z > 0 means the share grew.
 */
export function twoProportionZ(
  referenceCounts: readonly [number, number] | ArrayLike<number>,
  currentCounts: readonly [number, number] | ArrayLike<number>,
): ZTestResult | null {
  if (referenceCounts.length !== 2 || currentCounts.length !== 2) return null;
  const n1 = referenceCounts[0]! + referenceCounts[1]!;
  const n2 = currentCounts[0]! + currentCounts[1]!;
  if (!(n1 > 0 && n2 > 0)) return null;
  const x1 = referenceCounts[1]!;
  const x2 = currentCounts[1]!;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  // Both samples all one category: the shares are equal and there is nothing to test.
  if (se === 0) return { statistic: 0, pValue: 1 };
  const statistic = (x2 / n2 - x1 / n1) / se;
  return { statistic, pValue: normalTwoSided(statistic) };
}
