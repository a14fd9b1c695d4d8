import type { FeatureRow } from '../../shared/model/row.ts';

let offset = 0;

/** A feature row with a fresh origin (topic `t`, partition 0, the next offset), as the decoder would make it. */
export function featureRow(
  keys: FeatureRow['keys'],
  eventTimestamp: number,
  values: FeatureRow['values'],
  created: number | null = null,
): FeatureRow {
  offset += 1;
  return {
    keys,
    eventTimestamp,
    created,
    values,
    origin: { topic: 't', partition: 0, offset: String(offset) },
  };
}
