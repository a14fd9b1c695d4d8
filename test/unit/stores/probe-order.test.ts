import { describe, expect, it } from 'vitest';
import {
  byWindowMonth,
  encodeRecords,
  sortedByKey,
  splitRecords,
} from '../../../shared/stores/offline/postgres/probe-order.ts';

const PG_EPOCH_US = 946_684_800_000_000n;

/** Parses `(rn int4, k0 int8, ts timestamptz)` binary COPY back into [rn, key, epoch µs] triples. */
function parse(buffers: Buffer[]): [number, bigint, number][] {
  const all = Buffer.concat(buffers);
  expect(all.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  let at = 19;
  const out: [number, bigint, number][] = [];
  while (all.readInt16BE(at) !== -1) {
    expect(all.readInt16BE(at)).toBe(3);
    expect([all.readInt32BE(at + 2), all.readInt32BE(at + 10), all.readInt32BE(at + 22)]).toEqual([4, 8, 8]);
    out.push([
      all.readInt32BE(at + 6),
      all.readBigInt64BE(at + 14),
      Number(all.readBigInt64BE(at + 26) + PG_EPOCH_US),
    ]);
    at += 34;
  }
  expect(at + 2).toBe(all.length);
  return out;
}

/** The same rows ordered by comparison: key, then input position. */
function reference(
  keys: BigInt64Array,
  times: Float64Array,
  from: number,
  to: number,
): [number, bigint, number][] {
  const rows = Array.from({ length: to - from }, (_, i) => from + i);
  rows.sort((a, b) => (keys[a]! !== keys[b]! ? (keys[a]! < keys[b]! ? -1 : 1) : a - b));
  return rows.map((row) => [row, keys[row]!, times[row]!]);
}

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

describe('sortedByKey + encodeRecords', () => {
  const next = random(3);
  const extremes = [
    0n,
    1n,
    -1n,
    9_223_372_036_854_775_807n,
    -9_223_372_036_854_775_808n,
    4_294_967_296n,
    4_294_967_295n,
    -4_294_967_296n,
    65_536n,
    255n,
    256n,
  ];
  const n = 5_000;
  const keys = BigInt64Array.from({ length: n }, () =>
    next() < 0.5 ? extremes[Math.floor(next() * extremes.length)]! : BigInt(Math.floor(next() * 200)) - 100n,
  );
  // Epoch microseconds on both sides of 1970 and of 2000, with sub-second parts.
  const times = Float64Array.from({ length: n }, () => Math.floor((next() - 0.3) * 2 ** 52));

  it('orders rows by signed 64-bit key, stable on ties, and encodes row number, key and time', () => {
    expect(parse([...encodeRecords(sortedByKey(keys, times, 0, n), 777)])).toEqual(
      reference(keys, times, 0, n),
    );
  });

  it('takes a sub-range of rows, keeping their absolute row numbers', () => {
    expect(parse([...encodeRecords(sortedByKey(keys, times, 1_234, 4_321))])).toEqual(
      reference(keys, times, 1_234, 4_321),
    );
  });

  it('gives a header and trailer alone for no rows, and one row as it is', () => {
    expect(parse([...encodeRecords(sortedByKey(keys, times, 0, 0))])).toEqual([]);
    expect(parse([...encodeRecords(sortedByKey(keys, times, 7, 8))])).toEqual([[7, keys[7]!, times[7]!]]);
  });

  it('cuts sorted records into nearly equal runs that keep their order', () => {
    const records = sortedByKey(keys, times, 0, 10);
    const runs = splitRecords(records, 3);
    expect(runs.map((r) => parse([...encodeRecords(r)]).length)).toEqual([4, 4, 2]);
    expect(runs.flatMap((r) => parse([...encodeRecords(r)]))).toEqual(reference(keys, times, 0, 10));
  });

  describe('byWindowMonth', () => {
    const us = (iso: string) => Date.parse(iso) * 1000;
    const DAY_US = 86_400_000_000;
    const rows = (times: number[]) =>
      sortedByKey(
        BigInt64Array.from(times, (_, i) => BigInt(i % 3)),
        Float64Array.from(times),
        0,
        times.length,
      );

    it('groups rows by the UTC month their window lies in, key order kept; windows reaching back a month go last', () => {
      const times = [
        us('2024-01-20T00:00:00Z'),
        us('2024-02-01T12:00:00Z'), // window reaches into January
        us('2024-02-10T00:00:00Z'),
        us('2024-01-31T23:59:59.999Z'),
        us('2024-02-02T00:00:00Z'), // window starts exactly at 1 February: fits
        us('2024-03-05T00:00:00Z'),
      ];
      const groups = byWindowMonth(rows(times), DAY_US);
      expect(groups.map((g) => g.month?.map((m) => new Date(m / 1000).toISOString()) ?? null)).toEqual([
        ['2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z'],
        ['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
        ['2024-03-01T00:00:00.000Z', '2024-04-01T00:00:00.000Z'],
        null,
      ]);
      expect(groups.map((g) => parse([...encodeRecords(g.records)]).map(([rn]) => rn))).toEqual([
        [0, 3],
        [4, 2],
        [5],
        [1],
      ]);
    });

    it('leaves rows spread over more than 36 months as one group, and gives none for no rows', () => {
      const times = [us('2020-01-15T00:00:00Z'), us('2023-06-15T00:00:00Z')];
      const groups = byWindowMonth(rows(times), DAY_US);
      expect(groups).toHaveLength(1);
      expect(groups[0]!.month).toBeNull();
      expect(byWindowMonth(rows([]), DAY_US)).toEqual([]);
    });
  });
});
