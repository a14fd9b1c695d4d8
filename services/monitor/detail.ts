/**
 * Builds the detail of a closed window (shared/monitoring/detail.ts) from the counts it already
 * holds: no raw value is kept. Numeric columns are regrouped from the reference grid's ~1000 cells
 * into a few dozen bins whose boundaries are grid edges, so both sides' counts per bin are exact.
 * Pure.
 */

import type {
  CategoricalColumnDetail,
  CategoryShare,
  ColumnDetail,
  NumericColumnDetail,
  WindowDetail,
} from '../../shared/monitoring/detail.ts';
import { MAX_DETAIL_CATEGORIES } from '../../shared/monitoring/detail.ts';
import {
  type CategoricalWindow,
  type NumericWindow,
  OTHER_CATEGORY,
  UNSEEN_OVERFLOW,
  type WindowState,
} from './window.ts';

/** Bins between the reference's 1st and 99th percentiles; the tails get one bin each. */
export const DETAIL_BINS = 30;

/**
 * Indices into the grid edges for the plot's bin boundaries: the minimum, the 1st percentile,
 * equal steps in value up to the 99th, the maximum. Equal width keeps the picture a histogram a
 * reader recognises; the percentile cut keeps one outlier from squeezing the rest into a bin.
 */
export function plotBinEdges(edges: readonly number[], bins = DETAIL_BINS): number[] {
  const last = edges.length - 1;
  if (last <= 0) return [0];
  const lo = Math.round(last * 0.01);
  const hi = Math.round(last * 0.99);
  const picks = [0];
  const push = (i: number) => {
    if (i > picks[picks.length - 1]!) picks.push(i);
  };
  push(lo);
  const a = edges[lo]!;
  const b = edges[hi]!;
  if (b > a) {
    const steps = Math.max(1, bins - 2);
    let i = lo;
    for (let t = 1; t < steps; t++) {
      const target = a + ((b - a) * t) / steps;
      while (i < hi && edges[i]! < target) i++;
      push(i);
    }
  }
  push(hi);
  push(last);
  return picks;
}

function numericDetail(name: string, column: NumericWindow): NumericColumnDetail {
  const grid = column.profile.grid;
  const h = column.hist;
  const picks = plotBinEdges(grid.edges);
  const bins = Math.max(1, picks.length - 1);
  const reference = new Array<number>(bins).fill(0);
  const window = new Array<number>(bins).fill(0);
  // Cell c holds (e[c-1], e[c]]; cell 0 is x <= e[0]; the last cell (index edges.length) x > max.
  let bin = 0;
  for (let c = 0; c < grid.edges.length; c++) {
    while (bin < bins - 1 && c > picks[bin + 1]!) bin++;
    reference[bin] = reference[bin]! + (grid.counts[c] ?? 0);
    window[bin] = window[bin]! + (h.counts[c] ?? 0);
  }
  const edges = picks.length > 1 ? picks.map((i) => grid.edges[i]!) : [grid.edges[0]!, grid.edges[0]!];
  const windowMissing = h.n + h.missing === 0 ? 0 : h.missing / (h.n + h.missing);
  return {
    name,
    kind: 'numeric',
    edges,
    reference,
    window,
    aboveReference: h.counts[grid.edges.length] ?? 0,
    referenceN: grid.n,
    windowN: h.n,
    windowMin: Number.isFinite(h.min) ? h.min : null,
    windowMax: Number.isFinite(h.max) ? h.max : null,
    missingShare: { reference: column.profile.missingShare, window: windowMissing },
  };
}

function label(key: string): string {
  if (key === OTHER_CATEGORY) return '(other)';
  if (key === UNSEEN_OVERFLOW) return '(more unseen)';
  return key;
}

function categoricalDetail(name: string, column: CategoricalWindow): CategoricalColumnDetail {
  const ref = column.referenceCounts();
  const keys = new Set<string>([...ref.keys(), ...column.counts.keys()]);
  let refTotal = 0;
  for (const n of ref.values()) refTotal += n;
  let winTotal = 0;
  for (const n of column.counts.values()) winTotal += n;
  const all: CategoryShare[] = [];
  const newCategories: string[] = [];
  const missingCategories: string[] = [];
  for (const key of keys) {
    const r = ref.get(key) ?? 0;
    const w = column.counts.get(key) ?? 0;
    if (r === 0 && w > 0 && key !== OTHER_CATEGORY) newCategories.push(label(key));
    if (r > 0 && w === 0 && key !== OTHER_CATEGORY) missingCategories.push(label(key));
    all.push({
      value: label(key),
      reference: r,
      window: w,
      referenceShare: refTotal === 0 ? 0 : r / refTotal,
      windowShare: winTotal === 0 ? 0 : w / winTotal,
    });
  }
  all.sort(
    (a, b) =>
      Math.max(b.referenceShare, b.windowShare) - Math.max(a.referenceShare, a.windowShare) ||
      (a.value < b.value ? -1 : 1),
  );
  const rows = winTotal + column.missing;
  return {
    name,
    kind: 'categorical',
    categories: all.slice(0, MAX_DETAIL_CATEGORIES),
    omitted: Math.max(0, all.length - MAX_DETAIL_CATEGORIES),
    newCategories,
    missingCategories,
    missingShare: { reference: column.profile.missingShare, window: rows === 0 ? 0 : column.missing / rows },
  };
}

/** The detail of a window about to close, under the drift event's id. */
export function windowDetail(id: string, window: WindowState): WindowDetail {
  const columns: ColumnDetail[] = [];
  for (const [name, column] of window.columns) {
    columns.push(column.kind === 'numeric' ? numericDetail(name, column) : categoricalDetail(name, column));
  }
  return {
    id,
    reference: { modelVersion: window.profile.modelVersion, createdAt: window.profile.createdAt },
    columns,
  };
}
