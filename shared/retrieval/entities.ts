/**
 * Entity rows for historical retrieval (the "entity dataframe"): join keys, a timestamp per row,
 * and any other columns (labels, ids), which pass through to the output unchanged. Built from JSON
 * columns or an Arrow table; every value is checked against the join key's declared type here,
 * so a store only ever sees well-typed rows and a bad value is a 400 naming the cell.
 */
import {
  Bool,
  type Data,
  DataType,
  Float64,
  Int64,
  makeData,
  makeVector,
  type Table,
  TimestampMicrosecond,
  TimeUnit,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import type { ValueType } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import { INT64_MAX, INT64_MIN, parseInt64String } from '../events/int64.ts';
import { epochMsOf } from '../events/timestamp.ts';
import type { ColumnLayout } from '../model/layout.ts';

/** The entity timestamp column's name, as in Feast. */
export const ENTITY_TIMESTAMP_COLUMN = 'event_timestamp';

export type KeyValue = bigint | number | string | boolean;

/** One join key column, normalized to the key's declared type. */
export type KeyColumn =
  | { type: 'int64'; values: BigInt64Array }
  | { type: 'float64' | 'timestamp'; values: Float64Array }
  | { type: 'string'; values: string[] }
  | { type: 'bool'; values: Uint8Array };

/** Entity rows, column-major, in input order. */
export interface EntityFrame {
  readonly length: number;
  /** Join key columns by name (timestamp keys as epoch microseconds). */
  readonly keys: ReadonlyMap<string, KeyColumn>;
  /** Each row's point in time, epoch microseconds. */
  readonly timestamps: Float64Array;
  /** Columns of the output that come from the entity rows, in input order, one Arrow chunk each. */
  readonly columns: readonly { name: string; vector: Vector }[];
}

function badValue(column: string, row: number, expected: string, value: unknown): TributaryError {
  const shown = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  // JSON parsing has already rounded such a number, so showing it alone would name another key.
  const rounded =
    typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)
      ? ' (a JSON number beyond 2^53, already rounded when parsed: send an int64 this large as a decimal string)'
      : '';
  return new TributaryError(
    'TRIB_BAD_REQUEST',
    `entities.${column}[${row}]: expected ${expected}, got ${shown ?? String(value)}${rounded}`,
    { details: { column, row } },
  );
}

/** The 400 for a join key value `coerceKey` refused, worded as for historical retrieval. */
export function badKeyValue(column: string, row: number, type: ValueType, value: unknown): TributaryError {
  return badValue(column, row, EXPECTED[type], value);
}

/** A value as the key type wants it, or undefined when it cannot be one. Shared with online lookups. */
export function coerceKey(type: ValueType, value: unknown): KeyValue | undefined {
  switch (type) {
    case 'int64': {
      let v: bigint | undefined;
      if (typeof value === 'bigint') v = value;
      else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
      else if (typeof value === 'string') {
        const parsed = parseInt64String(value);
        v = typeof parsed === 'bigint' ? parsed : undefined;
      }
      return v !== undefined && v >= INT64_MIN && v <= INT64_MAX ? v : undefined;
    }
    case 'float64':
      return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
    case 'string':
      return typeof value === 'string' ? value : undefined;
    case 'bool':
      return typeof value === 'boolean' ? value : undefined;
    case 'timestamp': {
      const ms = epochMsOf(value);
      // Years 1 to 9999: what ISO-8601 writes, and well inside what Postgres and Date can hold
      // (a number far outside would otherwise reach Postgres and fail the whole retrieval).
      return ms >= ENTITY_TIME_MIN_MS && ms < ENTITY_TIME_MAX_MS ? ms : undefined;
    }
  }
}

const EXPECTED: Record<ValueType, string> = {
  int64: 'an int64 (integer or decimal string)',
  float64: 'a finite number',
  string: 'a string',
  bool: 'a boolean',
  timestamp: 'an ISO-8601 timestamp or epoch milliseconds, in years 1 to 9999',
};

/** 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, epoch ms. */
const ENTITY_TIME_MIN_MS = -62_135_596_800_000;
const ENTITY_TIME_MAX_MS = 253_402_300_800_000;

function keyColumn(layout: ColumnLayout, values: { length: number }, get: (i: number) => unknown): KeyColumn {
  const n = values.length;
  const fail = (i: number, v: unknown) => badValue(layout.name, i, EXPECTED[layout.type], v);
  switch (layout.type) {
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = get(i);
        const k = coerceKey('int64', v);
        if (k === undefined) throw fail(i, v);
        out[i] = k as bigint;
      }
      return { type: 'int64', values: out };
    }
    case 'float64':
    case 'timestamp': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = get(i);
        const k = coerceKey(layout.type, v);
        if (k === undefined) throw fail(i, v);
        out[i] = layout.type === 'timestamp' ? (k as number) * 1000 : (k as number);
      }
      return { type: layout.type, values: out };
    }
    case 'string': {
      const out: string[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const v = get(i);
        if (typeof v !== 'string') throw fail(i, v);
        out[i] = v;
      }
      return { type: 'string', values: out };
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = get(i);
        if (typeof v !== 'boolean') throw fail(i, v);
        out[i] = v ? 1 : 0;
      }
      return { type: 'bool', values: out };
    }
  }
}

