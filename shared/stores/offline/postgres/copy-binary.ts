/**
 * Rows in Postgres's binary COPY format (`COPY ... FROM STDIN (FORMAT binary)`), the format of
 * the store's writes: each value goes in as its fixed-size wire form, so neither side prints or
 * parses text. Against the text format this removed the materializer's largest cost (an ISO
 * string per timestamp, a decimal per number: about a fifth of its CPU) and most of the
 * backends' input parsing. Format reference: https://www.postgresql.org/docs/current/sql-copy.html
 * ("Binary Format").
 *
 * Layout: an 11-byte signature, a flags word and a header-extension length (both 0); per row
 * a 16-bit field count, then per field a 32-bit byte length (-1 for null) and the bytes; a
 * 16-bit -1 trailer. Values are big-endian: bigint 8 bytes, double precision 8 (IEEE 754),
 * integer 4, boolean 1, text UTF-8, timestamptz an int64 of microseconds since 2000-01-01 UTC.
 */
import type { ValueType } from '../../../definitions/types.ts';
import type { ViewLayout } from '../../../model/layout.ts';
import type { FeatureRow } from '../../../model/row.ts';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Postgres's timestamp epoch, 2000-01-01T00:00:00Z, in Unix ms. */
const PG_EPOCH_MS = 946_684_800_000;
/** 2^32: splits a 64-bit wire integer into the two 32-bit halves a float64 can be built from. */
export const TWO_32 = 4_294_967_296;
/** Postgres's timestamp epoch in Unix microseconds (what a binary timestamp is counted from). */
export const PG_EPOCH_US = PG_EPOCH_MS * 1000;

/** The binary COPY header: signature, flags 0, no extension. */
export function copyHeader(): Buffer {
  const header = Buffer.alloc(SIGNATURE.length + 8);
  SIGNATURE.copy(header, 0);
  return header;
}

/** The binary COPY trailer: a field count of -1. */
export function copyTrailer(): Buffer {
  return Buffer.from([0xff, 0xff]);
}

/** A timestamptz field (its length word and value, 12 bytes) at `at`, from epoch microseconds. */
export function setTimestampField(view: DataView, at: number, unixMicros: number): void {
  const us = unixMicros - PG_EPOCH_US;
  const high = Math.floor(us / TWO_32);
  view.setInt32(at, 8);
  view.setInt32(at + 4, high);
  view.setUint32(at + 8, us - high * TWO_32);
}

/** Chunks handed to the COPY stream are about this size (a row never spans two). */
const CHUNK_BYTES = 256 * 1024;

type Cell = FeatureRow['values'][number];

/**
 * The binary COPY stream of `rows` in `writtenColumns` order (join keys, event_timestamp,
 * created, features, _partition, _offset), as chunks of about 256 KiB.
 */
export function* binaryCopyChunks(view: ViewLayout, rows: readonly FeatureRow[]): Generator<Buffer> {
  const keyTypes = view.joinKeys.map((k) => k.type);
  const featureTypes = view.features.map((f) => f.type);
  const fieldCount = keyTypes.length + featureTypes.length + 4;
  // Fixed part of a row: field count, then a length word and at most 8 bytes per field; text
  // columns add their UTF-8 length.
  const fixedBytes = 2 + fieldCount * 12;
  const textKeys = indexesOf(keyTypes, 'string');
  const textFeatures = indexesOf(featureTypes, 'string');
  const writer = new BinaryCopyWriter();
  for (const row of rows) {
    let rowBytes = fixedBytes;
    for (const i of textKeys) rowBytes += Buffer.byteLength(String(row.keys[i]));
    for (const i of textFeatures) rowBytes += textBytes(row.values[i]);
    const full = writer.room(rowBytes);
    if (full) yield full;
    writer.int16(fieldCount);
    for (let i = 0; i < keyTypes.length; i++) writer.value(row.keys[i]!, keyTypes[i]!);
    writer.timestamp(row.eventTimestamp);
    if (row.created === null) writer.int32(-1);
    else writer.timestamp(row.created);
    for (let i = 0; i < featureTypes.length; i++) writer.value(row.values[i] ?? null, featureTypes[i]!);
    writer.int32(4);
    writer.int32(row.origin.partition);
    writer.int32(8);
    const offset = row.origin.offset;
    // Offsets below 10^15 are exact as numbers, which spares a bigint per row.
    writer.int64(offset.length < 16 ? Number(offset) : BigInt(offset));
  }
  yield* writer.end();
}

