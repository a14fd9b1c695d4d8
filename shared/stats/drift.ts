/**
 * One drift verdict per column and window. Never throws on data: empty windows, all-missing
 * columns, constant references and unseen categories give a result that says so.
 */

import type { DriftMethod } from '../definitions/types.ts';
import type { CategoryCounts } from './categories.ts';
import { alignCounts, countCategories } from './categories.ts';
import { chiSquareContingency } from './chisquare.ts';
import { hellinger } from './hellinger.ts';
import { jensenShannon } from './jensenshannon.ts';
import { ksTwoSample } from './ks.ts';
import type { ColumnKind } from './methods.ts';
import { defaultMethod, isDrift, METHODS, methodApplies } from './methods.ts';
import { psi } from './psi.ts';
import { binCounts, binEdges, sortFinite } from './quantiles.ts';
import type { ReferenceGrid, WindowHistogram } from './sketch.ts';
import { ksFromGrid, wassersteinFromGrid } from './sketch.ts';
import { stdPopulation, wassersteinNormed } from './wasserstein.ts';
import { twoProportionZ } from './ztest.ts';

/** The verdict for one column in one window. */
export interface DriftResult {
  kind: ColumnKind;
  method: DriftMethod;
  /** False when the method cannot be computed here (see `reason`); then `drifted` is false and `score` null. */
  applicable: boolean;
  /** The value compared with the threshold: a p-value for tests, a distance otherwise. */
  score: number | null;
  threshold: number;
  drifted: boolean;
  /** Test statistic (KS D, chi-square, z) when the method is a test. */
  statistic?: number;
  pValue?: number;
  referenceSize: number;
  windowSize: number;
  /** Share of the window's rows that were missing (null, NaN, non-finite). */
  missingShare: number;
  reason?: string;
  /** Categories seen in the window but not in the reference. */
  unseenCategories?: string[];
  /** For sketch-based KS and Wasserstein: the bound on |score − exact| or on the statistic. */
  errorBound?: number;
}

/** Method and threshold overrides for a column. */
export interface DriftOptions {
  method?: DriftMethod;
  threshold?: number;
}

/** Why normed Wasserstein is not computed when the reference's std overflows (exact and grid alike). */
export const STD_UNDEFINED =
  "the reference's standard deviation is not a finite number (its values overflow a double), so the normed Wasserstein distance is undefined";

function notApplicable(
  base: Omit<DriftResult, 'applicable' | 'score' | 'drifted'>,
  reason: string,
): DriftResult {
  return { ...base, applicable: false, score: null, drifted: false, reason };
}

function verdict(
  base: Omit<DriftResult, 'applicable' | 'score' | 'drifted'>,
  score: number,
  extra: Partial<DriftResult> = {},
): DriftResult {
  if (Number.isNaN(score)) return notApplicable(base, 'score is undefined for these data');
  return { ...base, ...extra, applicable: true, score, drifted: isDrift(base.method, score, base.threshold) };
}

/** Numeric reference: its finite values sorted ascending (from `sortFinite`). */
export interface NumericReference {
  sorted: ArrayLike<number>;
  /** Decile edges; computed from `sorted` when absent. */
  edges?: number[];
}

/** Drift of a numeric window against a full numeric reference (exact statistics). */
export function numericDrift(
  reference: NumericReference,
  window: Iterable<number | null | undefined>,
  options: DriftOptions = {},
): DriftResult {
  const { sorted: cur, missing } = sortFinite(window);
  const ref = reference.sorted;
  const total = cur.length + missing;
  const chosen = options.method
    ? { method: options.method, threshold: options.threshold ?? METHODS[options.method].defaultThreshold }
    : defaultMethod('numeric', ref.length, cur.length, 0);
  const threshold = options.threshold ?? chosen.threshold;
  const base = {
    kind: 'numeric' as const,
    method: chosen.method,
    threshold,
    referenceSize: ref.length,
    windowSize: cur.length,
    missingShare: total === 0 ? 0 : missing / total,
  };
  if (!methodApplies(chosen.method, 'numeric'))
    return notApplicable(base, `${chosen.method} is for categorical columns`);
  if (ref.length === 0) return notApplicable(base, 'empty reference');
  if (cur.length === 0) return notApplicable(base, total === 0 ? 'empty window' : 'every value missing');
  switch (chosen.method) {
    case 'ks': {
      const r = ksTwoSample(ref, cur);
      return verdict(base, r.pValue, { statistic: r.statistic, pValue: r.pValue });
    }
    case 'wasserstein':
      if (!Number.isFinite(stdPopulation(ref))) return notApplicable(base, STD_UNDEFINED);
      return verdict(base, wassersteinNormed(ref, cur));
    default: {
      const edges = reference.edges ?? binEdges(ref);
      return verdict(base, binned(chosen.method, binCounts(edges, ref), binCounts(edges, cur)));
    }
  }
}

function binned(method: DriftMethod, ref: number[], cur: number[]): number {
  if (method === 'psi') return psi(ref, cur);
  if (method === 'jensenshannon') return jensenShannon(ref, cur);
  if (method === 'hellinger') return hellinger(ref, cur);
  return Number.NaN;
}

