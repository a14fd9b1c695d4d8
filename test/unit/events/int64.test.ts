import { describe, expect, it } from 'vitest';
import {
  INT64_MAX,
  INT64_MIN,
  parseInt64String,
  parseInt64Token,
  rawMemberToken,
} from '../../../shared/events/int64.ts';

describe('parseInt64String', () => {
  it.each([
    ['0', 0n],
    ['-0', 0n],
    ['1001', 1001n],
    ['-42', -42n],
    ['9007199254740993', 9007199254740993n],
    ['9223372036854775807', INT64_MAX],
    ['-9223372036854775808', INT64_MIN],
  ])('%s is %s', (input, expected) => {
    expect(parseInt64String(input)).toBe(expected);
  });

  it.each([
    '9223372036854775808',
    '-9223372036854775809',
    '99999999999999999999',
    '123456789012345678901234',
  ])('%s is out of range', (input) => {
    expect(parseInt64String(input)).toBe('range');
  });

  it.each(['', '-', '+1', ' 1', '1 ', '007', '1.0', '2.5', '1e3', '0x10', '1_000', 'NaN', '١٢'])(
    '%j is not a plain decimal',
    (input) => {
      expect(parseInt64String(input)).toBeUndefined();
    },
  );
});

describe('parseInt64Token', () => {
  it.each([
    ['9007199254740993', 9007199254740993n],
    ['-9007199254740993', -9007199254740993n],
    ['9223372036854775807', INT64_MAX],
    ['-9223372036854775808', INT64_MIN],
    ['1e3', 1000n],
    ['1E+3', 1000n],
    ['9.007199254740993e15', 9007199254740993n],
    ['12.000', 12n],
    ['1200e-2', 12n],
    ['0.0', 0n],
    ['-0', 0n],
    ['0e99999', 0n],
  ])('%s is %s', (token, expected) => {
    expect(parseInt64Token(token)).toBe(expected);
  });

  it.each(['2.5', '9007199254740993.5', '1e-1', '15e-1'])('%s has a fraction', (token) => {
    expect(parseInt64Token(token)).toBe('fraction');
  });

  it.each(['9223372036854775808', '-9223372036854775809', '1e19', '1e400', '1e999999999'])(
    '%s is out of range',
    (token) => {
      expect(parseInt64Token(token)).toBe('range');
    },
  );

  it('is undefined for something that is not a number token', () => {
    expect(parseInt64Token('"12"')).toBeUndefined();
    expect(parseInt64Token('true')).toBeUndefined();
  });
});

describe('rawMemberToken', () => {
  it('finds a top-level member and skips nested ones, strings and escapes', () => {
    const text =
      ' { "a": {"id": 1, "s": "}\\"id\\": 2"}, "list": [1, [2, {"id": 3}]], "note": "\\"id\\":4" ,\n\t"id" : 9007199254740993 } ';
    expect(rawMemberToken(text, 'id')).toBe('9007199254740993');
    expect(rawMemberToken(text, 'a')).toBe('{"id": 1, "s": "}\\"id\\": 2"}');
    expect(rawMemberToken(text, 'missing')).toBeUndefined();
  });

  it('takes the last duplicate, as JSON.parse does', () => {
    expect(rawMemberToken('{"id":1,"id":9007199254740993}', 'id')).toBe('9007199254740993');
  });

  it('matches escaped keys by their value', () => {
    expect(rawMemberToken('{"driver\\u005fid":9007199254740993}', 'driver_id')).toBe('9007199254740993');
  });

  it('is undefined for text that is not an object', () => {
    expect(rawMemberToken('[1,2]', 'id')).toBeUndefined();
    expect(rawMemberToken('{}', 'id')).toBeUndefined();
  });
});
