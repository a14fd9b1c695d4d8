/**
 * Arrow columns built straight into their buffers, from Postgres's binary values (`COPY …
 * (FORMAT binary)`, binary result rows) or JS values. Retrieval results are large (a million rows
 * is an ordinary training set), so values go from the wire into typed arrays without a JS value
 * per cell where the format allows: 8-byte big-endian values are byte-swapped in place.
 */
import { Bool, type Data, Float64, Int64, makeData, Utf8 } from 'apache-arrow';
import type { ValueType } from '../../../definitions/types.ts';
import { INT64_MAX, INT64_MIN } from '../../../events/int64.ts';
import { arrowTypeOf } from '../../../retrieval/arrow-types.ts';
import { PG_EPOCH_US } from './copy-binary.ts';

/** Postgres's epoch in Unix µs as a bigint, for the timestamp writer's 64-bit arithmetic. */
const PG_EPOCH_US_BIG = BigInt(PG_EPOCH_US);

/** Appends values of one column, then hands the column over as Arrow `Data`. */
export interface ColumnWriter {
  readonly length: number;
  appendNull(): void;
  /** A value in Postgres binary format (`COPY … (FORMAT binary)`), `len` bytes at `offset`. */
  appendPgBinary(buf: Uint8Array, offset: number, len: number): void;
  /** A JS value of the column's type (bigint or safe integer, number, string, boolean, epoch µs). */
  appendValue(value: unknown): void;
  finish(): Data;
}

abstract class BaseWriter {
  length = 0;
  nullCount = 0;
  protected validity: Uint8Array;

  constructor(protected capacity: number) {
    this.validity = new Uint8Array((capacity + 7) >> 3);
  }

  protected grow(): void {
    this.capacity *= 2;
    const validity = new Uint8Array((this.capacity + 7) >> 3);
    validity.set(this.validity);
    this.validity = validity;
    this.growValues();
  }

  protected abstract growValues(): void;

  protected markValid(): void {
    const i = this.length;
    this.validity[i >> 3]! |= 1 << (i & 7);
  }

  protected nullBitmap(): Uint8Array | undefined {
    return this.nullCount === 0 ? undefined : this.validity.subarray(0, (this.length + 7) >> 3);
  }
}

/** int64, float64 and timestamp: eight bytes per value. */
class EightByteWriter extends BaseWriter implements ColumnWriter {
  private bytes: Uint8Array;

  constructor(
    private readonly type: 'int64' | 'float64' | 'timestamp',
    capacity: number,
  ) {
    super(capacity);
    this.bytes = new Uint8Array(capacity * 8);
  }

  protected growValues(): void {
    const bytes = new Uint8Array(this.capacity * 8);
    bytes.set(this.bytes);
    this.bytes = bytes;
  }

  appendNull(): void {
    if (this.length === this.capacity) this.grow();
    this.nullCount++;
    this.length++;
  }

  appendPgBinary(buf: Uint8Array, offset: number, _len: number): void {
    if (this.length === this.capacity) this.grow();
    const at = this.length * 8;
    if (this.type === 'timestamp') {
      const view = new DataView(buf.buffer, buf.byteOffset + offset, 8);
      const us = view.getBigInt64(0) + PG_EPOCH_US_BIG;
      new DataView(this.bytes.buffer).setBigInt64(at, us, true);
    } else {
      // Network order to little endian, byte by byte: no BigInt or float is materialized.
      const b = this.bytes;
      b[at] = buf[offset + 7]!;
      b[at + 1] = buf[offset + 6]!;
      b[at + 2] = buf[offset + 5]!;
      b[at + 3] = buf[offset + 4]!;
      b[at + 4] = buf[offset + 3]!;
      b[at + 5] = buf[offset + 2]!;
      b[at + 6] = buf[offset + 1]!;
      b[at + 7] = buf[offset]!;
    }
    this.markValid();
    this.length++;
  }

  appendValue(value: unknown): void {
    if (value === null || value === undefined) {
      this.appendNull();
      return;
    }
    if (this.length === this.capacity) this.grow();
    const view = new DataView(this.bytes.buffer);
    const at = this.length * 8;
    if (this.type === 'float64') view.setFloat64(at, Number(value), true);
    else view.setBigInt64(at, typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value))), true);
    this.markValid();
    this.length++;
  }

  finish(): Data {
    const type = arrowTypeOf(this.type);
    const byteLength = this.length * 8;
    const buffer = this.bytes.buffer.slice(0, byteLength);
    const values = this.type === 'float64' ? new Float64Array(buffer) : new BigInt64Array(buffer);
    return makeData({
      type: type as Int64,
      length: this.length,
      nullCount: this.nullCount,
      nullBitmap: this.nullBitmap(),
      data: values as BigInt64Array,
    });
  }
}

class BoolWriter extends BaseWriter implements ColumnWriter {
  private bits: Uint8Array;

  constructor(capacity: number) {
    super(capacity);
    this.bits = new Uint8Array((capacity + 7) >> 3);
  }

