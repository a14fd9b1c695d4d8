/**
 * Bounded-memory KS and Wasserstein for streaming windows.
 *
 * The reference is summarised once by its quantiles at k/G, k = 0…G (G = 1000 by default,
 * duplicates removed), with its count and sum of values per grid cell. A window keeps only
 * its count and sum per cell plus its min and max, so its state is O(G) whatever its row
 * count, and two windows merge by adding. Cells are (e[i−1], e[i]] like the decile bins,
 * and the decile edges are a subset of the grid, so PSI, Jensen–Shannon and Hellinger
 * computed from a window histogram are exact.
 *
 * Both ECDFs are known exactly at every grid edge, so:
 *  - KS: D_grid = max over edges |F_ref − F_cur| <= D <= the upper bound
 *    max over cells of max(F_ref(e_i) − F_cur(e_{i−1}), F_cur(e_i) − F_ref(e_{i−1})).
 *    The p-value is taken at D_grid, so the sketch can only under-flag, never over-flag.
 *  - Wasserstein: with the per-cell sums, ∫ (F_ref − F_cur) over each cell is exact
 *    (∫_a^b F = F(a)(b − a) + Σ_{x in cell}(b − x)/n). Where the difference cannot change
 *    sign inside a cell that is also ∫ |F_ref − F_cur|; in the cells where the CDFs may
 *    cross, ∫ |F_ref − F_cur| lies in a known interval: its lower end is used and its width
 *    goes into the error bound, so the exact W1 ∈ [distance, distance + errorBound].
 */

import type { KsMode } from './ks.ts';
import { ksPValue } from './ks.ts';
import { binEdges, binIndex, quantileGrid } from './quantiles.ts';
import { Accumulator } from './sum.ts';
import { normingScale, stdPopulation } from './wasserstein.ts';

/** Default number of reference quantile steps. */
export const DEFAULT_GRID_STEPS = 1000;

/** The reference side of a numeric feature, as a profile stores it. */
export interface ReferenceGrid {
  /** Quantiles at k/steps, k = 0…steps, duplicates removed; edges[0] is the minimum, the last the maximum. */
  edges: number[];
  /** Reference counts per cell; cell i holds edges[i−1] < x <= edges[i] (cell 0 is x <= edges[0]). */
  counts: number[];
  /** Sum of the reference values per cell. */
  sums: number[];
  /** Reference size (finite values). */
  n: number;
  /** Population standard deviation of the reference. */
  std: number;
  /** Decile bin edges (a subset of `edges`). */
  deciles: number[];
}

/** Builds the grid summary of a sorted, finite, non-empty reference. */
export function referenceGrid(sortedReference: ArrayLike<number>, steps = DEFAULT_GRID_STEPS): ReferenceGrid {
  const edges = quantileGrid(sortedReference, steps, true);
  const hist = new WindowHistogram(edges);
  for (let i = 0; i < sortedReference.length; i++) hist.add(sortedReference[i]!);
  return {
    edges,
    counts: hist.counts,
    sums: hist.sums,
    n: sortedReference.length,
    std: stdPopulation(sortedReference),
    deciles: binEdges(sortedReference),
  };
}

/** A window's counts on a reference grid: O(grid) memory, mergeable. */
export class WindowHistogram {
  /** Counts per cell (edges.length + 1 cells; the last is x > max of the reference). */
  readonly counts: number[];
  /** Sum of the values per cell (for exact Wasserstein integrals within cells). */
  readonly sums: number[];
  n = 0;
  missing = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(readonly edges: readonly number[]) {
    this.counts = new Array<number>(edges.length + 1).fill(0);
    this.sums = new Array<number>(edges.length + 1).fill(0);
  }

  /** Adds one value; null, undefined, NaN and ±Infinity count as missing. */
  add(x: number | null | undefined): void {
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      this.missing++;
      return;
    }
    const i = binIndex(this.edges, x);
    this.counts[i] = this.counts[i]! + 1;
    this.sums[i] = this.sums[i]! + x;
    this.n++;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  /** Adds another window's counts on the same grid. */
  merge(other: WindowHistogram): void {
    if (other.edges.length !== this.edges.length) throw new RangeError('histograms are on different grids');
    for (let i = 0; i < this.counts.length; i++) {
      this.counts[i] = this.counts[i]! + other.counts[i]!;
      this.sums[i] = this.sums[i]! + other.sums[i]!;
    }
    this.n += other.n;
    this.missing += other.missing;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** Counts on the decile bins of the reference (exact: decile edges are grid edges). */
  binCounts(deciles: readonly number[]): number[] {
    const out = new Array<number>(deciles.length + 1).fill(0);
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      // Cell i is (e[i−1], e[i]]; the open top cell is above every decile edge.
      const b = i < this.edges.length ? binIndex(deciles, this.edges[i]!) : deciles.length;
      out[b] = out[b]! + c;
    }
    return out;
  }
}

