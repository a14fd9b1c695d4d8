/**
 * The event decoder: Kafka message bytes (or an already-parsed JSON object, for POST /push)
 * to a typed `FeatureRow` of one feature view, or a coded rejection that says why. Pure: no I/O,
 * no logging, nothing thrown for a bad event. The accepted format is documented in docs/events.md.
 *
 * Hot path (50k+ events/s per consumer). Everything derivable from the view is resolved once in
 * `createDecoder`, which also compiles the view's field reading into one straight-line function
 * (`compileReader`): each field is then a named property load that stays monomorphic (messages of
 * a topic share one object shape) followed by an inline `typeof` check, where a loop over field
 * names costs a megamorphic keyed load and a type switch per field — together more than parsing
 * the JSON itself (`npm run bench:decode` runs both readers; the interpreted one is also the
 * reference the compiled one is tested against). Per event no closure is created, no regex is compiled, and there is no
 * try/catch except around `JSON.parse`; rejections and their reason strings are only built on failure.
 */

import { isUtf8 } from 'node:buffer';
import type { EntitySpec, FeatureViewSpec, KafkaSourceSpec, ValueType } from '../definitions/types.ts';
import { type ErrorCode, TributaryError } from '../errors.ts';
import { MAX_JOIN_KEY_BYTES } from '../model/layout.ts';
import type { FeatureRow } from '../model/row.ts';
import type { IncomingMessage } from '../stream/port.ts';
import { INT64_MAX, INT64_MIN, parseInt64String, parseInt64Token, rawMemberToken } from './int64.ts';
import {
  epochMsOf,
  MAX_EVENT_TIME_MS,
  MAX_TIMESTAMP_VALUE_MS,
  MIN_EVENT_TIME_MS,
  MIN_TIMESTAMP_VALUE_MS,
} from './timestamp.ts';

/** The codes a decoder can reject an event with. */
export type DecodeErrorCode = Extract<
  ErrorCode,
  | 'TRIB_DECODE_FAILED'
  | 'TRIB_MESSAGE_EMPTY'
  | 'TRIB_MESSAGE_TOO_LARGE'
  | 'TRIB_NOT_AN_OBJECT'
  | 'TRIB_MISSING_FIELD'
  | 'TRIB_WRONG_TYPE'
  | 'TRIB_NOT_FINITE'
  | 'TRIB_BAD_TIMESTAMP'
>;

/** Why an event was refused; `field` names the offending JSON field when there is one. */
export interface DecodeRejection {
  ok: false;
  code: DecodeErrorCode;
  reason: string;
  field?: string;
}

export type DecodeResult = { ok: true; row: FeatureRow } | DecodeRejection;

export type RowOrigin = FeatureRow['origin'];

/** A message's JSON object and its text (the text lets int64 values beyond 2^53 be read exactly). */
export interface ParsedEvent {
  ok: true;
  object: Record<string, unknown>;
  text: string;
}

export interface DecoderOptions {
  /** Larger message values are rejected with TRIB_MESSAGE_TOO_LARGE before parsing. Default 1 MiB. */
  maxMessageBytes?: number;
  /**
   * Event and creation times later than now + this are rejected (TRIB_BAD_TIMESTAMP): a far-future
   * event would otherwise win "last write by event time" in the online store until that date.
   * Default one day; `Infinity` keeps only the fixed ceiling of 2100-01-01.
   */
  maxFutureMs?: number;
  /**
   * The clock, epoch ms; injectable for tests. Default `Date.now`. Assumed not to run backwards:
   * the decoder caches the future bound and reads the clock again only when an event passes it.
   */
  now?: () => number;
  /**
   * How fields are read: `compiled` (default) generates one straight-line function per view;
   * `interpreted` loops over the fields. Both accept and reject exactly the same events.
   */
  reader?: 'compiled' | 'interpreted';
}

/** What a decoder reads of a view: a plain or a stream view, whose rows are its schema's columns. */
export type DecodedView = Pick<FeatureViewSpec, 'name' | 'entities' | 'schema'>;

