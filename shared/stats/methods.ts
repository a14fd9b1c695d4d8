/**
 * The drift methods a monitor can use, and the default choice per column.
 *
 * Default policy (see docs/drift-statistics.md for the reasoning): a hypothesis test while
 * the effective sample size n_eff = n_ref·n_win/(n_ref + n_win) is at most 1000, an effect
 * size (a distance) above it. A p-value measures how sure we are that the distributions
 * differ, not how much; with thousands of rows per window it flags shifts too small to
 * matter, which is the complaint users of raw KS p-values in Evidently/Alibi run into.
 */

import type { DriftMethod } from '../definitions/types.ts';

/** Numeric or categorical column. */
export type ColumnKind = 'numeric' | 'categorical';

/** How a method's score is compared with its threshold. */
export type Direction = 'pvalue-below' | 'distance-at-or-above';

/** What the registry knows about one method. */
export interface MethodInfo {
  method: DriftMethod;
  kinds: readonly ColumnKind[];
  /** Only for columns with exactly two categories (z-test). */
  binaryOnly: boolean;
  defaultThreshold: number;
  direction: Direction;
  description: string;
}

/** Every drift method, keyed by name. */
export const METHODS: Readonly<Record<DriftMethod, MethodInfo>> = Object.freeze({
  ks: {
    method: 'ks',
    kinds: ['numeric'],
    binaryOnly: false,
    defaultThreshold: 0.05,
    direction: 'pvalue-below',
    description: 'two-sample Kolmogorov–Smirnov test, p-value (scipy ks_2samp, method auto)',
  },
  wasserstein: {
    method: 'wasserstein',
    kinds: ['numeric'],
    binaryOnly: false,
    defaultThreshold: 0.1,
    direction: 'distance-at-or-above',
    description: 'Wasserstein-1 distance divided by the reference std (floor 0.001)',
  },
  psi: {
    method: 'psi',
    kinds: ['numeric', 'categorical'],
    binaryOnly: false,
    defaultThreshold: 0.1,
    direction: 'distance-at-or-above',
    description: 'population stability index on reference deciles or categories',
  },
  jensenshannon: {
    method: 'jensenshannon',
    kinds: ['numeric', 'categorical'],
    binaryOnly: false,
    defaultThreshold: 0.1,
    direction: 'distance-at-or-above',
    description: 'Jensen–Shannon distance (base e) on reference deciles or categories',
  },
  hellinger: {
    method: 'hellinger',
    kinds: ['numeric', 'categorical'],
    binaryOnly: false,
    defaultThreshold: 0.1,
    direction: 'distance-at-or-above',
    description: 'Hellinger distance on reference deciles or categories',
  },
  chisquare: {
    method: 'chisquare',
    kinds: ['categorical'],
    binaryOnly: false,
    defaultThreshold: 0.05,
    direction: 'pvalue-below',
    description: 'chi-square test of homogeneity of the reference and window counts, p-value',
  },
  z: {
    method: 'z',
    kinds: ['categorical'],
    binaryOnly: true,
    defaultThreshold: 0.05,
    direction: 'pvalue-below',
    description: 'pooled two-proportion z-test, two-sided p-value (binary columns)',
  },
});

/** Every method name. */
export const DRIFT_METHODS: readonly DriftMethod[] = Object.keys(METHODS) as DriftMethod[];

/** Largest effective sample size at which the default is still a hypothesis test. */
export const TEST_MAX_EFFECTIVE_SIZE = 1000;

/** Whether `score` counts as drift for `method` at `threshold`. */
export function isDrift(method: DriftMethod, score: number, threshold: number): boolean {
  if (Number.isNaN(score)) return false;
  return METHODS[method].direction === 'pvalue-below' ? score < threshold : score >= threshold;
}

/** Whether `method` applies to a column of this kind (and, for the z-test, with this many categories). */
export function methodApplies(method: DriftMethod, kind: ColumnKind, distinctCount?: number): boolean {
  const info = METHODS[method];
  if (!info.kinds.includes(kind)) return false;
  if (info.binaryOnly && distinctCount !== undefined && distinctCount !== 2) return false;
  return true;
}

/** n_ref·n_win/(n_ref + n_win): the sample size that governs a two-sample test's power. */
export function effectiveSampleSize(referenceSize: number, windowSize: number): number {
  if (!(referenceSize > 0 && windowSize > 0)) return 0;
  return (referenceSize * windowSize) / (referenceSize + windowSize);
}

/**
 * The default method and threshold for a column: numeric → KS p-value < 0.05 while the
 * effective sample size is <= 1000, else normed Wasserstein >= 0.1; categorical → z-test
 * (two categories) or chi-square p-value < 0.05 while <= 1000, else Jensen–Shannon >= 0.1.
 */
export function defaultMethod(
  kind: ColumnKind,
  referenceSize: number,
  windowSize: number,
  distinctCount: number,
): { method: DriftMethod; threshold: number } {
  const small = effectiveSampleSize(referenceSize, windowSize) <= TEST_MAX_EFFECTIVE_SIZE;
  let method: DriftMethod;
  if (kind === 'numeric') method = small ? 'ks' : 'wasserstein';
  else if (small) method = distinctCount === 2 ? 'z' : 'chisquare';
  else method = 'jensenshannon';
  return { method, threshold: METHODS[method].defaultThreshold };
}
