import type { ViewLayout } from '../../model/layout.ts';
import type { FeatureRow } from '../../model/row.ts';

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
