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

/**
 * The key a category value counts under. Booleans are spelled `true` / `false` whatever the
 * source: JSON `true`, an Arrow boolean, pandas' CSV `True`, R's `TRUE` (any letter case), so a
 * reference built from a CSV and live JSON predictions land in the same categories. Every
 * other value is its text, unchanged.
 */
export function categoryKey(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value !== 'string') return String(value);
  if (value.length === 4 && value.toLowerCase() === 'true') return 'true';
  if (value.length === 5 && value.toLowerCase() === 'false') return 'false';
  return value;
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
    const key = categoryKey(v);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { counts, missing };
}

/** Aligns reference and current counts on the union of their categories (keys through `categoryKey`). */
export function alignCounts(reference: CategoryCounts, current: CategoryCounts): AlignedCounts {
  const index = new Map<string, number>();
  const categories: string[] = [];
  const ref: number[] = [];
  const cur: number[] = [];
  const unseen: string[] = [];
  for (const [key, n] of entries(reference)) {
    if (!(n > 0)) continue;
    // `True` and `true` are one category (categoryKey): their counts add up.
    const k = categoryKey(key);
    const at = index.get(k);
    if (at !== undefined) {
      ref[at] = ref[at]! + n;
      continue;
    }
    index.set(k, categories.length);
    categories.push(k);
    ref.push(n);
    cur.push(0);
  }
  for (const [key, n] of entries(current)) {
    if (!(n > 0)) continue;
    const k = categoryKey(key);
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
