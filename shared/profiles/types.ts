/**
 * A reference profile: what the drift monitor knows about a model's training data, per column.
 * It holds summaries only — counts, moments, reference-quantile bins, category frequencies and a
 * size-bounded quantile summary for KS and Wasserstein — never the raw rows.
 */

import type { ReferenceGrid } from '../stats/sketch.ts';

/** Bumped when the stored shape changes incompatibly. */
export const PROFILE_FORMAT = 1;

/**
 * The column name of the model's output, in a profile and in a monitor's prediction stream (where
 * no monitored feature may take it).
 */
export const PREDICTION_COLUMN = 'prediction';

export type ColumnKind = 'numeric' | 'categorical';

interface ColumnBase {
  name: string;
  /** Non-missing values. */
  count: number;
  /** Missing values: empty CSV fields, nulls, NaN. */
  missing: number;
  /** missing / (count + missing); 0 for an empty column. */
  missingShare: number;
}

export interface NumericColumnProfile extends ColumnBase {
  kind: 'numeric';
  mean: number;
  /** Population standard deviation (ddof = 0), as the normed Wasserstein distance uses. */
  std: number;
  min: number;
  max: number;
  /** Reference decile edges (numpy 'linear' quantiles, duplicates removed); `binEdges.length + 1` bins. */
  binEdges: number[];
  /** Reference counts per bin: bin i holds edges[i-1] < x <= edges[i]. */
  binCounts: number[];
  /**
   * The size-bounded summary of the reference (shared/stats sketch): quantiles at k/G and counts per
   * cell, from which windows compute KS and Wasserstein without the raw rows.
   */
  grid: ReferenceGrid;
}

export interface CategoryCount {
  value: string;
  count: number;
}

export interface CategoricalColumnProfile extends ColumnBase {
  kind: 'categorical';
  /** The most frequent categories, most frequent first (ties by value). */
  categories: CategoryCount[];
  /** Non-missing values outside `categories`. */
  otherCount: number;
  /** Distinct non-missing values seen (a lower bound when `distinctCapped`). */
  distinct: number;
  distinctCapped: boolean;
}

export type ColumnProfile = NumericColumnProfile | CategoricalColumnProfile;

/** One stored profile: per model and model version. */
export interface ReferenceProfile {
  format: typeof PROFILE_FORMAT;
  model: string;
  modelVersion: string;
  /** ISO-8601. */
  createdAt: string;
  /** Where it was built from (a file name), for people reading it. */
  source: string;
  rows: number;
  columns: ColumnProfile[];
}

/** A column by name, or undefined. */
export function columnOf(profile: ReferenceProfile, name: string): ColumnProfile | undefined {
  return profile.columns.find((c) => c.name === name);
}
