/**
 * Quantiles and bin edges exactly as numpy computes them, so that bin counts (and
 * therefore PSI, Jensen–Shannon and Hellinger) agree with the golden values bin for bin.
 */

/** Returns the finite values of `values`, sorted ascending, and how many were not finite (missing). */
export function sortFinite(values: Iterable<number | null | undefined>): {
  sorted: Float64Array;
  missing: number;
} {
  const kept: number[] = [];
  let missing = 0;
  for (const v of values) {
    if (typeof v === 'number' && Number.isFinite(v)) kept.push(v);
    else missing++;
  }
  const sorted = Float64Array.from(kept);
  sorted.sort();
  return { sorted, missing };
}

/**
 * numpy's default ('linear', Hyndman–Fan type 7) quantile of an ascending array.
 * The two-sided lerp mirrors numpy's `_lerp`, which interpolates from the nearer
 * end so that the result is monotone in `p` and exact at the data points.
 */
export function quantileLinear(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const virtual = (n - 1) * p;
  if (virtual >= n - 1) return sorted[n - 1]!;
  if (virtual < 0) return sorted[0]!;
  const lo = Math.floor(virtual);
  const t = virtual - lo;
  const a = sorted[lo]!;
  const b = sorted[lo + 1]!;
  const diff = b - a;
  // Two values near ±1.8e308 overflow b − a; weighting each end stays finite (numpy gives ±inf).
  if (!Number.isFinite(diff)) return a * (1 - t) + b * t;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Quantiles at `k / steps` for k = 1 … steps − 1, duplicates removed (bin edges of the reference). */
export function quantileGrid(sorted: ArrayLike<number>, steps: number, includeEnds = false): number[] {
  const edges: number[] = [];
  const first = includeEnds ? 0 : 1;
  const last = includeEnds ? steps : steps - 1;
  for (let k = first; k <= last; k++) {
    // k / steps, not k * (1 / steps): numpy is given the correctly rounded k/10.
    const q = quantileLinear(sorted, k / steps);
    if (edges.length === 0 || q !== edges[edges.length - 1]) edges.push(q);
  }
  return edges;
}

/** Decile bin edges of a sorted reference: numpy quantiles at k/10, k = 1…9, duplicates removed. */
export function binEdges(sortedReference: ArrayLike<number>): number[] {
  if (sortedReference.length === 0) return [];
  return quantileGrid(sortedReference, 10);
}

/**
 * Index of the bin holding `x` for ascending `edges`: bin i holds edges[i-1] < x <= edges[i],
 * bin 0 is open below and bin edges.length open above.
 */
export function binIndex(edges: ArrayLike<number>, x: number): number {
  // First edge >= x (numpy searchsorted side='left').
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Counts per bin (edges.length + 1 bins) of the finite values; non-finite values are skipped. */
export function binCounts(edges: ArrayLike<number>, values: ArrayLike<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let k = 0; k < values.length; k++) {
    const x = values[k]!;
    if (!Number.isFinite(x)) continue;
    const i = binIndex(edges, x);
    counts[i] = counts[i]! + 1;
  }
  return counts;
}