/** KS from histograms: the statistic at the grid edges, a proven upper bound, and the p-value at the statistic. */
export interface SketchKsResult {
  statistic: number;
  statisticUpperBound: number;
  pValue: number;
}

/** KS between the reference grid and a window histogram on it. */
export function ksFromGrid(
  reference: ReferenceGrid,
  window: WindowHistogram,
  mode: KsMode = 'auto',
): SketchKsResult {
  const cells = reference.counts.length;
  let cr = 0;
  let cc = 0;
  let prevR = 0;
  let prevC = 0;
  let lower = 0;
  let upper = 0;
  for (let i = 0; i < cells; i++) {
    cr += reference.counts[i]!;
    cc += window.counts[i]!;
    const fr = cr / reference.n;
    const fc = cc / window.n;
    const d = Math.abs(fr - fc);
    if (d > lower) lower = d;
    // Cell 0 holds reference values equal to edges[0] only (its minimum): below it F_ref = 0.
    upper = i === 0 ? Math.max(upper, d, fc) : Math.max(upper, d, fr - prevC, fc - prevR);
    prevR = fr;
    prevC = fc;
  }
  const p = ksPValue(lower, reference.n, window.n, mode);
  return { statistic: lower, statisticUpperBound: upper, pValue: p.pValue };
}

/** Wasserstein from histograms: the exact W1 lies in [distance, distance + errorBound]. */
export interface SketchWassersteinResult {
  distance: number;
  normed: number;
  errorBound: number;
  normedErrorBound: number;
}

/** W1 (and W1 normed by the reference std) between the reference grid and a window histogram on it. */
export function wassersteinFromGrid(
  reference: ReferenceGrid,
  window: WindowHistogram,
): SketchWassersteinResult {
  const e = reference.edges;
  const last = e.length - 1;
  const nr = reference.n;
  const nc = window.n;
  const dist = new Accumulator();
  const bound = new Accumulator();
  // Lower tail, x <= e[0]: the reference's mass there sits at e[0] exactly, so F_ref = 0 below it.
  dist.add((window.counts[0]! * e[0]! - window.sums[0]!) / nc);
  let cr = reference.counts[0]!;
  let cc = window.counts[0]!;
  for (let i = 1; i <= last; i++) {
    const a = e[i - 1]!;
    const b = e[i]!;
    const w = b - a;
    const frA = cr / nr;
    const fcA = cc / nc;
    // ∫_a^b F = F(a)·w + Σ_{x in cell} (b − x)/n
    const intR = frA * w + (reference.counts[i]! * b - reference.sums[i]!) / nr;
    const intC = fcA * w + (window.counts[i]! * b - window.sums[i]!) / nc;
    const signed = intR - intC;
    cr += reference.counts[i]!;
    cc += window.counts[i]!;
    const lo = frA - cc / nc;
    const hi = cr / nr - fcA;
    dist.add(Math.abs(signed));
    if (lo < 0 && hi > 0) {
      // The CDFs may cross inside this cell: ∫|f| is in [|∫f|, min(∫f + 2w(−lo), −∫f + 2w·hi)].
      // The lower end is the estimate (measured closer than the midpoint or a linear
      // interpolation on the golden cases), so the sketch never overstates drift.
      const top = Math.min(signed + 2 * w * -lo, -signed + 2 * w * hi);
      if (top > Math.abs(signed)) bound.add(top - Math.abs(signed));
    }
  }
  // Upper tail, x > e[last]: F_ref = 1 there.
  dist.add((window.sums[last + 1]! - window.counts[last + 1]! * e[last]!) / nc);
  const scale = normingScale(reference.std);
  // A cell sum that overflowed is ∞ in memory and null once stored: either way the integral is unknown.
  const sumsFinite = finiteAll(reference.sums) && finiteAll(window.sums);
  const distance = sumsFinite ? dist.value() : Number.NaN;
  const errorBound = sumsFinite ? bound.value() : Number.NaN;
  const normed = distance / scale;
  return {
    distance,
    normed: Number.isFinite(normed) ? normed : Number.NaN,
    errorBound,
    normedErrorBound: errorBound / scale,
  };
}

function finiteAll(values: readonly number[]): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}
