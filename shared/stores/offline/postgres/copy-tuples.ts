/** The tuples of a binary COPY answer, framed as they arrive. */
import { TributaryError } from '../../../errors.ts';

/** Where each tuple goes: its row number and the bytes of its features (`RangeAnswer`). */
export interface TupleSink {
  file(rn: number, buf: Uint8Array, begin: number, end: number): void;
}

/**
 * The tuples of one `COPY … TO STDOUT (FORMAT binary)` answer, `(rn, features…)`, read from
 * its parts as they arrive (a tuple may be cut between two) and filed in a `TupleSink`.
 */
export class CopyTuples {
  private headerDone = false;
  private ended = false;
  private rest: Buffer | undefined;

  constructor(
    private readonly fields: number,
    private readonly answer: TupleSink,
  ) {}

  /**
   * Files the complete tuples in `buf[start…end)`, a part of the COPY data; a tuple cut at its
   * end is kept until the next part completes it.
   */
  add(buf: Buffer, start: number, end: number): void {
    if (this.rest === undefined) {
      this.fileTuples(buf, start, end);
      return;
    }
    const joined = Buffer.concat([this.rest, buf.subarray(start, end)]);
    this.rest = undefined;
    this.fileTuples(joined, 0, joined.length);
  }

  private fileTuples(buf: Buffer, start: number, end: number): void {
    const fields = this.fields;
    let at = start;
    if (!this.headerDone) {
      if (end - at < 19 || end - at < 19 + buf.readInt32BE(at + 15)) {
        this.rest = Buffer.from(buf.subarray(at, end));
        return;
      }
      at += 19 + buf.readInt32BE(at + 15);
      this.headerDone = true;
    }
    while (!this.ended && end - at >= 2) {
      const count = (buf[at]! << 8) | buf[at + 1]!;
      if (count === 0xffff) {
        this.ended = true;
        at += 2;
        break;
      }
      if (count !== fields) {
        throw new TributaryError('TRIB_INTERNAL', `COPY row has ${count} fields, expected ${fields}`);
      }
      // The whole tuple must be here before it is filed.
      let p = at + 2;
      let complete = true;
      for (let f = 0; f < fields && complete; f++) {
        complete = end - p >= 4;
        if (complete) p += 4 + Math.max(int32At(buf, p), 0);
        complete &&= p <= end;
      }
      if (!complete) break;
      if (int32At(buf, at + 2) !== 4) {
        throw new TributaryError(
          'TRIB_INTERNAL',
          'historical retrieval returned a row without its row number',
        );
      }
      this.answer.file(int32At(buf, at + 6), buf, at + 10, p);
      at = p;
    }
    if (at < end && !this.ended) this.rest = Buffer.from(buf.subarray(at, end));
  }

  /** Throws unless the answer ended where a tuple ended. */
  finish(): void {
    if (!this.ended || this.rest !== undefined) {
      throw new TributaryError('TRIB_INTERNAL', 'historical retrieval answer ended partway through a row');
    }
  }
}

/** A big-endian int32 at `at`, without `Buffer.readInt32BE`'s checks (the caller has checked the length). */
export function int32At(buf: Uint8Array, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}
