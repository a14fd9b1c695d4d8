/**
 * Category counts aligned between a reference and a window. Categories the reference never
 * saw keep their own bucket (count 0 on the reference side) so that a new value shows up as
 * drift instead of disappearing.
 */

/** Counts per category value. */
export type CategoryCounts = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

/** Two count vectors over the same categories: the reference's order first, then new ones. */
export interface AlignedCounts {
  categories: string[];
  reference: number[];
  current: number[];
  /** Categories present in the window but absent from the reference. */
  unseen: string[];
}

function entries(counts: CategoryCounts): Iterable<[string, number]> {
  return counts instanceof Map ? counts.entries() : Object.entries(counts);
}

/** Counts the non-missing values of a column; null, undefined and NaN count as missing. */
export function countCategories(values: Iterable<string | number | boolean | null | undefined>): {
  counts: Map<string, number>;
  missing: number;
} {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const v of values) {
    if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) {
      missing++;
      continue;
    }
    const key = String(v);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { counts, missing };
}

/** Aligns reference and current counts on the union of their categories. */
export function alignCounts(reference: CategoryCounts, current: CategoryCounts): AlignedCounts {
  const index = new Map<string, number>();
  const categories: string[] = [];
  const ref: number[] = [];
  const cur: number[] = [];
  const unseen: string[] = [];
  for (const [k, n] of entries(reference)) {
    if (!(n > 0) || index.has(k)) continue;
    index.set(k, categories.length);
    categories.push(k);
    ref.push(n);
    cur.push(0);
  }
  for (const [k, n] of entries(current)) {
    if (!(n > 0)) continue;
    let i = index.get(k);
    if (i === undefined) {
      i = categories.length;
      index.set(k, i);
      categories.push(k);
      ref.push(0);
      cur.push(0);
      unseen.push(k);
    }
    cur[i] = cur[i]! + n;
  }
  return { categories, reference: ref, current: cur, unseen };
}