function timestampVector(micros: Float64Array): Vector {
  const data = new BigInt64Array(micros.length);
  for (let i = 0; i < micros.length; i++) data[i] = BigInt(micros[i]!);
  return makeVector(
    makeData({ type: new TimestampMicrosecond('UTC'), length: micros.length, nullCount: 0, data }),
  );
}

function keyVector(column: KeyColumn): Vector {
  switch (column.type) {
    case 'int64':
      return makeVector(column.values);
    case 'float64':
      return makeVector(column.values);
    case 'timestamp':
      return timestampVector(column.values);
    case 'string':
      return vectorFromArray(column.values, new Utf8());
    case 'bool':
      return vectorFromArray(
        Array.from(column.values, (v) => v === 1),
        new Bool(),
      );
  }
}

function missingKey(name: string): TributaryError {
  return new TributaryError('TRIB_MISSING_ENTITY', `entity rows lack the join key column '${name}'`, {
    details: { join_key: name },
  });
}

/** A pass-through JSON column: all numbers, all strings or all booleans, nulls allowed. */
function passThroughVector(name: string, values: unknown[]): Vector {
  let kind: 'number' | 'string' | 'boolean' | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    const t = typeof v;
    if (t !== 'number' && t !== 'string' && t !== 'boolean') {
      throw badValue(name, i, 'a number, string, boolean or null', v);
    }
    if (kind === undefined) kind = t as 'number' | 'string' | 'boolean';
    else if (kind !== t) throw badValue(name, i, `a ${kind} like the column's other values`, v);
  }
  const type = kind === 'string' ? new Utf8() : kind === 'boolean' ? new Bool() : new Float64();
  return vectorFromArray(
    values.map((v) => (v === undefined ? null : v)),
    type as DataType,
  );
}

/**
 * Entity rows from JSON columns (`{"driver_id": [...], "event_timestamp": [...], "label": [...]}`):
 * every join key of `joinKeys` and `event_timestamp` are required; other columns pass through.
 */
export function entitiesFromColumns(
  columns: Record<string, unknown>,
  joinKeys: readonly ColumnLayout[],
): EntityFrame {
  const names = Object.keys(columns);
  let length: number | undefined;
  for (const name of names) {
    const values = columns[name];
    if (!Array.isArray(values)) {
      throw new TributaryError('TRIB_BAD_REQUEST', `entities.${name} must be an array`, {
        details: { column: name },
      });
    }
    if (length === undefined) length = values.length;
    else if (values.length !== length) {
      throw new TributaryError(
        'TRIB_BAD_REQUEST',
        `entity columns differ in length: '${names[0]}' has ${length} values, '${name}' has ${values.length}`,
        { details: { column: name } },
      );
    }
  }
  const keys = new Map<string, KeyColumn>();
  for (const key of joinKeys) {
    const values = columns[key.name] as unknown[] | undefined;
    if (values === undefined) throw missingKey(key.name);
    keys.set(
      key.name,
      keyColumn(key, values, (i) => values[i]),
    );
  }
  const rawTimes = columns[ENTITY_TIMESTAMP_COLUMN] as unknown[] | undefined;
  if (rawTimes === undefined) {
    throw new TributaryError(
      'TRIB_MISSING_ENTITY',
      `entity rows lack the '${ENTITY_TIMESTAMP_COLUMN}' column`,
      {
        details: { column: ENTITY_TIMESTAMP_COLUMN },
      },
    );
  }
  const timestamps = (
    keyColumn({ name: ENTITY_TIMESTAMP_COLUMN, type: 'timestamp' }, rawTimes, (i) => rawTimes[i]) as {
      values: Float64Array;
    }
  ).values;
  const out: { name: string; vector: Vector }[] = [];
  for (const name of names) {
    const key = keys.get(name);
    if (key) out.push({ name, vector: keyVector(key) });
    else if (name === ENTITY_TIMESTAMP_COLUMN) out.push({ name, vector: timestampVector(timestamps) });
    else out.push({ name, vector: passThroughVector(name, columns[name] as unknown[]) });
  }
  return { length: length ?? 0, keys, timestamps, columns: out };
}

const UNIT_TO_MICROS: Record<TimeUnit, number> = {
  [TimeUnit.SECOND]: 1_000_000,
  [TimeUnit.MILLISECOND]: 1000,
  [TimeUnit.MICROSECOND]: 1,
  [TimeUnit.NANOSECOND]: 0.001,
};

