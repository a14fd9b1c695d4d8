import { describe, expect, it } from 'vitest';
import { epochMsOf, MAX_EVENT_TIME_MS, parseIsoTimestamp } from '../../../shared/events/timestamp.ts';

const at = (iso: string) => new Date(iso).getTime();

describe('parseIsoTimestamp', () => {
  it.each([
    ['2026-11-26T10:00:00.000Z', '2026-11-26T10:00:00.000Z'],
    ['2026-11-26T10:00:00Z', '2026-11-26T10:00:00.000Z'],
    ['2026-11-26T10:00Z', '2026-11-26T10:00:00.000Z'],
    ['2026-11-26t10:00:00z', '2026-11-26T10:00:00.000Z'],
    ['2026-11-26 10:00:00', '2026-11-26T10:00:00.000Z'],
    // no zone means UTC, never the machine's local time
    ['2026-11-26T10:00:00', '2026-11-26T10:00:00.000Z'],
    ['2026-11-26T10:00:00.5', '2026-11-26T10:00:00.500Z'],
    ['2026-11-26T10:00:00.05', '2026-11-26T10:00:00.050Z'],
    ['2026-11-26T10:00:00,123', '2026-11-26T10:00:00.123Z'],
    // microseconds (Python) and nanoseconds (Java) are truncated to milliseconds
    ['2026-11-26T10:00:00.123456', '2026-11-26T10:00:00.123Z'],
    ['2026-11-26T10:00:00.123999999Z', '2026-11-26T10:00:00.123Z'],
    ['2026-01-01T10:00:00+02:00', '2026-01-01T08:00:00.000Z'],
    ['2026-01-01T10:00:00+0200', '2026-01-01T08:00:00.000Z'],
    ['2026-01-01T10:00:00+02', '2026-01-01T08:00:00.000Z'],
    ['2026-01-01T01:30:00-05:30', '2026-01-01T07:00:00.000Z'],
    ['2026-01-01T00:30:00+01:00', '2025-12-31T23:30:00.000Z'],
    ['2026-01-01T10:00:00-00:00', '2026-01-01T10:00:00.000Z'],
    ['2026-11-26', '2026-11-26T00:00:00.000Z'],
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z'],
    ['2000-02-29', '2000-02-29T00:00:00.000Z'],
    ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('%s is %s', (input, expected) => {
    expect(parseIsoTimestamp(input)).toBe(at(expected));
  });

  it.each([
    '',
    'yesterday',
    '2026-11-26T',
    '2026-11-26T10',
    '2026-11-26T10:00:',
    '2026-11-26T10:00:00.',
    '2026-11-26T10:00:00.1234567890',
    '2026-11-26T10:00:00ZZ',
    '2026-11-26T10:00:00 Z',
    '2026-11-26T10:00:00+2:00',
    '2026-11-26T10:00:00+02:0',
    '2026-11-26T10:00:00+24:00',
    '2026-11-26T10:00:00+02:60',
    '2026-11-26T24:00:00Z',
    '2026-11-26T10:60:00Z',
    '2026-12-31T23:59:60Z',
    '2026-02-29',
    '1900-02-29',
    '2026-13-01',
    '2026-00-10',
    '2026-04-31',
    '2026-11-00',
    '20261126',
    '20261126T100000Z',
    '+002026-11-26T10:00:00Z',
    '26-11-26',
    '2026/11/26',
    'Nov 26 2026',
    'Thu, 26 Nov 2026 10:00:00 GMT',
    ' 2026-11-26T10:00:00Z',
    '2026-11-26T10:00:00Z ',
    '1764151200000',
  ])('rejects %j', (input) => {
    expect(parseIsoTimestamp(input)).toBeNaN();
  });

  it('agrees with Date.UTC on every day of 1968-2101 at a varying time of day', () => {
    for (let day = Date.UTC(1968, 0, 1); day < Date.UTC(2101, 0, 1); day += 86_400_000) {
      const t = day + ((day / 86_400_000) % 86_400) * 997;
      const iso = new Date(t).toISOString();
      expect(parseIsoTimestamp(iso)).toBe(t);
    }
  });
});

describe('epochMsOf', () => {
  it('takes epoch milliseconds as integer or float numbers, flooring fractions', () => {
    expect(epochMsOf(1764151200000)).toBe(1764151200000);
    expect(epochMsOf(1764151200000.9)).toBe(1764151200000);
    expect(Object.is(epochMsOf(-0), 0)).toBe(true);
  });

  it('takes ISO strings', () => {
    expect(epochMsOf('2026-11-26T10:00:00Z')).toBe(Date.UTC(2026, 10, 26, 10));
  });

  it('refuses numeric strings, non-finite numbers and other types', () => {
    for (const v of [
      '1764151200000',
      Number.NaN,
      Number.POSITIVE_INFINITY,
      true,
      null,
      undefined,
      {},
      [],
      1n,
    ]) {
      expect(epochMsOf(v)).toBeNaN();
    }
  });

  it('puts the fixed ceiling at 2100-01-01', () => {
    expect(MAX_EVENT_TIME_MS).toBe(at('2100-01-01T00:00:00Z'));
  });
});