/** Drift of a numeric window kept as a histogram on the reference grid (bounded memory). */
export function numericDriftFromGrid(
  reference: ReferenceGrid,
  window: WindowHistogram,
  options: DriftOptions = {},
): DriftResult {
  const total = window.n + window.missing;
  const chosen = options.method
    ? { method: options.method, threshold: options.threshold ?? METHODS[options.method].defaultThreshold }
    : defaultMethod('numeric', reference.n, window.n, 0);
  const base = {
    kind: 'numeric' as const,
    method: chosen.method,
    threshold: options.threshold ?? chosen.threshold,
    referenceSize: reference.n,
    windowSize: window.n,
    missingShare: total === 0 ? 0 : window.missing / total,
  };
  if (!methodApplies(chosen.method, 'numeric'))
    return notApplicable(base, `${chosen.method} is for categorical columns`);
  if (reference.n === 0) return notApplicable(base, 'empty reference');
  if (window.n === 0) return notApplicable(base, total === 0 ? 'empty window' : 'every value missing');
  switch (chosen.method) {
    case 'ks': {
      const r = ksFromGrid(reference, window);
      return verdict(base, r.pValue, {
        statistic: r.statistic,
        pValue: r.pValue,
        errorBound: r.statisticUpperBound - r.statistic,
      });
    }
    case 'wasserstein': {
      // Number.isFinite, not isNaN: a profile stores an overflowed std (NaN, ∞) as null.
      if (!Number.isFinite(reference.std)) return notApplicable(base, STD_UNDEFINED);
      const r = wassersteinFromGrid(reference, window);
      return verdict(base, r.normed, { errorBound: r.normedErrorBound });
    }
    default: {
      const refBins = binCountsFromGrid(reference);
      return verdict(base, binned(chosen.method, refBins, window.binCounts(reference.deciles)));
    }
  }
}

function binCountsFromGrid(reference: ReferenceGrid): number[] {
  const out = new Array<number>(reference.deciles.length + 1).fill(0);
  for (let i = 0; i < reference.counts.length; i++) {
    const b =
      i < reference.edges.length
        ? binIndexOf(reference.deciles, reference.edges[i]!)
        : reference.deciles.length;
    out[b] = out[b]! + reference.counts[i]!;
  }
  return out;
}

function binIndexOf(edges: readonly number[], x: number): number {
  let i = 0;
  while (i < edges.length && edges[i]! < x) i++;
  return i;
}

/** Drift of a categorical window (values or counts) against reference category counts. */
export function categoricalDrift(
  reference: CategoryCounts,
  window: CategoryCounts | Iterable<string | number | boolean | null | undefined>,
  options: DriftOptions & { missing?: number } = {},
): DriftResult {
  let counts: CategoryCounts;
  let missing = options.missing ?? 0;
  if (window instanceof Map || !(Symbol.iterator in Object(window))) counts = window as CategoryCounts;
  else {
    const c = countCategories(window as Iterable<string | null>);
    counts = c.counts;
    missing += c.missing;
  }
  const aligned = alignCounts(reference, counts);
  const refSize = aligned.reference.reduce((a, b) => a + b, 0);
  const curSize = aligned.current.reduce((a, b) => a + b, 0);
  const total = curSize + missing;
  const chosen = options.method
    ? { method: options.method, threshold: options.threshold ?? METHODS[options.method].defaultThreshold }
    : defaultMethod('categorical', refSize, curSize, aligned.categories.length);
  const base = {
    kind: 'categorical' as const,
    method: chosen.method,
    threshold: options.threshold ?? chosen.threshold,
    referenceSize: refSize,
    windowSize: curSize,
    missingShare: total === 0 ? 0 : missing / total,
    ...(aligned.unseen.length > 0 ? { unseenCategories: aligned.unseen } : {}),
  };
  if (!methodApplies(chosen.method, 'categorical'))
    return notApplicable(base, `${chosen.method} is for numeric columns`);
  if (refSize === 0) return notApplicable(base, 'empty reference');
  if (curSize === 0) return notApplicable(base, total === 0 ? 'empty window' : 'every value missing');
  switch (chosen.method) {
    case 'chisquare': {
      if (aligned.categories.length < 2) return verdict(base, 1, { statistic: 0, pValue: 1 });
      const r = chiSquareContingency(aligned.reference, aligned.current);
      if (!r) return notApplicable(base, 'chi-square needs two categories');
      return verdict(base, r.pValue, { statistic: r.statistic, pValue: r.pValue });
    }
    case 'z': {
      if (aligned.categories.length === 1) return verdict(base, 1, { statistic: 0, pValue: 1 });
      const r = twoProportionZ(aligned.reference, aligned.current);
      if (!r)
        return notApplicable(base, `z-test needs exactly two categories, saw ${aligned.categories.length}`);
      return verdict(base, r.pValue, { statistic: r.statistic, pValue: r.pValue });
    }
    default:
      return verdict(base, binned(chosen.method, aligned.reference, aligned.current));
  }
}
