/**
 * The two-sample Kolmogorov–Smirnov test as scipy's `ks_2samp` (two-sided) computes it,
 * on full sorted samples. For bounded-memory windows see `sketch.ts`.
 */

import { kstwoSf } from './special/kolmogorov.ts';
import { ksTwoSampleExact, roundHalfEven } from './special/ks-two-sample.ts';

/** scipy's p-value modes: 'auto' is exact when both samples have at most 10 000 values. */
export type KsMode = 'auto' | 'exact' | 'asymp';

/** Result of a two-sample KS test. */
export interface KsResult {
  /** sup |F_ref − F_cur|; in exact mode snapped to the lattice h/lcm(n1, n2), as scipy does. */
  statistic: number;
  pValue: number;
  /** The mode that produced the p-value. */
  mode: 'exact' | 'asymp';
}

/** scipy's MAX_AUTO_N: 'auto' computes the exact distribution up to this sample size. */
export const KS_MAX_AUTO_N = 10_000;

/** The two-sided KS statistic of two ascending samples, as scipy computes it (ECDF differences at every value). */
export function ksStatistic(sortedA: ArrayLike<number>, sortedB: ArrayLike<number>): number {
  const n1 = sortedA.length;
  const n2 = sortedB.length;
  let i = 0;
  let j = 0;
  let maxS = Number.NEGATIVE_INFINITY;
  let minS = Number.POSITIVE_INFINITY;
  while (i < n1 || j < n2) {
    const a = i < n1 ? sortedA[i]! : Number.POSITIVE_INFINITY;
    const b = j < n2 ? sortedB[j]! : Number.POSITIVE_INFINITY;
    const v = Math.min(a, b);
    while (i < n1 && sortedA[i]! <= v) i++;
    while (j < n2 && sortedB[j]! <= v) j++;
    // Same float operations as scipy: searchsorted(side='right') / n, then the difference.
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const negMin = Math.min(Math.max(-minS, 0), 1);
  return Math.max(negMin, maxS);
}

/** The two-sided p-value of a KS statistic d for sample sizes n1 and n2 (scipy's rules for 'auto'). */
export function ksPValue(d: number, n1: number, n2: number, mode: KsMode = 'auto'): KsResult {
  let chosen: 'exact' | 'asymp' =
    mode === 'auto' ? (Math.max(n1, n2) <= KS_MAX_AUTO_N ? 'exact' : 'asymp') : mode;
  let statistic = d;
  if (chosen === 'exact') {
    const g = gcdInt(n1, n2);
    if (mode === 'exact' && n1 / g >= 2147483647 / (n2 / g)) chosen = 'asymp';
  }
  if (chosen === 'exact') {
    const exact = ksTwoSampleExact(n1, n2, d);
    statistic = exact.d;
    if (exact.ok) return { statistic, pValue: clip01(exact.p), mode: 'exact' };
    chosen = 'asymp';
  }
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  return { statistic, pValue: clip01(kstwoSf(statistic, roundHalfEven(en))), mode: 'asymp' };
}

/** Two-sample two-sided KS test of two ascending samples (both non-empty). */
export function ksTwoSample(
  sortedA: ArrayLike<number>,
  sortedB: ArrayLike<number>,
  mode: KsMode = 'auto',
): KsResult {
  return ksPValue(ksStatistic(sortedA, sortedB), sortedA.length, sortedB.length, mode);
}

function gcdInt(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

function clip01(p: number): number {
  return p < 0 ? 0 : Math.min(p, 1);
}
