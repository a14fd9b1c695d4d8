/**
 * Feature values as JSON: int64 as a number while it is exact (|v| < 2^53), else as a decimal
 * string; timestamps as ISO-8601 UTC strings.
 */
import { DataType, type RecordBatch, type Vector } from 'apache-arrow';

/** A JS value of a feature or key as JSON can carry it. */
export function jsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  return value;
}

/** Epoch ms as ISO-8601 UTC, with milliseconds only when there are some (Feast writes whole seconds). */
export function isoTimestamp(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

function columnValues(vector: Vector, out: unknown[]): void {
  const type = vector.type as DataType;
  if (DataType.isTimestamp(type)) {
    const divisor = [1 / 1000, 1, 1000, 1_000_000][type.unit]!;
    for (const data of vector.data) {
      const values = data.values as unknown as BigInt64Array;
      for (let i = 0; i < data.length; i++) {
        out.push(data.getValid(i) ? isoTimestamp(Math.floor(Number(values[i]!) / divisor)) : null);
      }
    }
    return;
  }
  for (let i = 0; i < vector.length; i++) {
    const v = vector.get(i);
    out.push(v === undefined ? null : v instanceof Date ? v.toISOString() : jsonValue(v));
  }
}

/** Appends each column of `batch` to `columns` (created on first use), in schema order. */
export function appendBatchAsJson(batch: RecordBatch, columns: Record<string, unknown[]>): void {
  for (const field of batch.schema.fields) {
    let column = columns[field.name];
    if (!column) {
      column = [];
      columns[field.name] = column;
    }
    columnValues(batch.getChild(field.name)!, column);
  }
}
