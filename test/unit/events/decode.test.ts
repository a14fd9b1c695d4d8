import { describe, expect, it } from 'vitest';
import { driverEntity, driverHourlyStats, driverStatsSource } from '../../../fixtures/driver-spec.ts';
import { rng } from '../../../fixtures/random.ts';
import type { EntitySpec, FeatureViewSpec } from '../../../shared/definitions/types.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import {
  createDecoder,
  type DecodeRejection,
  type DecodeResult,
  type DecoderOptions,
  parseEvent,
  rejectionError,
} from '../../../shared/events/decode.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import type { IncomingMessage } from '../../../shared/stream/port.ts';

const NOW = Date.UTC(2026, 10, 26, 10);
const DAY = 86_400_000;

const driver = driverEntity();
const city: EntitySpec = { kind: 'entity', name: 'city', joinKey: 'city_code', valueType: 'string' };
const source = driverStatsSource('driver_stats');

function view(name: string, entities: string[], schema: FeatureViewSpec['schema']): FeatureViewSpec {
  return {
    kind: 'featureView',
    name,
    entities,
    source: source.name,
    schema,
    ttlMs: DAY,
    online: true,
    offline: true,
  };
}

const driverStats = driverHourlyStats({ ttlMs: DAY });
const mixed = view(
  'driver_city',
  ['driver', 'city'],
  [
    { name: 'active', type: 'bool' },
    { name: 'vehicle', type: 'string' },
    { name: 'last_trip_at', type: 'timestamp' },
    { name: 'lifetime_trips', type: 'int64' },
  ],
);

function decoderOf(v: FeatureViewSpec = driverStats, options: DecoderOptions = {}) {
  return createDecoder(v, [driver, city], source, { now: () => NOW, ...options });
}

function message(value: Buffer | string | null, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return {
    topic: 'driver_stats',
    partition: 3,
    offset: '1234',
    key: Buffer.from('1001'),
    value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
    headers: {},
    timestamp: NOW,
    ...extra,
  };
}

const typical = {
  driver_id: 1001,
  event_timestamp: '2026-11-26T09:00:00.000Z',
  created: 1764151200000,
  conv_rate: 0.5,
  acc_rate: 0.9,
  avg_daily_trips: 12,
};

function decodeJson(json: string, v?: FeatureViewSpec, options?: DecoderOptions): DecodeResult {
  return decoderOf(v, options).decode(message(json));
}

function decode(event: Record<string, unknown>, v?: FeatureViewSpec, options?: DecoderOptions): DecodeResult {
  return decodeJson(JSON.stringify(event), v, options);
}

function row(result: DecodeResult): FeatureRow {
  if (!result.ok) throw new Error(`expected a row, got ${result.code}: ${result.reason}`);
  return result.row;
}

function rejection(result: DecodeResult): DecodeRejection {
  if (result.ok)
    throw new Error(
      `expected a rejection, got ${JSON.stringify(result.row, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`,
    );
  return result;
}

