/**
 * Chi-square tests on category counts. Goodness of fit treats the reference shares as
 * known (scipy `chisquare`); the contingency test (scipy `chi2_contingency`,
 * correction=False) treats the reference as a sample too, and still works when the window
 * has a category the reference never saw.
 */

import { assertAligned } from './shares.ts';
import { chi2Sf } from './special/gamma.ts';
import { Accumulator, sum } from './sum.ts';

/** A chi-square statistic, its degrees of freedom and p-value. */
export interface ChiSquareResult {
  statistic: number;
  dof: number;
  pValue: number;
}

/**
 * Goodness of fit of the current counts to the reference shares; null (not applicable)
 * when a reference count is 0, where the expected count is 0 and the statistic infinite.
 */
export function chiSquareGoodnessOfFit(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
): ChiSquareResult | null {
  assertAligned(referenceCounts, currentCounts);
  const k = referenceCounts.length;
  if (k < 2) return null;
  for (let i = 0; i < k; i++) if (!(referenceCounts[i]! > 0)) return null;
  const refTotal = sum(referenceCounts);
  const n = sum(currentCounts);
  if (!(n > 0)) return null;
  const acc = new Accumulator();
  for (let i = 0; i < k; i++) {
    const expected = (referenceCounts[i]! / refTotal) * n;
    const d = currentCounts[i]! - expected;
    acc.add((d * d) / expected);
  }
  const statistic = acc.value();
  return { statistic, dof: k - 1, pValue: chi2Sf(statistic, k - 1) };
}

/**
 * Test of homogeneity of the 2 × k table [reference; current], without Yates' correction.
 * Categories absent from both rows are dropped (their expected count is 0); null when
 * fewer than two categories remain or a row is empty.
 */
export function chiSquareContingency(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
): ChiSquareResult | null {
  assertAligned(referenceCounts, currentCounts);
  const cols: Array<[number, number]> = [];
  for (let i = 0; i < referenceCounts.length; i++) {
    const r = referenceCounts[i]!;
    const c = currentCounts[i]!;
    if (r + c > 0) cols.push([r, c]);
  }
  if (cols.length < 2) return null;
  const rowRef = sum(cols.map(([r]) => r));
  const rowCur = sum(cols.map(([, c]) => c));
  if (!(rowRef > 0 && rowCur > 0)) return null;
  const total = rowRef + rowCur;
  const acc = new Accumulator();
  for (const [r, c] of cols) {
    const colTotal = r + c;
    const er = (rowRef * colTotal) / total;
    const ec = (rowCur * colTotal) / total;
    acc.add(((r - er) * (r - er)) / er);
    acc.add(((c - ec) * (c - ec)) / ec);
  }
  const statistic = acc.value();
  const dof = cols.length - 1;
  return { statistic, dof, pValue: chi2Sf(statistic, dof) };
}
