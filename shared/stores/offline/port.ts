import type { ViewLayout } from '../layout.ts';

/**
 * One row of a feature view as the stores hold it. Values are already typed per the
 * view's schema (int64 as bigint, timestamps as epoch ms numbers).
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

/** The Postgres-backed history of every feature view. */
export interface OfflineStore {
  /**
   * Creates the view's table (partitioned by event time, with its point-in-time index) or adds
   * missing columns. Throws TRIB_BREAKING_CHANGE when an existing column has another type.
   */
  ensureTable(view: ViewLayout): Promise<void>;
  /** Renames the view's table aside (breaking change or removal): data is never dropped. Returns the new name. */
  archiveTable(viewName: string, reason: string): Promise<string | null>;
  /** Appends rows; a row whose origin is already stored is skipped, so replays add nothing. Returns rows added. */
  write(view: ViewLayout, rows: FeatureRow[]): Promise<number>;
  close(): Promise<void>;
}
