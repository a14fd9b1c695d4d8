/**
 * The row model: what one event of a feature view becomes once decoded. The decoder produces it,
 * both stores take it and retrieval reads it back, so it belongs to none of them.
 */

/**
 * One row of a feature view. Values are already typed per the view's schema (int64 as bigint,
 * timestamps as epoch ms numbers).
 */
export interface FeatureRow {
  /** Join key values in the view's entity order. */
  keys: (bigint | number | string | boolean)[];
  eventTimestamp: number;
  /** Creation time, epoch ms; null when the event did not carry one. */
  created: number | null;
  /** Feature values in the view's schema order; null for a missing value. */
  values: (bigint | number | string | boolean | null)[];
  /** Where the row came from; the offline store's idempotency key. */
  origin: { topic: string; partition: number; offset: string };
}
