import type { ViewLayout } from '../layout.ts';
import type { FeatureRow } from '../offline/port.ts';

/** The latest value of one view for one entity, as the online store returns it. */
export interface OnlineRecord {
  eventTimestamp: number;
  created: number | null;
  values: (bigint | number | string | boolean | null)[];
}

/** The Redis-backed latest value per (view, entity). */
export interface OnlineStore {
  /**
   * Writes rows; per (view, entity) the greatest (event time, created) wins, decided in the store.
   * Returns how many entities took a new value (a winner already past the ttl counts, though it is not stored).
   */
  write(view: ViewLayout, rows: FeatureRow[]): Promise<number>;
  /** Reads many views × many entities in one round trip; null where nothing is stored (or the ttl passed). */
  read(requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[]): Promise<(OnlineRecord | null)[][]>;
  close(): Promise<void>;
}
