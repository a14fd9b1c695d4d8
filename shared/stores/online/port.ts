import type { FeatureViewSpec } from '../../definitions/types.ts';
import type { FeatureRow } from '../offline/port.ts';

/** The latest value of one view for one entity, as the online store returns it. */
export interface OnlineRecord {
  eventTimestamp: number;
  created: number | null;
  values: (bigint | number | string | boolean | null)[];
}

/** The Redis-backed latest value per (view, entity). */
export interface OnlineStore {
  /** Writes rows; per (view, entity) the greatest (event time, created) wins, decided in the store. Returns rows that won. */
  write(view: FeatureViewSpec, rows: FeatureRow[]): Promise<number>;
  /** Reads many views × many entities in one round trip; null where nothing is stored. */
  read(requests: { view: FeatureViewSpec; keys: FeatureRow['keys'][] }[]): Promise<(OnlineRecord | null)[][]>;
  close(): Promise<void>;
}