  protected growValues(): void {
    const bits = new Uint8Array((this.capacity + 7) >> 3);
    bits.set(this.bits);
    this.bits = bits;
  }

  appendNull(): void {
    if (this.length === this.capacity) this.grow();
    this.nullCount++;
    this.length++;
  }

  private push(v: boolean): void {
    if (this.length === this.capacity) this.grow();
    if (v) this.bits[this.length >> 3]! |= 1 << (this.length & 7);
    this.markValid();
    this.length++;
  }

  appendPgBinary(buf: Uint8Array, offset: number): void {
    this.push(buf[offset] !== 0);
  }

  appendValue(value: unknown): void {
    if (value === null || value === undefined) {
      this.appendNull();
      return;
    }
    this.push(value === true);
  }

  finish(): Data {
    return makeData({
      type: new Bool(),
      length: this.length,
      nullCount: this.nullCount,
      nullBitmap: this.nullBitmap(),
      data: this.bits.slice(0, (this.length + 7) >> 3),
    });
  }
}

const encoder = new TextEncoder();

class Utf8Writer extends BaseWriter implements ColumnWriter {
  private offsets: Int32Array;
  private bytes: Uint8Array;
  private byteLength = 0;

  constructor(capacity: number) {
    super(capacity);
    this.offsets = new Int32Array(capacity + 1);
    this.bytes = new Uint8Array(capacity * 16);
  }

  protected growValues(): void {
    const offsets = new Int32Array(this.capacity + 1);
    offsets.set(this.offsets);
    this.offsets = offsets;
  }

  private reserve(extra: number): void {
    if (this.byteLength + extra <= this.bytes.length) return;
    const bytes = new Uint8Array(Math.max(this.bytes.length * 2, this.byteLength + extra));
    bytes.set(this.bytes.subarray(0, this.byteLength));
    this.bytes = bytes;
  }

  appendNull(): void {
    if (this.length === this.capacity) this.grow();
    this.nullCount++;
    this.length++;
    this.offsets[this.length] = this.byteLength;
  }

  appendPgBinary(buf: Uint8Array, offset: number, len: number): void {
    if (this.length === this.capacity) this.grow();
    this.reserve(len);
    this.bytes.set(buf.subarray(offset, offset + len), this.byteLength);
    this.byteLength += len;
    this.markValid();
    this.length++;
    this.offsets[this.length] = this.byteLength;
  }

  appendValue(value: unknown): void {
    if (value === null || value === undefined) {
      this.appendNull();
      return;
    }
    const encoded = encoder.encode(String(value));
    this.appendPgBinary(encoded, 0, encoded.length);
  }

  finish(): Data {
    return makeData({
      type: new Utf8(),
      length: this.length,
      nullCount: this.nullCount,
      nullBitmap: this.nullBitmap(),
      valueOffsets: this.offsets.slice(0, this.length + 1),
      data: this.bytes.slice(0, this.byteLength),
    });
  }
}

/** A writer for a column of `type`, sized for about `capacity` values (it grows past that). */
export function columnWriter(type: ValueType, capacity: number): ColumnWriter {
  const size = Math.max(capacity, 8);
  switch (type) {
    case 'int64':
    case 'float64':
    case 'timestamp':
      return new EightByteWriter(type, size);
    case 'bool':
      return new BoolWriter(size);
    case 'string':
      return new Utf8Writer(size);
  }
}

/**
 * An Arrow column of numbers computed in JS (aggregated features): float64 as they are; int64
 * (counts, and min/max of an int64 column, which are doubles that are integers) converted, the
 * double 2^63 that rounding the largest int64s gives clamped to the int64 range. `valid[i]` is
 * 0 for a null.
 */
export function numberColumn(type: ValueType, values: Float64Array, valid: Uint8Array): Data {
  const length = values.length;
  let nullCount = 0;
  const bitmap = new Uint8Array((length + 7) >> 3);
  for (let i = 0; i < length; i++) {
    if (valid[i] === 0) nullCount++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  const nullBitmap = nullCount === 0 ? undefined : bitmap;
  if (type === 'float64') {
    const data = new Float64Array(length);
    for (let i = 0; i < length; i++) data[i] = valid[i] === 0 ? 0 : values[i]!;
    return makeData({ type: new Float64(), length, nullCount, nullBitmap, data });
  }
  if (type !== 'int64') {
    const writer = columnWriter(type, length);
    for (let i = 0; i < length; i++) writer.appendValue(valid[i] === 0 ? null : values[i]);
    return writer.finish();
  }
  const data = new BigInt64Array(length);
  for (let i = 0; i < length; i++) {
    if (valid[i] === 0) continue;
    const x = values[i]!;
    if (Number.isSafeInteger(x)) data[i] = BigInt(x);
    else {
      const big = BigInt(x);
      data[i] = big > INT64_MAX ? INT64_MAX : big < INT64_MIN ? INT64_MIN : big;
    }
  }
  return makeData({ type: new Int64(), length, nullCount, nullBitmap, data });
}
