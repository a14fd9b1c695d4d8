/**
 * The spans of a record's values: where each top-level value of `valuesJson` starts and ends,
 * so a reader copies values into its answer as bytes without decoding them (the online
 * lookup's hot path, docs/serving.md "Performance"). How the spans are found is the store's
 * business: from the value lengths the Redis adapter stores beside the array
 * (value-lengths.ts), else by scanning the array (json-tokens.ts).
 */
import { scanJsonArray } from './json-tokens.ts';
import type { OnlineRecordJson } from './port.ts';
import { readValueLengths } from './value-lengths.ts';

export { wordsOf } from './json-tokens.ts';

/**
 * Fills `bounds` with the spans of `record`'s values: value k from `bounds[base + 2k]` to
 * `bounds[base + 2k + 1]` (byte offsets into `valuesJson`), at most `capacity` values. Returns
 * how many it recorded. `words` is `wordsOf(record.valuesJson)`, which the caller keeps for its
 * copies. Throws a SyntaxError when the stored text is not what the store writes.
 */
export function valueSpans(
  record: OnlineRecordJson,
  words: DataView,
  bounds: Int32Array,
  base: number,
  capacity: number,
): number {
  return record.valueLengths
    ? // The store kept each value's length: no scan.
      readValueLengths(
        record.valueLengths,
        record.valueLengthsFrom!,
        record.valueLengthsTo!,
        record.valuesJson.length,
        bounds,
        base,
        capacity,
      )
    : scanJsonArray(record.valuesJson, bounds, base, capacity, words);
}
