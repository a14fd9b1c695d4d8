import type { ViewLayout } from '../../model/layout.ts';
import type { FeatureRow } from '../../model/row.ts';

/** The latest value of one view for one entity, as the online store returns it. */
export interface OnlineRecord {
  eventTimestamp: number;
  created: number | null;
  values: (bigint | number | string | boolean | null)[];
}

/**
 * The latest value of one view for one entity with its values left as the stored JSON text, in
 * UTF-8 bytes, for callers that copy values into a JSON answer rather than use them (the online
 * lookup route, which writes its answer as bytes).
 */
export interface OnlineRecordJson {
  eventTimestamp: number;
  created: number | null;
  /**
   * The values as a JSON array (UTF-8) in the view's schema order, as written: positional
   * (shorter than the view's features when features were appended since; the missing ones are
   * null), int64 values as JSON strings of decimal digits, timestamps as epoch-ms numbers, the
   * rest as `JSON.stringify` writes them.
   */
  valuesJson: Uint8Array;
  /**
   * Fills `bounds` with where each top-level value of `valuesJson` starts and ends: value k from
   * `bounds[base + 2k]` to `bounds[base + 2k + 1]` (byte offsets), at most `capacity` values.
   * Returns how many it recorded. `words` is `wordsOf(valuesJson)` (json-record.ts), which the
   * caller keeps for its own copies. Throws a SyntaxError when the stored text is not what the
   * store writes. (How: the store's business; json-record.ts for the Redis adapter.)
   */
  valueSpans(words: DataView, bounds: Int32Array, base: number, capacity: number): number;
}

export interface OnlineReadOptions {
  /**
   * The instant stream views' aggregations are computed at, epoch ms; default now. Plain views
   * ignore it (they answer what is stored).
   */
  at?: number;
}

/**
 * The Redis-backed latest value per (view, entity), and per (stream view, entity) its tiles: a
 * stream view's record holds its aggregations' values at the read instant, in
 * `ViewLayout.aggregations` order, with the latest event's times.
 */
export interface OnlineStore {
  /**
   * Writes rows; per (view, entity) the greatest (event time, created) wins, decided in the store.
   * Returns how many entities took a new value (a winner already past the ttl counts, though it is not stored).
   */
  write(view: ViewLayout, rows: FeatureRow[]): Promise<number>;
  /**
   * Reads many views × many entities in one round trip; null where nothing is stored (or the ttl
   * passed). A stream view's write folds events into tiles; redelivered events count nothing.
   */
  read(
    requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[],
    options?: OnlineReadOptions,
  ): Promise<(OnlineRecord | null)[][]>;
  /**
   * `read` without decoding the values: the same records (same round trip, same nulls, same
   * errors), each with its values as JSON text in UTF-8 bytes. Optional: callers fall back to `read`.
   */
  readJson?(
    requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[],
    options?: OnlineReadOptions,
  ): Promise<(OnlineRecordJson | null)[][]>;
  close(): Promise<void>;
}