function indexesOf(types: readonly ValueType[], type: ValueType): number[] {
  const indexes: number[] = [];
  types.forEach((t, i) => {
    if (t === type) indexes.push(i);
  });
  return indexes;
}

function textBytes(value: Cell | undefined): number {
  return value === null || value === undefined ? 0 : Buffer.byteLength(String(value));
}

/**
 * Writes a binary COPY stream into buffers of about CHUNK_BYTES: the header on creation, then
 * rows field by field (`room` before each row, so a row never spans two buffers), then `end`.
 */
class BinaryCopyWriter {
  private buffer: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private pos = 0;

  constructor() {
    this.pos += copyHeader().copy(this.buffer, 0);
  }

  /**
   * Makes room for a row of at most `bytes`; returns the buffer written so far when it had to
   * start a new one (hand it to the stream), else null.
   */
  room(bytes: number): Buffer | null {
    if (this.pos + bytes <= this.buffer.length) return null;
    const full = this.pos > 0 ? this.buffer.subarray(0, this.pos) : null;
    this.buffer = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    this.pos = 0;
    return full;
  }

  /** Writes the trailer and yields what is left. */
  *end(): Generator<Buffer> {
    const full = this.room(2);
    if (full) yield full;
    this.int16(-1);
    yield this.buffer.subarray(0, this.pos);
  }

  int16(value: number): void {
    this.pos = this.buffer.writeInt16BE(value, this.pos);
  }

  int32(value: number): void {
    this.pos = this.buffer.writeInt32BE(value, this.pos);
  }

  /** A signed 64-bit integer from a bigint, or from a safe-integer number without making a bigint. */
  int64(value: bigint | number): void {
    if (typeof value === 'bigint') {
      this.pos = this.buffer.writeBigInt64BE(value, this.pos);
      return;
    }
    const high = Math.floor(value / TWO_32);
    this.pos = this.buffer.writeInt32BE(high, this.pos);
    this.pos = this.buffer.writeUInt32BE(value - high * TWO_32, this.pos);
  }

  /** timestamptz from epoch ms; sub-millisecond parts are cut as `Date` cuts them. */
  timestamp(ms: number): void {
    this.int32(8);
    const sincePgEpoch = Math.trunc(ms) - PG_EPOCH_MS;
    const micros = sincePgEpoch * 1000;
    // Beyond ±2^53 µs (about 285 years either side of 2000) a double loses microseconds.
    this.int64(Number.isSafeInteger(micros) ? micros : BigInt(sincePgEpoch) * 1000n);
  }

  value(value: Cell, type: ValueType): void {
    if (value === null) {
      this.int32(-1);
      return;
    }
    switch (type) {
      case 'int64':
        this.int32(8);
        this.int64(typeof value === 'bigint' ? value : Number(value));
        return;
      case 'float64':
        this.int32(8);
        this.pos = this.buffer.writeDoubleBE(Number(value), this.pos);
        return;
      case 'bool':
        this.int32(1);
        this.buffer[this.pos++] = value ? 1 : 0;
        return;
      case 'timestamp':
        this.timestamp(Number(value));
        return;
      case 'string': {
        const at = this.pos;
        const length = this.buffer.write(String(value), at + 4, 'utf8');
        this.buffer.writeInt32BE(length, at);
        this.pos = at + 4 + length;
        return;
      }
    }
  }
}
