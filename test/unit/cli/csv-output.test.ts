import {
  Bool,
  Field,
  Float64,
  Int64,
  List,
  makeData,
  makeTable,
  makeVector,
  Schema,
  type Table,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { csvFile, isoOfNanos } from '../../../cli/output/csv.ts';
import { outputFormatOf } from '../../../cli/output/index.ts';
import { isTributaryError } from '../../../shared/errors.ts';

async function text(iterable: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const chunk of iterable) out += chunk;
  return out;
}

describe('CSV output', () => {
  it('quotes per RFC 4180, writes nulls as empty fields and timestamps as ISO-8601 with Z', async () => {
    const micros = BigInt64Array.from([1715342400000000n, 1715342400123000n, 1715342400123456n]);
    const ts = makeVector(
      makeData({
        type: new TimestampMicrosecond('UTC'),
        length: 3,
        nullCount: 1,
        data: micros,
        nullBitmap: Uint8Array.of(0b011),
      }),
    );
    const table = makeTable({
      id: vectorFromArray([1n, 9007199254740993n, null], new Int64()),
      ts,
      s: vectorFromArray(['plain', 'a,"b"\nc', ''], new Utf8()),
      x: vectorFromArray([0.1, null, Number.NaN], new Float64()),
      b: vectorFromArray([true, false, null], new Bool()),
    } as never) as unknown as Table;
    async function* batches() {
      yield* table.batches;
    }
    expect(await text(csvFile(table.schema, batches()))).toBe(
      [
        'id,ts,s,x,b',
        '1,2024-05-10T12:00:00Z,plain,0.1,true',
        '9007199254740993,2024-05-10T12:00:00.123Z,"a,""b""\nc",,false',
        ',,"",NaN,',
        '',
      ].join('\r\n'),
    );
  });

  it('writes as many fraction digits as an instant needs, before 1970 too', () => {
    expect(isoOfNanos(0n)).toBe('1970-01-01T00:00:00Z');
    expect(isoOfNanos(-1n)).toBe('1969-12-31T23:59:59.999999999Z');
    expect(isoOfNanos(1_500_000n)).toBe('1970-01-01T00:00:00.001500Z');
    expect(isoOfNanos(-62_135_596_800_000_000_000n)).toBe('0001-01-01T00:00:00Z');
  });

  it('refuses a column CSV cannot hold, before writing anything', async () => {
    const schema = new Schema([
      new Field('id', new Int64(), true),
      new Field('l', new List(new Field('item', new Int64())), true),
    ]);
    const error = await text(csvFile(schema, (async function* () {})())).catch((e: unknown) => e);
    expect(isTributaryError(error, 'TRIB_BAD_REQUEST')).toBe(true);
    expect((error as Error).message).toContain("CSV cannot hold the column(s) 'l'");
  });

  it('picks the format by the extension, case-insensitively', () => {
    expect(outputFormatOf('t.arrow')).toBe('arrow');
    expect(outputFormatOf('t.FEATHER')).toBe('arrow');
    expect(outputFormatOf('t.arrows')).toBe('arrows');
    expect(outputFormatOf('t.parquet')).toBe('parquet');
    expect(outputFormatOf('t.csv')).toBe('csv');
    expect(outputFormatOf('t.json')).toBeUndefined();
  });
});
