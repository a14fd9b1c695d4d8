/** One range of a retrieval's answer, put back in input order. */
import type { Data } from 'apache-arrow';
import type { ValueType } from '../../../definitions/types.ts';
import { TributaryError } from '../../../errors.ts';
import type { RetrievalPlan } from '../../../retrieval/plan.ts';
import { columnWriter } from './arrow-columns.ts';
import { int32At, type TupleSink } from './copy-tuples.ts';

/** Bytes of a decoded value, for the budget (a string's is a guess). */
export const DECODED_BYTES: Record<ValueType, number> = {
  int64: 8,
  float64: 8,
  timestamp: 8,
  bool: 1,
  string: 32,
};

/** Entity rows per bucket of a range answer: a bucket's tuples fit in the CPU's cache. */
const BUCKET_SHIFT = 11;
const BUCKET_ROWS = 1 << BUCKET_SHIFT;

/**
 * One range's answer, filed by the connections that probed it (`CopyTuples`) in probe order, put
 * back in input order.
 *
 * Probe order is a random permutation of input order, and reading a tuple at a random place in
 * a large buffer is a cache and TLB miss (measured: three times the cost of decoding it). So as
 * tuples arrive, their feature bytes are copied into buckets of 2,048 consecutive row numbers
 * (a few hundred write streams, each in cache); `decode` then visits one bucket at a time, whose
 * tuples fit in cache, and reads them in input order straight into Arrow column writers. Each
 * value is decoded once and the writers fill in order.
 */
export class RangeAnswer implements TupleSink {
  readonly length: number;
  /** Per bucket: its tuples' feature bytes, in arrival order, and how many bytes are used. */
  private readonly bucketData: Uint8Array[] = [];
  private readonly bucketBytes: Int32Array;
  /** Per bucket, in arrival order (slot `b * BUCKET_ROWS + k`): the row (`rn - from`) and where its bytes start. */
  private readonly arrivedRow: Int32Array;
  private readonly arrivedAt: Int32Array;
  private readonly arrived: Int32Array;
  private filed = 0;

  constructor(
    private readonly plan: RetrievalPlan,
    readonly from: number,
    to: number,
  ) {
    this.length = to - from;
    const buckets = Math.ceil(this.length / BUCKET_ROWS);
    this.bucketBytes = new Int32Array(buckets);
    this.arrived = new Int32Array(buckets);
    this.arrivedRow = new Int32Array(buckets * BUCKET_ROWS);
    this.arrivedAt = new Int32Array(buckets * BUCKET_ROWS);
    const rowBytes = plan.features.reduce((sum, f) => sum + 4 + DECODED_BYTES[f.type], 0);
    for (let b = 0; b < buckets; b++) {
      this.bucketData.push(new Uint8Array(Math.min(BUCKET_ROWS, this.length - b * BUCKET_ROWS) * rowBytes));
    }
  }

  private bucketRows(bucket: number): number {
    return Math.min(BUCKET_ROWS, this.length - bucket * BUCKET_ROWS);
  }

  /** Files the features of entity row `rn` (absolute), at `buf[begin…end)`. */
  file(rn: number, buf: Uint8Array, begin: number, end: number): void {
    const row = rn - this.from;
    const bucket = row >> BUCKET_SHIFT;
    if (row < 0 || row >= this.length || this.arrived[bucket]! === this.bucketRows(bucket)) {
      throw new TributaryError('TRIB_INTERNAL', `historical retrieval returned row ${rn} out of place`);
    }
    const used = this.bucketBytes[bucket]!;
    let data = this.bucketData[bucket]!;
    if (used + end - begin > data.length) {
      const grown = new Uint8Array(Math.max(data.length * 2, used + end - begin));
      grown.set(data.subarray(0, used));
      this.bucketData[bucket] = data = grown;
    }
    // Tuples are a few dozen bytes: a byte loop beats creating a subarray for each.
    for (let i = begin, o = used; i < end; i++, o++) data[o] = buf[i]!;
    const slot = bucket * BUCKET_ROWS + this.arrived[bucket]!++;
    this.arrivedRow[slot] = row;
    this.arrivedAt[slot] = used;
    this.bucketBytes[bucket] = used + end - begin;
    this.filed++;
  }

  /** Throws unless every entity row of the range came back. */
  finish(): void {
    if (this.filed !== this.length) {
      throw new TributaryError(
        'TRIB_INTERNAL',
        `historical retrieval returned ${this.filed} rows for ${this.length} entity rows`,
      );
    }
  }

  /** The features of entity rows `from + begin … from + end - 1`, one Arrow column per feature. */
  decode(begin: number, end: number): Data[] {
    const writers = this.plan.features.map((f) => columnWriter(f.type, end - begin));
    const fields = writers.length;
    const startOf = new Int32Array(BUCKET_ROWS);
    for (let bucket = begin >> BUCKET_SHIFT; bucket << BUCKET_SHIFT < end; bucket++) {
      // Where each row of the bucket starts in its data; every row exactly once.
      startOf.fill(-1);
      const base = bucket << BUCKET_SHIFT;
      for (let k = 0; k < this.arrived[bucket]!; k++) {
        const local = this.arrivedRow[base + k]! - base;
        if (startOf[local] !== -1) {
          throw new TributaryError(
            'TRIB_INTERNAL',
            `historical retrieval returned row ${this.from + base + local} twice`,
          );
        }
        startOf[local] = this.arrivedAt[base + k]!;
      }
      const data = this.bucketData[bucket]!;
      for (let row = Math.max(begin, base); row < Math.min(end, base + BUCKET_ROWS); row++) {
        let p = startOf[row - base]!;
        for (let f = 0; f < fields; f++) {
          const len = int32At(data, p);
          p += 4;
          if (len < 0) writers[f]!.appendNull();
          else {
            writers[f]!.appendPgBinary(data, p, len);
            p += len;
          }
        }
      }
    }
    return writers.map((w) => w.finish());
  }
}