describe('decode: a typical driver_stats message', () => {
  it('becomes a typed row with its origin', () => {
    expect(row(decode(typical))).toEqual({
      keys: [1001n],
      eventTimestamp: Date.UTC(2026, 10, 26, 9),
      created: 1764151200000,
      values: [0.5, 0.9, 12n],
      origin: { topic: 'driver_stats', partition: 3, offset: '1234' },
    });
  });

  it('ignores unknown extra fields, nested or not', () => {
    const r = row(decode({ ...typical, driver_name: 'Ada', meta: { conv_rate: 'x' }, tags: [1, 2] }));
    expect(r.values).toEqual([0.5, 0.9, 12n]);
  });

  it('reads missing and null features as null', () => {
    const { conv_rate: _omitted, ...rest } = typical;
    expect(row(decode({ ...rest, acc_rate: null })).values).toEqual([null, null, 12n]);
  });

  it('reads a missing or null created as null', () => {
    const { created: _omitted, ...rest } = typical;
    expect(row(decode(rest)).created).toBeNull();
    expect(row(decode({ ...typical, created: null })).created).toBeNull();
  });

  it('accepts a UTF-8 byte-order mark and surrounding whitespace', () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(` \n${JSON.stringify(typical)}\n `),
    ]);
    expect(row(decoderOf().decode(message(bytes))).keys).toEqual([1001n]);
  });

  it('keeps non-ASCII strings, including a literal U+FFFD', () => {
    const r = row(decode({ ...typical, driver_id: 7, city_code: 'Zürich \uFFFD 東京', vehicle: 'ő' }, mixed));
    expect(r.keys).toEqual([7n, 'Zürich \uFFFD 東京']);
    expect(r.values[1]).toBe('ő');
  });

  it('reads the view’s other types: string keys, bool, string, timestamp features', () => {
    const r = row(
      decode(
        {
          driver_id: '9007199254740993',
          city_code: 'AMS',
          event_timestamp: NOW,
          active: false,
          vehicle: '',
          last_trip_at: '1965-03-01T12:00:00+01:00',
          lifetime_trips: -5,
        },
        mixed,
      ),
    );
    expect(r.keys).toEqual([9007199254740993n, 'AMS']);
    expect(r.values).toEqual([false, '', Date.UTC(1965, 2, 1, 11), -5n]);
  });

  it('uses the source’s own timestamp and created field names', () => {
    const custom = createDecoder(
      driverStats,
      [driver],
      { timestampField: 'ts', createdField: 'ingested_at' },
      { now: () => NOW },
    );
    const r = row(custom.decode(message(JSON.stringify({ driver_id: 1, ts: NOW, ingested_at: NOW + 1 }))));
    expect([r.eventTimestamp, r.created]).toEqual([NOW, NOW + 1]);
    expect(
      rejection(custom.decode(message(JSON.stringify({ driver_id: 1, event_timestamp: NOW })))).field,
    ).toBe('ts');
  });

  it('reads field names that Object.prototype also has only as own properties', () => {
    const odd = view(
      'odd',
      ['driver'],
      [
        { name: 'constructor', type: 'float64' },
        { name: 'toString', type: 'string' },
        { name: '__proto__', type: 'int64' },
      ],
    );
    const d = decoderOf(odd);
    expect(row(d.decode(message('{"driver_id":1,"event_timestamp":0}'))).values).toEqual([null, null, null]);
    expect(
      row(
        d.decode(
          message('{"driver_id":1,"event_timestamp":0,"constructor":1.5,"toString":"s","__proto__":3}'),
        ),
      ).values,
    ).toEqual([1.5, 's', 3n]);
  });

  it('handles a view without entities or features, and keys of any value type', () => {
    const bare = createDecoder(view('bare', [], []), [], source, { now: () => NOW });
    expect(row(bare.decode(message('{"event_timestamp": 0}')))).toMatchObject({ keys: [], values: [] });
    const odd: EntitySpec[] = [
      { kind: 'entity', name: 'f', joinKey: 'f', valueType: 'float64' },
      { kind: 'entity', name: 'b', joinKey: 'b', valueType: 'bool' },
      { kind: 'entity', name: 't', joinKey: 't', valueType: 'timestamp' },
    ];
    const d = createDecoder(view('odd_keys', ['f', 'b', 't'], []), odd, source, { now: () => NOW });
    const json = '{"f": 1.5, "b": false, "t": "2026-01-01T00:00:00Z", "event_timestamp": 0}';
    expect(row(d.decode(message(json))).keys).toEqual([1.5, false, Date.UTC(2026, 0, 1)]);
  });

  it('treats field names as data, never as code', () => {
    const nasty = view(
      'nasty',
      ['driver'],
      [{ name: '"]; throw new Error("pwned"); //\u2028', type: 'string' }],
    );
    const d = decoderOf(nasty);
    const r = row(
      d.decode(message(JSON.stringify({ driver_id: 1, event_timestamp: 0, [nasty.schema[0]!.name]: 'ok' }))),
    );
    expect(r.values).toEqual(['ok']);
  });
});

