import { DataType } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { entitiesFromCsv, parseCsv } from '../../../cli/input/csv.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import type { ColumnLayout } from '../../../shared/model/layout.ts';
import { entitiesFromColumns } from '../../../shared/retrieval/entities.ts';

const DRIVER: ColumnLayout[] = [{ name: 'driver_id', type: 'int64' }];

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isTributaryError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a TributaryError');
}

describe('parseCsv', () => {
  it('reads RFC 4180: quotes, doubled quotes, commas and line breaks inside quotes, CRLF, a BOM', () => {
    const table = parseCsv('\uFEFFa,b\r\n"x,1","say ""hi"""\r\n"two\nlines",\r\n\r\n"",z\n');
    expect(table.header).toEqual(['a', 'b']);
    expect(table.columns).toEqual([
      ['x,1', 'two\nlines', ''],
      ['say "hi"', null, 'z'],
    ]);
    // The third record starts on line 5: the quoted line break counts, the blank line is skipped.
    expect(table.lines).toEqual([2, 3, 6]);
  });

  it('refuses what it cannot read, naming the line', () => {
    expect(refusal(() => parseCsv(''))).toEqual({
      code: 'TRIB_BAD_REQUEST',
      message: 'the CSV file is empty: it needs a header line naming the columns',
    });
    expect(refusal(() => parseCsv('a,b\n1,2\n3\n', 'e.csv')).message).toBe(
      'e.csv line 3: 1 fields, but the header has 2',
    );
    expect(refusal(() => parseCsv('a\n"open\n', 'e.csv')).message).toBe(
      'e.csv line 2: a quoted field is not closed',
    );
    expect(refusal(() => parseCsv('a\n"x"y\n', 'e.csv')).message).toContain(
      'e.csv line 2: text after a closing quote',
    );
    expect(refusal(() => parseCsv('a,a\n1,2\n', 'e.csv')).message).toBe(
      "e.csv names the column 'a' more than once: give each column a name of its own",
    );
  });
});

describe('entitiesFromCsv', () => {
  it('takes ISO-8601 and epoch milliseconds mixed in one event_timestamp column, as the HTTP JSON path does', () => {
    const csv = [
      'driver_id,event_timestamp',
      '1001,2024-05-10T12:00:00Z',
      '1002,1715342400000',
      '1001,2024-05-10T14:00:00+02:00',
      '1003,2024-05-10',
    ].join('\n');
    const fromCsv = entitiesFromCsv(csv, DRIVER);
    const fromJson = entitiesFromColumns(
      {
        driver_id: [1001, 1002, 1001, 1003],
        event_timestamp: ['2024-05-10T12:00:00Z', 1715342400000, '2024-05-10T14:00:00+02:00', '2024-05-10'],
      },
      DRIVER,
    );
    expect(Array.from(fromCsv.timestamps)).toEqual(Array.from(fromJson.timestamps));
    expect(Array.from(fromCsv.timestamps)).toEqual([
      Date.UTC(2024, 4, 10, 12) * 1000,
      1715342400000 * 1000,
      Date.UTC(2024, 4, 10, 12) * 1000,
      Date.UTC(2024, 4, 10) * 1000,
    ]);
    expect(fromCsv.keys.get('driver_id')).toEqual({
      type: 'int64',
      values: BigInt64Array.from([1001n, 1002n, 1001n, 1003n]),
    });
  });

  it('keeps integer pass-through columns int64 (exact beyond 2^53), numbers float64, booleans, strings and nulls', () => {
    const frame = entitiesFromCsv(
      [
        'driver_id,event_timestamp,label,weight,ok,city,note,big',
        '1,1715342400000,1,0.5,true,Lisbon,"",9007199254740993',
        '2,1715342400000,,2,False,,"a ""b""",-3',
      ].join('\r\n'),
      DRIVER,
    );
    const column = (name: string) => frame.columns.find((c) => c.name === name)!.vector;
    expect(frame.columns.map((c) => c.name)).toEqual([
      'driver_id',
      'event_timestamp',
      'label',
      'weight',
      'ok',
      'city',
      'note',
      'big',
    ]);
    expect(DataType.isInt(column('label').type) && column('label').type.bitWidth).toBe(64);
    expect([...column('label')]).toEqual([1n, null]);
    expect([...column('big')]).toEqual([9007199254740993n, -3n]);
    expect(String(column('weight').type)).toBe('Float64');
    expect([...column('weight')]).toEqual([0.5, 2]);
    expect([...column('ok')]).toEqual([true, false]);
    expect([...column('city')]).toEqual(['Lisbon', null]);
    // A quoted empty field is the empty string, an unquoted one is null.
    expect([...column('note')]).toEqual(['', 'a "b"']);
  });

  it('keeps the header order, integer-like column names included', () => {
    const frame = entitiesFromCsv('driver_id,event_timestamp,7,__proto__\n1,0,2,x\n', DRIVER);
    expect(frame.columns.map((c) => c.name)).toEqual(['driver_id', 'event_timestamp', '7', '__proto__']);
  });

  it("refuses a bad value with the HTTP path's error and the file's line", () => {
    const csv = 'driver_id,event_timestamp\n1,2024-05-10T12:00:00Z\n2,yesterday\n';
    const { code, message } = refusal(() => entitiesFromCsv(csv, DRIVER, 'rows.csv'));
    expect(code).toBe('TRIB_BAD_REQUEST');
    expect(message).toBe(
      'rows.csv line 3: entities.event_timestamp[1]: expected an ISO-8601 timestamp or epoch milliseconds, in years 1 to 9999, got "yesterday"',
    );
    expect(
      refusal(() => entitiesFromCsv('driver_id,event_timestamp\nx,0\n', DRIVER, 'rows.csv')).message,
    ).toBe('rows.csv line 2: entities.driver_id[0]: expected an int64 (integer or decimal string), got "x"');
    expect(refusal(() => entitiesFromCsv('driver_id,label\n1,0\n', DRIVER)).code).toBe('TRIB_MISSING_ENTITY');
  });
});