export interface Decoder {
  readonly view: DecodedView;
  /** Decodes a Kafka message's value into a row of the view. */
  decode(message: IncomingMessage): DecodeResult;
  /**
   * Decodes an already-parsed JSON value (push, or a message parsed once for several views).
   * Pass the JSON `text` it came from when there is one, so int64 numbers beyond 2^53 can be read exactly.
   */
  decodeObject(value: unknown, origin: RowOrigin, text?: string): DecodeResult;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
export const DEFAULT_MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

// Field types as small integers, for the switch in `convert` and the compiled fast paths.
const INT64 = 0;
const FLOAT64 = 1;
const STRING = 2;
const BOOL = 3;
const TIMESTAMP = 4;
const TYPE_CODES: Record<ValueType, number> = {
  int64: INT64,
  float64: FLOAT64,
  string: STRING,
  bool: BOOL,
  timestamp: TIMESTAMP,
};
const TYPE_RULES: Record<ValueType, string> = {
  int64: 'an int64 (a JSON integer or a decimal string)',
  float64: 'a float64 (a finite JSON number)',
  string: 'a string',
  bool: 'a bool (true or false)',
  timestamp: 'a timestamp (an ISO-8601 string or epoch milliseconds as a number)',
};

interface Field {
  /** The JSON member name. */
  readonly name: string;
  readonly type: number;
  readonly valueType: ValueType;
  /** How reasons refer to it: `join key "driver_id"`, `feature "conv_rate"`. */
  readonly label: string;
  /**
   * The name is also a property of Object.prototype ("constructor", "toString", "__proto__"…):
   * read it only as an own property, or a missing field would read as the inherited function.
   */
  readonly ownOnly: boolean;
  /** Join keys only: the most UTF-8 bytes a string value may take (the offline index holds it). */
  readonly maxBytes: number | undefined;
}

type Value = bigint | number | string | boolean;

/** Characters that always fit in MAX_JOIN_KEY_BYTES (3 UTF-8 bytes per UTF-16 unit at most). */
const MAX_JOIN_KEY_CHARS_FAST = Math.floor(MAX_JOIN_KEY_BYTES / 3);

function fieldOf(name: string, valueType: ValueType, kind: string): Field {
  return {
    name,
    type: TYPE_CODES[valueType],
    valueType,
    label: `${kind} ${JSON.stringify(name)}`,
    ownOnly: name in Object.prototype,
    maxBytes: kind === 'join key' && valueType === 'string' ? MAX_JOIN_KEY_BYTES : undefined,
  };
}

function reject(code: DecodeErrorCode, reason: string, field?: string): DecodeRejection {
  return field === undefined ? { ok: false, code, reason } : { ok: false, code, reason, field };
}

/** A short, safe rendering of an offending value for a reason text. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
      return `string ${JSON.stringify(shown)}${value.length > 64 ? ` (${value.length} chars)` : ''}`;
    }
    case 'number':
      return `number ${String(value)}`;
    case 'bigint':
      return `bigint ${value}`;
    case 'boolean':
      return `bool ${value}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function wrongType(field: Field, value: unknown, hint = ''): DecodeRejection {
  return reject(
    'TRIB_WRONG_TYPE',
    `${field.label} must be ${TYPE_RULES[field.valueType]}, got ${describeValue(value)}${hint}`,
    field.name,
  );
}

function notFinite(field: Field, value: number): DecodeRejection {
  return reject(
    'TRIB_NOT_FINITE',
    `${field.label} must be finite, got ${String(value)} (a JSON number too large for float64 reads as infinity)`,
    field.name,
  );
}

function int64OfUnsafeNumber(
  field: Field,
  value: number,
  text: string | undefined,
): bigint | DecodeRejection {
  // |value| > 2^53 - 1: the float64 already lost digits, so read the number's own text instead.
  if (text !== undefined) {
    const token = rawMemberToken(text, field.name);
    const exact = token === undefined ? undefined : parseInt64Token(token);
    if (typeof exact === 'bigint') return exact;
    if (exact === 'fraction') return wrongType(field, value, ' (it has a fractional part)');
    if (exact === 'range') {
      return wrongType(field, value, ` (${token} is outside int64, ${INT64_MIN}..${INT64_MAX})`);
    }
  }
  return wrongType(
    field,
    value,
    ' beyond ±(2^53-1): a parsed JSON number cannot hold it exactly; send the integer as a decimal string',
  );
}

function int64Of(field: Field, value: unknown, text: string | undefined): bigint | DecodeRejection {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return BigInt(value);
    if (!Number.isFinite(value)) return notFinite(field, value);
    if (Math.abs(value) <= Number.MAX_SAFE_INTEGER) return wrongType(field, value);
    return int64OfUnsafeNumber(field, value, text);
  }
  if (typeof value === 'string') {
    const parsed = parseInt64String(value);
    if (typeof parsed === 'bigint') return parsed;
    if (parsed === 'range') return wrongType(field, value, ` (outside int64, ${INT64_MIN}..${INT64_MAX})`);
    return wrongType(
      field,
      value,
      ' (a string must be a plain decimal: digits, optional "-", no leading zeros)',
    );
  }
  if (typeof value === 'bigint') {
    return value >= INT64_MIN && value <= INT64_MAX ? value : wrongType(field, value, ' (outside int64)');
  }
  return wrongType(field, value);
}

function timestampValueOf(field: Field, value: unknown): number | DecodeRejection {
  const ms = epochMsOf(value);
  if (ms >= MIN_TIMESTAMP_VALUE_MS && ms < MAX_TIMESTAMP_VALUE_MS) return ms;
  return badTimestamp(field, value, ms, 'years 0001 to 9999');
}

/** ISO form where `Date` can express it (±8.64e15 ms), else the epoch ms as digits. */
function isoOrNumber(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms since the epoch`;
}

function badTimestamp(field: Field, value: unknown, ms: number, range: string): DecodeRejection {
  if (Number.isNaN(ms)) {
    let hint = '';
    if (typeof value === 'string' && /^\s*-?[0-9]+(\.[0-9]+)?\s*$/.test(value)) {
      hint = ' (numeric strings are not accepted: send epoch milliseconds as a JSON number)';
    } else if (typeof value === 'number') {
      hint = ' (not finite)';
    }
    return reject(
      'TRIB_BAD_TIMESTAMP',
      `${field.label} must be an ISO-8601 string or epoch milliseconds as a number, got ${describeValue(value)}${hint}`,
      field.name,
    );
  }
  return reject(
    'TRIB_BAD_TIMESTAMP',
    `${field.label} is ${isoOrNumber(ms)} (from ${describeValue(value)}), outside ${range}`,
    field.name,
  );
}

/**
 * Converts a present, non-null value of a field, or says why it cannot: every accepted form and
 * every rejection. The compiled reader inlines the common valid case and calls this for the rest.
 */
function convert(field: Field, value: unknown, text: string | undefined): Value | DecodeRejection {
  switch (field.type) {
    case FLOAT64:
      if (typeof value === 'number') return Number.isFinite(value) ? value : notFinite(field, value);
      return wrongType(
        field,
        value,
        typeof value === 'string' ? ' (strings are not converted to numbers)' : '',
      );
    case INT64:
      return int64Of(field, value, text);
    case STRING:
      return typeof value === 'string' ? stringOf(field, value) : wrongType(field, value);
    case BOOL:
      return typeof value === 'boolean' ? value : wrongType(field, value);
    default:
      return timestampValueOf(field, value);
  }
}

/** A string Postgres can store (text holds no U+0000) within the field's byte limit. */
function stringOf(field: Field, value: string): string | DecodeRejection {
  if (value.includes('\0')) {
    return wrongType(field, value, ' (it contains U+0000, which Postgres text cannot hold)');
  }
  if (field.maxBytes !== undefined) {
    const bytes = Buffer.byteLength(value);
    if (bytes > field.maxBytes) {
      return wrongType(field, value, ` (${bytes} UTF-8 bytes; a join key may have ${field.maxBytes})`);
    }
  }
  return value;
}

const REPLACEMENT_CHARACTER = '\uFFFD';

/** Checks the size and UTF-8 of a message value and parses its JSON object, once for any number of views. */
export function parseEvent(
  message: Pick<IncomingMessage, 'value'>,
  maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
): ParsedEvent | DecodeRejection {
  const bytes = message.value;
  if (bytes === null) return reject('TRIB_MESSAGE_EMPTY', 'message has no value (null, as in a tombstone)');
  const size = bytes.length;
  if (size === 0) return reject('TRIB_MESSAGE_EMPTY', 'message value is empty (0 bytes)');
  if (size > maxMessageBytes) {
    return reject(
      'TRIB_MESSAGE_TOO_LARGE',
      `message value is ${size} bytes, above the limit of ${maxMessageBytes} bytes`,
    );
  }
  // A leading byte-order mark (some Windows/.NET producers write one) is not JSON whitespace.
  const start = size >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const text = bytes.toString('utf8', start, size);
  // Decoding replaces invalid UTF-8 with U+FFFD, so a text without one came from valid bytes; the
  // full check runs only when one is present (it may also have been sent as such).
  if (text.includes(REPLACEMENT_CHARACTER) && !isUtf8(bytes)) {
    return reject('TRIB_DECODE_FAILED', 'message value is not valid UTF-8');
  }
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return reject(
      'TRIB_DECODE_FAILED',
      `message value is not valid JSON: ${detail.length > 200 ? `${detail.slice(0, 200)}…` : detail}`,
    );
  }
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    return notAnObject(object);
  }
  return { ok: true, object: object as Record<string, unknown>, text };
}

function notAnObject(value: unknown): DecodeRejection {
  return reject('TRIB_NOT_AN_OBJECT', `an event must be a JSON object, got ${describeValue(value)}`);
}

function missing(field: Field, value: null | undefined, need: string): DecodeRejection {
  return reject(
    'TRIB_MISSING_FIELD',
    `${field.label} is ${value === null ? 'null' : 'missing'}; every event needs ${need}`,
    field.name,
  );
}

/** What the compiled reader calls out to: the slow paths, and the decoder's event-time check. */
interface ReaderHelpers {
  convert: typeof convert;
  missing: typeof missing;
  eventTime: (field: Field, value: unknown) => number | DecodeRejection;
}

/** Reads one event object into a row; the body is generated per view by `compileReader`. */
type Reader = (object: Record<string, unknown>, origin: RowOrigin, text: string | undefined) => DecodeResult;

/** The inline check and conversion of a field type's common valid case, as a JS expression pair. */
const FAST_PATHS: Partial<Record<number, { test: string; value: string }>> = {
  // x - x is 0 exactly when x is finite.
  [FLOAT64]: { test: "typeof v === 'number' && v - v === 0", value: 'v' },
  [INT64]: { test: "typeof v === 'number' && Number.isSafeInteger(v)", value: 'BigInt(v)' },
  [STRING]: { test: "typeof v === 'string' && !v.includes('\\0')", value: 'v' },
  [BOOL]: { test: "typeof v === 'boolean'", value: 'v' },
};

/**
 * Generates the view's reader: straight-line code with one named property load per field.
 * Field names enter the source only as JSON string literals (`JSON.stringify`), which are valid,
 * inert JS string literals, so a name cannot inject code; field metadata is passed by reference.
 */
function compileReader(
  keyFields: readonly Field[],
  valueFields: readonly Field[],
  eventField: Field,
  createdField: Field,
  helpers: ReaderHelpers,
): Reader {
  const load = (field: Field): string => {
    const name = JSON.stringify(field.name);
    return field.ownOnly ? `(Object.hasOwn(o, ${name}) ? o[${name}] : undefined)` : `o[${name}]`;
  };
  const convertInto = (target: string, field: string, type: number, maxBytes?: number): string => {
    const fast =
      type === STRING && maxBytes !== undefined
        ? {
            test: `typeof v === 'string' && v.length <= ${MAX_JOIN_KEY_CHARS_FAST} && !v.includes('\\0')`,
            value: 'v',
          }
        : FAST_PATHS[type];
    const slow = `${target} = h.convert(${field}, v, text); if (typeof ${target} === 'object') return ${target};`;
    return fast === undefined ? slow : `if (${fast.test}) ${target} = ${fast.value}; else { ${slow} }`;
  };
  const lines: string[] = ["'use strict';", 'return function readEvent(o, origin, text) {', 'let v;'];
  keyFields.forEach((field, i) => {
    lines.push(
      `v = ${load(field)};`,
      `if (v === undefined || v === null) return h.missing(K[${i}], v, 'its join keys');`,
      `let k${i};`,
      convertInto(`k${i}`, `K[${i}]`, field.type, field.maxBytes),
    );
  });
  lines.push(
    `v = ${load(eventField)};`,
    "if (v === undefined || v === null) return h.missing(E, v, 'its event time');",
    'const eventTimestamp = h.eventTime(E, v);',
    "if (typeof eventTimestamp === 'object') return eventTimestamp;",
    `v = ${load(createdField)};`,
    'let created = null;',
    "if (v !== undefined && v !== null) { created = h.eventTime(C, v); if (typeof created === 'object') return created; }",
  );
  valueFields.forEach((field, i) => {
    lines.push(
      `v = ${load(field)};`,
      `let x${i} = null;`,
      `if (v !== undefined && v !== null) { ${convertInto(`x${i}`, `V[${i}]`, field.type)} }`,
    );
  });
  const keys = keyFields.map((_, i) => `k${i}`).join(', ');
  const values = valueFields.map((_, i) => `x${i}`).join(', ');
  lines.push(
    `return { ok: true, row: { keys: [${keys}], eventTimestamp, created, values: [${values}], origin } };`,
    '};',
  );
  const factory = new Function('h', 'K', 'V', 'E', 'C', lines.join('\n')) as (
    h: ReaderHelpers,
    k: readonly Field[],
    v: readonly Field[],
    e: Field,
    c: Field,
  ) => Reader;
  return factory(helpers, keyFields, valueFields, eventField, createdField);
}

/**
 * The same reader as `compileReader`, as a plain loop over the fields: every field goes through
 * `convert`. It is the reference the compiled reader is tested against (test/unit/events) and the
 * baseline `bench/decode.ts` measures it against.
 */
function interpretReader(
  keyFields: readonly Field[],
  valueFields: readonly Field[],
  eventField: Field,
  createdField: Field,
  helpers: ReaderHelpers,
): Reader {
  const load = (o: Record<string, unknown>, field: Field): unknown =>
    field.ownOnly && !Object.hasOwn(o, field.name) ? undefined : o[field.name];
  return function readEvent(o, origin, text) {
    const keys: Value[] = [];
    for (const field of keyFields) {
      const v = load(o, field);
      if (v === undefined || v === null) return helpers.missing(field, v, 'its join keys');
      const key = helpers.convert(field, v, text);
      if (typeof key === 'object') return key;
      keys.push(key);
    }
    const at = load(o, eventField);
    if (at === undefined || at === null) return helpers.missing(eventField, at, 'its event time');
    const eventTimestamp = helpers.eventTime(eventField, at);
    if (typeof eventTimestamp === 'object') return eventTimestamp;
    const made = load(o, createdField);
    let created: number | null = null;
    if (made !== undefined && made !== null) {
      const time = helpers.eventTime(createdField, made);
      if (typeof time === 'object') return time;
      created = time;
    }
    const values: (Value | null)[] = [];
    for (const field of valueFields) {
      const v = load(o, field);
      if (v === undefined || v === null) {
        values.push(null);
        continue;
      }
      const value = helpers.convert(field, v, text);
      if (typeof value === 'object') return value;
      values.push(value);
    }
    return { ok: true, row: { keys, eventTimestamp, created, values, origin } };
  };
}

/**
 * Builds the decoder of one feature view. `entities` must hold the view's entities (others are
 * ignored); `source` gives the timestamp and creation-time field names. Throws
 * TRIB_DEFINITION_INVALID when the view names an entity that is not given, TRIB_CONFIG_INVALID
 * for impossible options.
 */
export function createDecoder(
  view: DecodedView,
  entities: readonly EntitySpec[],
  source: Pick<KafkaSourceSpec, 'timestampField' | 'createdField'>,
  options: DecoderOptions = {},
): Decoder {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxFutureMs = options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  const now = options.now ?? Date.now;
  if (!(Number.isInteger(maxMessageBytes) && maxMessageBytes > 0)) {
    throw new TributaryError(
      'TRIB_CONFIG_INVALID',
      `maxMessageBytes must be a positive integer, got ${maxMessageBytes}`,
    );
  }
  if (!(maxFutureMs >= 0)) {
    throw new TributaryError(
      'TRIB_CONFIG_INVALID',
      `maxFutureMs must be 0 or more (or Infinity), got ${maxFutureMs}`,
    );
  }
  const keyFields: Field[] = view.entities.map((entityName) => {
    const entity = entities.find((e) => e.name === entityName);
    if (entity === undefined) {
      throw new TributaryError(
        'TRIB_DEFINITION_INVALID',
        `feature view ${JSON.stringify(view.name)} uses entity ${JSON.stringify(entityName)}, which is not declared`,
        { details: { object: view.name, field: 'entities' } },
      );
    }
    return fieldOf(entity.joinKey, entity.valueType, 'join key');
  });
  const valueFields: Field[] = view.schema.map((f) => fieldOf(f.name, f.type, 'feature'));
  const eventField = fieldOf(source.timestampField || 'event_timestamp', 'timestamp', 'event timestamp');
  const createdField = fieldOf(source.createdField || 'created', 'timestamp', 'creation timestamp');

  // Latest time accepted, from an earlier reading of the clock. Reading the clock costs about as
  // much as parsing a timestamp, so it is read again only when an event lies beyond this bound;
  // as the clock only moves forward, a stale bound is lower than the true one, never higher.
  let futureBound = Number.NEGATIVE_INFINITY;

  /** Event or creation time: epoch ms within [1970, min(2100, now + maxFutureMs)]. */
  function eventTime(field: Field, value: unknown): number | DecodeRejection {
    const ms = epochMsOf(value);
    if (ms >= MIN_EVENT_TIME_MS && ms < MAX_EVENT_TIME_MS) {
      if (ms <= futureBound) return ms;
      const clock = now();
      futureBound = clock + maxFutureMs;
      if (ms <= futureBound) return ms;
      return badTimestamp(
        field,
        value,
        ms,
        `1970-01-01T00:00:00Z to now + ${maxFutureMs} ms (now is ${new Date(clock).toISOString()})`,
      );
    }
    return badTimestamp(field, value, ms, '1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z');
  }

  const buildReader = options.reader === 'interpreted' ? interpretReader : compileReader;
  const readEvent = buildReader(keyFields, valueFields, eventField, createdField, {
    convert,
    missing,
    eventTime,
  });

  function decodeObject(value: unknown, origin: RowOrigin, text?: string): DecodeResult {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return notAnObject(value);
    return readEvent(value as Record<string, unknown>, origin, text);
  }

  function decode(message: IncomingMessage): DecodeResult {
    const parsed = parseEvent(message, maxMessageBytes);
    if (!parsed.ok) return parsed;
    return readEvent(
      parsed.object,
      { topic: message.topic, partition: message.partition, offset: message.offset },
      parsed.text,
    );
  }

  return { view, decode, decodeObject };
}

/** The rejection as a TributaryError (for HTTP push), with the field in its details. */
export function rejectionError(rejection: DecodeRejection): TributaryError {
  return new TributaryError(rejection.code, rejection.reason, {
    details: rejection.field === undefined ? {} : { field: rejection.field },
  });
}