describe('decode: message-level rejections', () => {
  it('TRIB_MESSAGE_EMPTY for a null value (tombstone) and for 0 bytes', () => {
    const nullValue = rejection(decoderOf().decode(message(null)));
    expect(nullValue).toEqual({
      ok: false,
      code: 'TRIB_MESSAGE_EMPTY',
      reason: 'message has no value (null, as in a tombstone)',
    });
    const empty = rejection(decoderOf().decode(message(Buffer.alloc(0))));
    expect(empty.code).toBe('TRIB_MESSAGE_EMPTY');
    expect(empty.reason).toBe('message value is empty (0 bytes)');
  });

  it('TRIB_MESSAGE_TOO_LARGE above maxMessageBytes, before parsing', () => {
    const r = rejection(
      decodeJson(`{"driver_id": 1, "pad": "${'x'.repeat(200)}"}`, driverStats, { maxMessageBytes: 100 }),
    );
    expect(r.code).toBe('TRIB_MESSAGE_TOO_LARGE');
    expect(r.reason).toBe('message value is 227 bytes, above the limit of 100 bytes');
    // the default is 1 MiB
    const big = Buffer.from(JSON.stringify({ ...typical, pad: 'x'.repeat(1024 * 1024) }));
    expect(rejection(decoderOf().decode(message(big))).code).toBe('TRIB_MESSAGE_TOO_LARGE');
    const justUnder = JSON.stringify({ ...typical, pad: '' });
    const fill = 'x'.repeat(1024 * 1024 - Buffer.byteLength(justUnder));
    expect(decoderOf().decode(message(JSON.stringify({ ...typical, pad: fill }))).ok).toBe(true);
  });

  it('TRIB_DECODE_FAILED for invalid UTF-8', () => {
    const bytes = Buffer.concat([
      Buffer.from('{"driver_id": "'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const r = rejection(decoderOf().decode(message(bytes)));
    expect(r).toEqual({ ok: false, code: 'TRIB_DECODE_FAILED', reason: 'message value is not valid UTF-8' });
    // a lone surrogate encoded in bytes is invalid too
    expect(rejection(decoderOf().decode(message(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])))).code).toBe(
      'TRIB_DECODE_FAILED',
    );
  });

  it.each([
    ['truncated', '{"driver_id": 1001, "event_timestamp": '],
    ['NaN token', '{"driver_id": 1001, "conv_rate": NaN}'],
    ['Infinity token', '{"driver_id": 1001, "conv_rate": Infinity}'],
    ['single quotes', "{'driver_id': 1001}"],
    ['trailing comma', '{"driver_id": 1001,}'],
    ['two documents', '{"driver_id": 1}{"driver_id": 2}'],
    ['not JSON at all', 'driver_id=1001'],
  ])('TRIB_DECODE_FAILED for invalid JSON (%s)', (_, json) => {
    const r = rejection(decodeJson(json));
    expect(r.code).toBe('TRIB_DECODE_FAILED');
    expect(r.reason).toMatch(/^message value is not valid JSON: /);
    expect(r.field).toBeUndefined();
  });

  it.each([
    ['[1, 2]', 'an array'],
    ['"driver"', 'string "driver"'],
    ['42', 'number 42'],
    ['null', 'null'],
    ['true', 'bool true'],
  ])('TRIB_NOT_AN_OBJECT for %s', (json, got) => {
    expect(rejection(decodeJson(json))).toEqual({
      ok: false,
      code: 'TRIB_NOT_AN_OBJECT',
      reason: `an event must be a JSON object, got ${got}`,
    });
  });
});

describe('decode: join keys', () => {
  it('TRIB_MISSING_FIELD when missing or null', () => {
    const { driver_id: _omitted, ...rest } = typical;
    expect(rejection(decode(rest))).toEqual({
      ok: false,
      code: 'TRIB_MISSING_FIELD',
      reason: 'join key "driver_id" is missing; every event needs its join keys',
      field: 'driver_id',
    });
    expect(rejection(decode({ ...typical, driver_id: null })).reason).toBe(
      'join key "driver_id" is null; every event needs its join keys',
    );
  });

  it('checks every key of a multi-entity view', () => {
    const r = rejection(decode({ ...typical, driver_id: 1 }, mixed));
    expect([r.code, r.field]).toEqual(['TRIB_MISSING_FIELD', 'city_code']);
  });

  it.each([
    [1001, 1001n],
    [0, 0n],
    [-0, 0n],
    [-1, -1n],
    [Number.MAX_SAFE_INTEGER, 9007199254740991n],
    [-Number.MAX_SAFE_INTEGER, -9007199254740991n],
    ['1001', 1001n],
    ['-0', 0n],
    ['9007199254740993', 9007199254740993n],
    ['9223372036854775807', 9223372036854775807n],
    ['-9223372036854775808', -9223372036854775808n],
  ])('int64 key %j is %s', (input, expected) => {
    expect(row(decode({ ...typical, driver_id: input })).keys).toEqual([expected]);
  });

  it.each([
    ['1e3', 1000n],
    ['1.0', 1n],
    ['-0', 0n],
    ['1001.000', 1001n],
  ])('int64 key written %s in the JSON text is %s', (token, expected) => {
    expect(row(decodeJson(`{"driver_id": ${token}, "event_timestamp": 0}`)).keys).toEqual([expected]);
  });

  it('reads int64 numbers beyond 2^53 exactly from the message text', () => {
    // JSON.parse alone would give 9007199254740992
    expect(row(decodeJson('{"driver_id": 9007199254740993, "event_timestamp": 0}')).keys).toEqual([
      9007199254740993n,
    ]);
    expect(row(decodeJson('{"driver_id": -9223372036854775808, "event_timestamp": 0}')).keys).toEqual([
      -9223372036854775808n,
    ]);
    expect(
      row(decodeJson('{"avg_daily_trips": 12345678901234567, "driver_id": 1, "event_timestamp": 0}'))
        .values[2],
    ).toBe(12345678901234567n);
  });

  it('refuses int64 numbers beyond 2^53 without the text, asking for a string', () => {
    const d = decoderOf();
    const r = rejection(
      d.decodeObject(
        { driver_id: 2 ** 53 + 2, event_timestamp: 0 },
        { topic: 't', partition: 0, offset: '0' },
      ),
    );
    expect(r).toEqual({
      ok: false,
      code: 'TRIB_WRONG_TYPE',
      field: 'driver_id',
      reason:
        'join key "driver_id" must be an int64 (a JSON integer or a decimal string), got number 9007199254740994 beyond ±(2^53-1): a parsed JSON number cannot hold it exactly; send the integer as a decimal string',
    });
  });

  it.each([
    ['2.5', 'got number 2.5'],
    ['9007199254740993.5', 'got number 9007199254740994 (it has a fractional part)'],
    ['9223372036854775808', 'got number 9223372036854776000 (9223372036854775808 is outside int64'],
    ['1e19', 'got number 10000000000000000000 (1e19 is outside int64'],
    ['"2.5"', 'got string "2.5" (a string must be a plain decimal'],
    ['"1e3"', 'got string "1e3" (a string must be a plain decimal'],
    ['" 12"', 'got string " 12" (a string must be a plain decimal'],
    ['"007"', 'got string "007" (a string must be a plain decimal'],
    ['"9223372036854775808"', 'got string "9223372036854775808" (outside int64'],
    ['"driver-1"', 'got string "driver-1"'],
    ['true', 'got bool true'],
    ['{"id": 1}', 'got an object'],
    ['[1001]', 'got an array'],
  ])('TRIB_WRONG_TYPE for int64 key %s', (token, got) => {
    const r = rejection(decodeJson(`{"driver_id": ${token}, "event_timestamp": 0}`));
    expect(r.code).toBe('TRIB_WRONG_TYPE');
    expect(r.field).toBe('driver_id');
    expect(r.reason).toContain(
      'join key "driver_id" must be an int64 (a JSON integer or a decimal string), ',
    );
    expect(r.reason).toContain(got);
  });

  it('TRIB_NOT_FINITE for an int64 key that overflows to Infinity', () => {
    const r = rejection(decodeJson('{"driver_id": 1e400, "event_timestamp": 0}'));
    expect(r.code).toBe('TRIB_NOT_FINITE');
    expect(r.reason).toBe(
      'join key "driver_id" must be finite, got Infinity (a JSON number too large for float64 reads as infinity)',
    );
  });

  it('TRIB_WRONG_TYPE when a string key is not a string', () => {
    const r = rejection(decode({ ...typical, city_code: 42 }, mixed));
    expect(r).toEqual({
      ok: false,
      code: 'TRIB_WRONG_TYPE',
      field: 'city_code',
      reason: 'join key "city_code" must be a string, got number 42',
    });
  });
});

describe('decode: features', () => {
  it('float64 takes any finite number, integers included', () => {
    for (const v of [0, 1, -1.5, 1e-300, 1.7976931348623157e308, 12]) {
      expect(row(decode({ ...typical, conv_rate: v })).values[0]).toBe(v);
    }
    expect(row(decodeJson('{"driver_id": 1, "event_timestamp": 0, "conv_rate": -0}')).values[0]).toBe(-0);
  });

  it('float64 does not convert strings, "0.5" and "NaN" alike', () => {
    expect(rejection(decode({ ...typical, conv_rate: '0.5' }))).toEqual({
      ok: false,
      code: 'TRIB_WRONG_TYPE',
      field: 'conv_rate',
      reason:
        'feature "conv_rate" must be a float64 (a finite JSON number), got string "0.5" (strings are not converted to numbers)',
    });
    expect(rejection(decode({ ...typical, acc_rate: 'NaN' })).code).toBe('TRIB_WRONG_TYPE');
    expect(rejection(decode({ ...typical, acc_rate: 'Infinity' })).code).toBe('TRIB_WRONG_TYPE');
    expect(rejection(decode({ ...typical, acc_rate: true })).reason).toContain('got bool true');
  });

  it('TRIB_NOT_FINITE for numbers that overflow float64', () => {
    expect(rejection(decodeJson('{"driver_id": 1, "event_timestamp": 0, "conv_rate": 1e400}'))).toEqual({
      ok: false,
      code: 'TRIB_NOT_FINITE',
      field: 'conv_rate',
      reason:
        'feature "conv_rate" must be finite, got Infinity (a JSON number too large for float64 reads as infinity)',
    });
    expect(
      rejection(decodeJson('{"driver_id": 1, "event_timestamp": 0, "acc_rate": -1e400}')).reason,
    ).toContain('got -Infinity');
  });

  it('TRIB_NOT_FINITE for NaN handed to decodeObject', () => {
    const r = rejection(
      decoderOf().decodeObject(
        { ...typical, conv_rate: Number.NaN },
        { topic: 't', partition: 0, offset: '0' },
      ),
    );
    expect([r.code, r.field]).toEqual(['TRIB_NOT_FINITE', 'conv_rate']);
  });

  it('int64 features follow the int64 key rules', () => {
    expect(row(decode({ ...typical, avg_daily_trips: 1e3 })).values[2]).toBe(1000n);
    expect(row(decode({ ...typical, avg_daily_trips: '9007199254740993' })).values[2]).toBe(
      9007199254740993n,
    );
    const r = rejection(decode({ ...typical, avg_daily_trips: 2.5 }));
    expect(r).toEqual({
      ok: false,
      code: 'TRIB_WRONG_TYPE',
      field: 'avg_daily_trips',
      reason:
        'feature "avg_daily_trips" must be an int64 (a JSON integer or a decimal string), got number 2.5',
    });
  });

  it('bool is strict', () => {
    for (const v of [0, 1, 'true', 'false', 'yes']) {
      const r = rejection(decode({ ...typical, city_code: 'AMS', active: v }, mixed));
      expect([r.code, r.field]).toEqual(['TRIB_WRONG_TYPE', 'active']);
      expect(r.reason).toMatch(/^feature "active" must be a bool \(true or false\), got /);
    }
    expect(row(decode({ ...typical, city_code: 'AMS', active: true }, mixed)).values[0]).toBe(true);
  });

  it('string features must be strings', () => {
    const r = rejection(decode({ ...typical, city_code: 'AMS', vehicle: { make: 'x' } }, mixed));
    expect(r.reason).toBe('feature "vehicle" must be a string, got an object');
  });

  it('timestamp features take ISO-8601 and epoch ms, years 0001-9999, with no "now" bound', () => {
    const base = { ...typical, city_code: 'AMS' };
    expect(row(decode({ ...base, last_trip_at: '2150-01-01T00:00:00Z' }, mixed)).values[2]).toBe(
      Date.UTC(2150, 0, 1),
    );
    expect(row(decode({ ...base, last_trip_at: -1000 }, mixed)).values[2]).toBe(-1000);
    const r = rejection(decode({ ...base, last_trip_at: 'soon' }, mixed));
    expect([r.code, r.field]).toEqual(['TRIB_BAD_TIMESTAMP', 'last_trip_at']);
    expect(rejection(decode({ ...base, last_trip_at: 1e17 }, mixed)).reason).toBe(
      'feature "last_trip_at" is 100000000000000000 ms since the epoch (from number 100000000000000000), outside years 0001 to 9999',
    );
    expect(rejection(decode({ ...base, last_trip_at: 253402300800000 }, mixed)).reason).toContain(
      'is +010000-01-01T00:00:00.000Z',
    );
  });

  it('reports the first bad field in declaration order: keys, event time, created, then features', () => {
    const r = rejection(decode({ driver_id: 'x', event_timestamp: 'x', created: 'x', conv_rate: 'x' }));
    expect(r.field).toBe('driver_id');
    expect(
      rejection(decode({ driver_id: 1, event_timestamp: 'x', created: 'x', conv_rate: 'x' })).field,
    ).toBe('event_timestamp');
    expect(rejection(decode({ driver_id: 1, event_timestamp: 0, created: 'x', conv_rate: 'x' })).field).toBe(
      'created',
    );
  });
});

describe('decode: event and creation timestamps', () => {
  const eventAt = (event_timestamp: unknown) => row(decode({ ...typical, event_timestamp })).eventTimestamp;

  it.each([
    ['2026-01-01T10:00:00+02:00', '2026-01-01T08:00:00.000Z'],
    ['2026-01-01T10:00:00-05:00', '2026-01-01T15:00:00.000Z'],
    ['2026-01-01T10:00:00Z', '2026-01-01T10:00:00.000Z'],
    ['2026-01-01T10:00:00', '2026-01-01T10:00:00.000Z'],
    ['2026-01-01 10:00:00.250', '2026-01-01T10:00:00.250Z'],
    ['2026-01-01T10:00:00.123456+00:00', '2026-01-01T10:00:00.123Z'],
    ['2026-01-01', '2026-01-01T00:00:00.000Z'],
  ])('ISO-8601 %s is %s', (input, expected) => {
    expect(eventAt(input)).toBe(Date.parse(expected));
  });

  it('epoch milliseconds as an integer or a float (floored)', () => {
    expect(eventAt(1764151200000)).toBe(1764151200000);
    expect(eventAt(1764151200000.75)).toBe(1764151200000);
    expect(eventAt(0)).toBe(0);
  });

  it('created takes the same forms', () => {
    expect(row(decode({ ...typical, created: '2026-11-26T11:00:00+01:00' })).created).toBe(NOW);
  });

  it('TRIB_MISSING_FIELD for a missing or null event timestamp', () => {
    const { event_timestamp: _omitted, ...rest } = typical;
    expect(rejection(decode(rest))).toEqual({
      ok: false,
      code: 'TRIB_MISSING_FIELD',
      reason: 'event timestamp "event_timestamp" is missing; every event needs its event time',
      field: 'event_timestamp',
    });
    expect(rejection(decode({ ...typical, event_timestamp: null })).code).toBe('TRIB_MISSING_FIELD');
  });

  it.each([
    ['yesterday', 'got string "yesterday"'],
    ['2026-02-30T00:00:00Z', 'got string "2026-02-30T00:00:00Z"'],
    ['Thu, 26 Nov 2026 10:00:00 GMT', 'got string "Thu, 26 Nov 2026 10:00:00 GMT"'],
    [
      '1764151200000',
      'got string "1764151200000" (numeric strings are not accepted: send epoch milliseconds as a JSON number)',
    ],
    [true, 'got bool true'],
    [{ seconds: 1 }, 'got an object'],
  ])('TRIB_BAD_TIMESTAMP for unparseable %j', (value, got) => {
    const r = rejection(decode({ ...typical, event_timestamp: value }));
    expect(r.code).toBe('TRIB_BAD_TIMESTAMP');
    expect(r.field).toBe('event_timestamp');
    expect(r.reason).toBe(
      `event timestamp "event_timestamp" must be an ISO-8601 string or epoch milliseconds as a number, ${got}`,
    );
  });

  it('TRIB_BAD_TIMESTAMP for an event time that overflows to Infinity', () => {
    const r = rejection(decodeJson('{"driver_id": 1, "event_timestamp": 1e400}'));
    expect(r.code).toBe('TRIB_BAD_TIMESTAMP');
    expect(r.reason).toContain('got number Infinity (not finite)');
  });

  it('TRIB_BAD_TIMESTAMP before 1970', () => {
    const r = rejection(decode({ ...typical, event_timestamp: '1969-12-31T23:59:59.999Z' }));
    expect(r).toEqual({
      ok: false,
      code: 'TRIB_BAD_TIMESTAMP',
      field: 'event_timestamp',
      reason:
        'event timestamp "event_timestamp" is 1969-12-31T23:59:59.999Z (from string "1969-12-31T23:59:59.999Z"), outside 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z',
    });
    expect(rejection(decode({ ...typical, event_timestamp: -1 })).code).toBe('TRIB_BAD_TIMESTAMP');
    // an offset can bring a 1969 wall-clock time into range
    expect(eventAt('1969-12-31T23:00:00-01:00')).toBe(0);
  });

  it('TRIB_BAD_TIMESTAMP more than a day ahead of now; exactly a day is fine', () => {
    expect(eventAt(NOW + DAY)).toBe(NOW + DAY);
    const r = rejection(decode({ ...typical, event_timestamp: NOW + DAY + 1 }));
    expect(r.code).toBe('TRIB_BAD_TIMESTAMP');
    expect(r.reason).toBe(
      `event timestamp "event_timestamp" is 2026-11-27T10:00:00.001Z (from number ${NOW + DAY + 1}), outside 1970-01-01T00:00:00Z to now + 86400000 ms (now is 2026-11-26T10:00:00.000Z)`,
    );
    const created = rejection(decode({ ...typical, created: '2027-01-01T00:00:00Z' }));
    expect([created.code, created.field]).toEqual(['TRIB_BAD_TIMESTAMP', 'created']);
    expect(created.reason).toMatch(/^creation timestamp "created" is 2027-01-01T00:00:00.000Z/);
  });

  it('follows the clock: an event rejected as future is accepted once its time has come', () => {
    let clock = NOW;
    const d = decoderOf(driverStats, { now: () => clock });
    const future = message(JSON.stringify({ ...typical, event_timestamp: NOW + 2 * DAY }));
    expect(d.decode(future).ok).toBe(false);
    clock = NOW + DAY;
    expect(d.decode(future).ok).toBe(true);
  });

  it('maxFutureMs sets the bound; Infinity leaves only the 2100 ceiling', () => {
    expect(
      decode({ ...typical, event_timestamp: NOW + 2 * DAY }, driverStats, { maxFutureMs: 7 * DAY }).ok,
    ).toBe(true);
    const open = { maxFutureMs: Number.POSITIVE_INFINITY };
    expect(decode({ ...typical, event_timestamp: '2099-12-31T23:59:59.999Z' }, driverStats, open).ok).toBe(
      true,
    );
    const r = rejection(decode({ ...typical, event_timestamp: '2100-01-01T00:00:00Z' }, driverStats, open));
    expect(r.reason).toContain('outside 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z');
  });
});

describe('decodeObject and parseEvent', () => {
  const origin = { topic: 'driver_stats_push', partition: 0, offset: '7' };

  it('decodes an already-parsed object with the origin given', () => {
    const r = row(decoderOf().decodeObject({ ...typical, driver_id: 5n }, origin));
    expect(r.keys).toEqual([5n]);
    expect(r.origin).toBe(origin);
  });

  it('TRIB_NOT_AN_OBJECT for non-objects', () => {
    for (const v of [null, undefined, [], 'x', 1]) {
      expect(rejection(decoderOf().decodeObject(v, origin)).code).toBe('TRIB_NOT_AN_OBJECT');
    }
  });

  it('parses a message once for several views', () => {
    const parsed = parseEvent(
      message(JSON.stringify({ ...typical, driver_id: 9007199254740993n.toString() })),
    );
    if (!parsed.ok) throw new Error(parsed.reason);
    const a = row(decoderOf().decodeObject(parsed.object, origin, parsed.text));
    const b = row(
      createDecoder(view('other', ['driver'], [{ name: 'acc_rate', type: 'float64' }]), [driver], source, {
        now: () => NOW,
      }).decodeObject(parsed.object, origin, parsed.text),
    );
    expect([a.keys, b.keys, b.values]).toEqual([[9007199254740993n], [9007199254740993n], [0.9]]);
  });

  it('parseEvent applies the size limit it is given', () => {
    expect(parseEvent(message('{"a":1}'), 3)).toMatchObject({ ok: false, code: 'TRIB_MESSAGE_TOO_LARGE' });
  });
});

describe('createDecoder', () => {
  it('throws TRIB_DEFINITION_INVALID when an entity of the view is not given', () => {
    expect(() => createDecoder(mixed, [driver], source)).toThrowError(
      'feature view "driver_city" uses entity "city", which is not declared',
    );
    try {
      createDecoder(mixed, [driver], source);
    } catch (error) {
      expect(isTributaryError(error, 'TRIB_DEFINITION_INVALID')).toBe(true);
    }
  });

  it('throws TRIB_CONFIG_INVALID for impossible options', () => {
    for (const options of [
      { maxMessageBytes: 0 },
      { maxMessageBytes: 1.5 },
      { maxFutureMs: -1 },
      { maxFutureMs: Number.NaN },
    ]) {
      expect(() => createDecoder(driverStats, [driver], source, options)).toThrowError(/must be/);
    }
  });

  it('rejectionError turns a rejection into a TributaryError with the field', () => {
    const r = rejection(decode({ ...typical, conv_rate: 'x' }));
    const error = rejectionError(r);
    expect(isTributaryError(error, 'TRIB_WRONG_TYPE')).toBe(true);
    expect(error.message).toBe(r.reason);
    expect(error.details).toEqual({ field: 'conv_rate' });
  });

  it('truncates long offending values in reasons', () => {
    const r = rejection(decode({ ...typical, conv_rate: 'y'.repeat(10_000) }));
    expect(r.reason.length).toBeLessThan(300);
    expect(r.reason).toContain('(10000 chars)');
  });
});

describe('decode: strings the offline store could not hold', () => {
  const keyed = { driver_id: 1001, city_code: 'AMS', event_timestamp: NOW - DAY };

  it('refuses U+0000 in a string feature or a string join key, which Postgres text cannot hold', () => {
    const feature = rejection(decode({ ...keyed, vehicle: 'car\u0000' }, mixed));
    expect(feature).toMatchObject({ code: 'TRIB_WRONG_TYPE', field: 'vehicle' });
    expect(feature.reason).toContain('U+0000');
    expect(rejection(decode({ ...keyed, city_code: '\u0000' }, mixed))).toMatchObject({
      code: 'TRIB_WRONG_TYPE',
      field: 'city_code',
    });
    expect(row(decode({ ...keyed, vehicle: 'car\u0001' }, mixed)).values[1]).toBe('car\u0001');
  });

  it('takes a string join key of up to 512 UTF-8 bytes, counted in bytes, not characters', () => {
    expect(row(decode({ ...keyed, city_code: 'é'.repeat(256) }, mixed)).keys[1]).toBe('é'.repeat(256));
    const long = rejection(decode({ ...keyed, city_code: 'é'.repeat(257) }, mixed));
    expect(long).toMatchObject({ code: 'TRIB_WRONG_TYPE', field: 'city_code' });
    expect(long.reason).toContain('514 UTF-8 bytes; a join key may have 512');
    expect(row(decode({ ...keyed, city_code: 'x'.repeat(512) }, mixed)).keys[1]).toHaveLength(512);
    expect(rejection(decode({ ...keyed, city_code: 'x'.repeat(513) }, mixed)).code).toBe('TRIB_WRONG_TYPE');
  });

  it('takes a string feature of any length', () => {
    const huge = 'é🙂'.repeat(100_000);
    expect(row(decode({ ...keyed, vehicle: huge }, mixed)).values[1]).toBe(huge);
  });
});

describe('the compiled reader against the interpreted one', () => {
  // Field values of every kind a stream can send: valid forms of each type, the edges of each
  // check, and wrong types. A JSON text per event, so unsafe integers reach the decoder as text.
  // biome-ignore format: grouped by kind, one value per line would hide the groups
  const candidates: string[] = [
    'null', '0', '-7', '12', '9007199254740991', '9007199254740993', '-9223372036854775809',
    '1.5', '1e400', '-0', 'true', 'false', '[]', '{}', '"x"', '""', '"a\\u0000b"',
    '"9223372036854775807"', '"012"', '"-5"', `"${'é'.repeat(200)}"`, `"${'k'.repeat(600)}"`,
    '"2026-11-26T09:00:00Z"', '"2026-11-26"', '"not a time"', '1764151200000', '"1764151200000"',
    '4102444800000', '-1', '1795687200000', '0.25',
  ];
  const tricky = view(
    'tricky',
    ['driver', 'city'],
    [
      { name: 'constructor', type: 'float64' },
      { name: 'active', type: 'bool' },
      { name: 'toString', type: 'string' },
      { name: 'at', type: 'timestamp' },
      { name: 'n', type: 'int64' },
    ],
  );
  // Valid forms per field, drawn half the time so that whole events are often accepted.
  const int = ['12', '9007199254740993', '"-5"', '0'];
  const str = ['"x"', '""', '"é"'];
  const time = ['"2026-11-26T09:00:00Z"', '1764151200000'];
  const valid: Record<string, string[]> = {
    driver_id: int,
    city_code: str,
    event_timestamp: time,
    created: time,
    constructor: ['1.5', '0', '-0'],
    active: ['true', 'false'],
    toString: str,
    at: time,
    n: int,
  };
  const random = rng(20261203);
  const pick = (pool: string[]) => pool[Math.floor(random() * pool.length)]!;

  function eventText(): string {
    const members: string[] = [];
    for (const [name, pool] of Object.entries(valid)) {
      const draw = random();
      if (draw < 0.04) continue; // missing
      members.push(`${JSON.stringify(name)}:${draw < 0.6 ? pick(pool) : pick(candidates)}`);
    }
    return `{${members.join(',')}}`;
  }

  it('accepts and rejects the same events, with the same rows and reasons', () => {
    const compiled = decoderOf(tricky, { reader: 'compiled' });
    const interpreted = decoderOf(tricky, { reader: 'interpreted' });
    let accepted = 0;
    const codes = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const text = eventText();
      const a = compiled.decode(message(text));
      const b = interpreted.decode(message(text));
      expect(a, text).toEqual(b);
      if (a.ok) accepted++;
      else codes.add(a.code);
    }
    // The draw reaches both outcomes and the field-level rejections, so the comparison means something.
    expect(accepted).toBeGreaterThan(200);
    expect([...codes].sort()).toEqual([
      'TRIB_BAD_TIMESTAMP',
      'TRIB_MISSING_FIELD',
      'TRIB_NOT_FINITE',
      'TRIB_WRONG_TYPE',
    ]);
  });
});
