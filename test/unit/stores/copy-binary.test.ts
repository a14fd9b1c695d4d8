import { describe, expect, it } from 'vitest';
import type { ViewLayout } from '../../../shared/model/layout.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import { binaryCopyChunks } from '../../../shared/stores/offline/postgres/copy-binary.ts';
import { includedFeatures } from '../../../shared/stores/offline/postgres/sql.ts';
import { compareOffsets, offsetAfter } from '../../../shared/stream/offsets.ts';

const view: ViewLayout = {
  name: 'typed',
  joinKeys: [{ name: 'id', type: 'int64' }],
  features: [
    { name: 'n', type: 'int64' },
    { name: 'x', type: 'float64' },
    { name: 's', type: 'string' },
    { name: 'b', type: 'bool' },
    { name: 't', type: 'timestamp' },
  ],
  ttlMs: 0,
};

function rowOf(offset: number, values: FeatureRow['values'], keys: FeatureRow['keys'] = [7n]): FeatureRow {
  return {
    keys,
    eventTimestamp: Date.UTC(2026, 10, 1),
    created: null,
    values,
    origin: { topic: 't', partition: 2, offset: String(offset) },
  };
}

/** Splits a binary COPY stream back into rows of raw field bytes (null for SQL NULL). */
function parse(stream: Buffer): (Buffer | null)[][] {
  expect(stream.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  expect(stream.readInt32BE(11)).toBe(0);
  expect(stream.readInt32BE(15)).toBe(0);
  const rows: (Buffer | null)[][] = [];
  let at = 19;
  for (;;) {
    const fields = stream.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    const row: (Buffer | null)[] = [];
    for (let f = 0; f < fields; f++) {
      const length = stream.readInt32BE(at);
      at += 4;
      row.push(length < 0 ? null : stream.subarray(at, at + length));
      at += Math.max(length, 0);
    }
    rows.push(row);
  }
  expect(at).toBe(stream.length);
  return rows;
}

/** Postgres timestamptz: µs since 2000-01-01T00:00:00Z. */
const pgMicros = (ms: number) => (BigInt(ms) - 946_684_800_000n) * 1000n;

describe('binaryCopyChunks', () => {
  it('writes every column in COPY order with its wire form, nulls as length -1', () => {
    const seen = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    const [row] = parse(
      Buffer.concat([...binaryCopyChunks(view, [rowOf(42, [-5n, 0.25, 'é', true, seen], [-3])])]),
    );
    expect(row).toHaveLength(1 + 2 + 5 + 2);
    expect(row![0]!.readBigInt64BE()).toBe(-3n); // an int64 key given as a number
    expect(row![1]!.readBigInt64BE()).toBe(pgMicros(Date.UTC(2026, 10, 1)));
    expect(row![2]).toBeNull(); // created
    expect(row![3]!.readBigInt64BE()).toBe(-5n);
    expect(row![4]!.readDoubleBE()).toBe(0.25);
    expect(row![5]!.toString('utf8')).toBe('é');
    expect([...row![6]!]).toEqual([1]);
    expect(row![7]!.readBigInt64BE()).toBe(pgMicros(seen));
    expect(row![8]!.readInt32BE()).toBe(2);
    expect(row![9]!.readBigInt64BE()).toBe(42n);
    const [nulls] = parse(
      Buffer.concat([...binaryCopyChunks(view, [rowOf(1, [null, null, null, null, null])])]),
    );
    expect(nulls!.slice(3, 8)).toEqual([null, null, null, null, null]);
  });

  it('writes timestamps beyond ±2^53 µs of 2000 exactly, and cuts sub-millisecond parts', () => {
    const first = Date.parse('0001-01-01T00:00:00Z');
    const last = Date.parse('9999-12-31T23:59:59.999Z');
    const rows = parse(
      Buffer.concat([
        ...binaryCopyChunks(view, [
          rowOf(1, [null, null, null, null, first]),
          rowOf(2, [null, null, null, null, last]),
          rowOf(3, [null, null, null, null, 1.9]),
        ]),
      ]),
    );
    expect(rows.map((r) => r[7]!.readBigInt64BE())).toEqual([pgMicros(first), pgMicros(last), pgMicros(1)]);
  });

  it('hands over chunks of at most 256 KiB that end on row boundaries, a larger row alone', () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => rowOf(i, [BigInt(i), i / 3, `row ${i}`, false, i]));
    rows.splice(5_000, 0, rowOf(99_999, [null, null, 'x'.repeat(600_000), null, null]));
    const chunks = [...binaryCopyChunks(view, rows)];
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.filter((c) => c.length > 256 * 1024)).toHaveLength(1);
    const parsed = parse(Buffer.concat(chunks));
    expect(parsed).toHaveLength(10_001);
    expect(parsed[5_000]![5]!.length).toBe(600_000);
    expect(parsed[9_000]![5]!.toString()).toBe('row 8999');
    // Each chunk after the first starts with a row's field count.
    for (const chunk of chunks.slice(1, -1)) expect(chunk.readInt16BE(0)).toBe(10);
  });
});

describe('compareOffsets', () => {
  it('orders Kafka offsets numerically without parsing them', () => {
    expect(compareOffsets('9', '10')).toBeLessThan(0);
    expect(compareOffsets('100', '99')).toBeGreaterThan(0);
    expect(compareOffsets('9007199254740993', '9007199254740992')).toBeGreaterThan(0);
    expect(compareOffsets('42', '42')).toBe(0);
    expect(offsetAfter('9007199254740992')).toBe('9007199254740993');
  });
});

describe('includedFeatures (the row index INCLUDE list)', () => {
  it('carries fixed-width features and leaves text out', () => {
    expect(includedFeatures(view).map((f) => f.name)).toEqual(['n', 'x', 'b', 't']);
  });

  it('stays within 32 index columns', () => {
    const wide: ViewLayout = {
      name: 'wide',
      joinKeys: [
        { name: 'a', type: 'int64' },
        { name: 'b', type: 'int64' },
      ],
      features: Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, type: 'float64' as const })),
      ttlMs: 0,
    };
    // 2 keys, event_timestamp, _partition, _offset and created leave 26.
    expect(includedFeatures(wide).map((f) => f.name)).toEqual(wide.features.slice(0, 26).map((f) => f.name));
  });

  it('stops before the B-tree entry limit, a string join key counting at its most', () => {
    const wide = (keys: number, type: 'int64' | 'string'): ViewLayout => ({
      name: 'wide',
      joinKeys: Array.from({ length: keys }, (_, i) => ({ name: `k${i}`, type })),
      features: Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, type: 'float64' as const })),
      ttlMs: 0,
    });
    // 2,600 bytes: 28 for times and origin, 516 per string key, 8 per feature.
    expect(includedFeatures(wide(4, 'string'))).toHaveLength(24); // by the column limit
    expect(includedFeatures(wide(5, 'string'))).toHaveLength(0);
    expect(includedFeatures(wide(1, 'int64'))).toHaveLength(27);
  });
});