/** Epoch microseconds of an Arrow timestamp-ish column: Timestamp (any unit), Date, integer/float epoch ms, ISO strings. */
function timestampsOfVector(vector: Vector): Float64Array {
  const n = vector.length;
  const out = new Float64Array(n);
  const type = vector.type as DataType;
  if (DataType.isTimestamp(type)) {
    const scale = UNIT_TO_MICROS[type.unit as TimeUnit];
    let at = 0;
    for (const data of vector.data) {
      const values = data.values as unknown as BigInt64Array;
      for (let i = 0; i < data.length; i++) {
        if (!data.getValid(i)) throw badValue(ENTITY_TIMESTAMP_COLUMN, at + i, 'a timestamp', null);
        const us = Math.floor(Number(values[i]!) * scale);
        if (!(us >= ENTITY_TIME_MIN_MS * 1000 && us < ENTITY_TIME_MAX_MS * 1000)) {
          throw badValue(ENTITY_TIMESTAMP_COLUMN, at + i, 'a timestamp in years 1 to 9999', values[i]);
        }
        out[at + i] = us;
      }
      at += data.length;
    }
    return out;
  }
  for (let i = 0; i < n; i++) {
    let v: unknown = vector.get(i);
    if (DataType.isDate(type) && v instanceof Date) v = v.getTime();
    if (typeof v === 'bigint') v = Number(v);
    const ms = coerceKey('timestamp', v);
    if (ms === undefined) throw badValue(ENTITY_TIMESTAMP_COLUMN, i, EXPECTED.timestamp, v);
    out[i] = (ms as number) * 1000;
  }
  return out;
}

/** Arrow → JS for key columns: dictionary strings, any integer width, floats. */
function arrowKeyColumn(key: ColumnLayout, vector: Vector): KeyColumn {
  const type = vector.type as DataType;
  if (key.type === 'int64' && type instanceof Int64 && vector.nullCount === 0) {
    const values = vector.toArray() as BigInt64Array;
    return { type: 'int64', values: values instanceof BigInt64Array ? values : BigInt64Array.from(values) };
  }
  if (
    key.type === 'string' &&
    !DataType.isUtf8(type) &&
    !DataType.isDictionary(type) &&
    !DataType.isLargeUtf8(type)
  ) {
    throw badValue(key.name, 0, `a string column, not ${String(type)}`, vector.get(0));
  }
  return keyColumn(key, vector, (i) => vector.get(i));
}

/**
 * An Arrow schema, unlike a JSON object, may name two columns alike: the answer would then give
 * one row two values under one name (and a key column would be read from the first only). And
 * a column named `__proto__` would land on the JSON answer's prototype, not in it.
 */
function checkArrowColumnNames(table: Table): void {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const field of table.schema.fields) {
    if (seen.has(field.name)) repeated.add(field.name);
    seen.add(field.name);
  }
  if (repeated.size > 0) {
    const names = [...repeated];
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `the entity rows name more than one column ${names.map((n) => `'${n}'`).join(', ')}: give each column a name of its own`,
      { details: { columns: names } },
    );
  }
  if (seen.has('__proto__')) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      "an entity column may not be named '__proto__' (it names an object's prototype)",
      { details: { column: '__proto__' } },
    );
  }
}

/** Entity rows from an Arrow table (an IPC stream body); same rules as `entitiesFromColumns`. */
export function entitiesFromArrow(table: Table, joinKeys: readonly ColumnLayout[]): EntityFrame {
  checkArrowColumnNames(table);
  const keys = new Map<string, KeyColumn>();
  for (const key of joinKeys) {
    const vector = table.getChild(key.name);
    if (!vector) throw missingKey(key.name);
    keys.set(key.name, arrowKeyColumn(key, vector));
  }
  const times = table.getChild(ENTITY_TIMESTAMP_COLUMN);
  if (!times) {
    throw new TributaryError(
      'TRIB_MISSING_ENTITY',
      `entity rows lack the '${ENTITY_TIMESTAMP_COLUMN}' column`,
      {
        details: { column: ENTITY_TIMESTAMP_COLUMN },
      },
    );
  }
  const timestamps = timestampsOfVector(times);
  const columns: { name: string; vector: Vector }[] = [];
  for (const field of table.schema.fields) {
    const key = keys.get(field.name);
    if (key) columns.push({ name: field.name, vector: keyVector(key) });
    else if (field.name === ENTITY_TIMESTAMP_COLUMN)
      columns.push({ name: field.name, vector: timestampVector(timestamps) });
    else {
      const vector = table.getChild(field.name)!;
      // One chunk per column, so an output batch can take a zero-copy slice of it.
      columns.push({
        name: field.name,
        vector: vector.data.length <= 1 ? vector : vectorFromArray([...vector], vector.type as DataType),
      });
    }
  }
  return { length: table.numRows, keys, timestamps, columns };
}

/** Rows `[start, end)` of a single-chunk vector as one Arrow `Data`. */
export function sliceColumn(vector: Vector, start: number, end: number): Data {
  const sliced = vector.slice(start, end);
  if (sliced.data.length === 1) return sliced.data[0]!;
  return vectorFromArray([...sliced], sliced.type as DataType).data[0]!;
}
