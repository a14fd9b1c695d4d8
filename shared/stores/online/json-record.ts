/**
 * A record whose values stay the stored JSON's bytes and which says where each value is, so a
 * reader copies values into its answer as bytes without decoding them (the online lookup's hot
 * path, docs/serving.md "Performance"). How the spans are found is the store's business, kept
 * here and out of the port: from the value lengths the Redis adapter stores beside the array
 * (value-lengths.ts), else by scanning the array (json-tokens.ts).
 */
import { scanJsonArray } from './json-tokens.ts';
import type { OnlineRecord, OnlineRecordJson } from './port.ts';
import { readValueLengths } from './value-lengths.ts';

export { wordsOf } from './json-tokens.ts';

/** One class for every record a lookup sees, so the hot path's property reads stay monomorphic. */
export class JsonRecord implements OnlineRecordJson {
  /**
   * `lengths`, when the store kept them, is the stored value holding the value lengths at
   * `lengths[lengthsFrom..lengthsTo)` (value-lengths.ts); null: spans are found by scanning.
   */
  constructor(
    readonly eventTimestamp: number,
    readonly created: number | null,
    readonly valuesJson: Uint8Array,
    readonly lengths: Uint8Array | null = null,
    readonly lengthsFrom = 0,
    readonly lengthsTo = 0,
  ) {}

  valueSpans(words: DataView, bounds: Int32Array, base: number, capacity: number): number {
    return this.lengths
      ? // The store kept each value's length: no scan.
        readValueLengths(
          this.lengths,
          this.lengthsFrom,
          this.lengthsTo,
          this.valuesJson.length,
          bounds,
          base,
          capacity,
        )
      : scanJsonArray(this.valuesJson, bounds, base, capacity, words);
  }
}

/**
 * A decoded record as its stored JSON would be, as the Redis adapter writes it: int64 (bigint) as
 * a JSON string of decimal digits, the rest as `JSON.stringify` writes them. For stores without
 * `readJson` and for values computed at read time (a stream view's aggregations).
 */
export function jsonRecordOf(record: OnlineRecord): JsonRecord {
  let json = '[';
  record.values.forEach((value, i) => {
    if (i > 0) json += ',';
    json += typeof value === 'bigint' ? `"${value}"` : (JSON.stringify(value) ?? 'null');
  });
  return new JsonRecord(record.eventTimestamp, record.created, Buffer.from(`${json}]`, 'utf8'));
}
