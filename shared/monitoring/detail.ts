/**
 * What the one-window page of the dashboard and `tributary report` draw for a closed window:
 * per numeric column the reference and window histograms on bins made of the reference grid's
 * edges, per categorical column the shares side by side. The monitor stores it next to the
 * window's drift event for the last N windows of each model (TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL).
 */

/** Windows per model whose detail is kept; older ones keep only their drift event. */
export const DEFAULT_KEEP_WINDOW_DETAIL = 500;

export interface NumericColumnDetail {
  name: string;
  kind: 'numeric';
  /**
   * Bin boundaries (length = bins + 1), all edges of the reference grid: bin j holds
   * edges[j] < x <= edges[j+1]; bin 0 also holds x <= edges[0], so window values below the reference minimum
   * (see `windowMin`) are counted there.
   */
  edges: number[];
  /** Reference counts per bin. */
  reference: number[];
  /** Window counts per bin. */
  window: number[];
  /** Window values above the reference maximum (outside every bin). */
  aboveReference: number;
  referenceN: number;
  windowN: number;
  windowMin: number | null;
  windowMax: number | null;
  missingShare: { reference: number; window: number };
}

export interface CategoryShare {
  /** The category; `(other)` for values beyond the reference's top-K, `(more unseen)` past the unseen cap. */
  value: string;
  reference: number;
  window: number;
  referenceShare: number;
  windowShare: number;
}

export interface CategoricalColumnDetail {
  name: string;
  kind: 'categorical';
  /** Largest share (either side) first; at most MAX_DETAIL_CATEGORIES. */
  categories: CategoryShare[];
  /** Categories left out of `categories` (past the cap). */
  omitted: number;
  /** In the window, never in the reference. */
  newCategories: string[];
  /** In the reference, absent from the window. */
  missingCategories: string[];
  missingShare: { reference: number; window: number };
}

export type ColumnDetail = NumericColumnDetail | CategoricalColumnDetail;

export interface WindowDetail {
  /** The drift event's id (the window's id). */
  id: string;
  /** The profile the window was counted against. */
  reference: { modelVersion: string; createdAt: string };
  columns: ColumnDetail[];
}

/** Categories one column's detail lists. */
export const MAX_DETAIL_CATEGORIES = 60;
