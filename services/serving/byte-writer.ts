/**
 * Byte-level writing of JSON answers: a buffer written at an index, and a short-span copy.
 *
 * Why one buffer kept across answers, and a string out: a 100 × 50 lookup answers 284 KB. A fresh
 * Buffer per answer is a fresh ArrayBuffer outside the JS heap, and V8 counts those bytes towards
 * its next full collection: at 100 answers/s the serving thread ran a mark-compact every ~0.4 s,
 * pauses of 10–160 ms, and those pauses were the lookup's p99 (`npm run bench:online`, `pacedGc`).
 * Written into one kept buffer and copied out as a string, the answer is a young-generation
 * object that a scavenge frees; the copy is a fast ASCII-mostly UTF-8 decode, and the socket
 * encodes it again on the way out. A pooled buffer handed to the socket would save both copies
 * but could only be reused once the socket let go of it, which no test can prove for every path
 * (aborted clients, onSend hooks); a string has no lifetime to get wrong.
 */
import { wordsOf } from '../../shared/stores/online/json-record.ts';

/** What the kept buffer starts at, and the most it keeps after a larger answer. */
const INITIAL_BYTES = 64 * 1024;
const KEPT_BYTES = 4 * 1024 * 1024;

/**
 * The answer being written. The value loop writes into `buffer` at `length` directly after
 * `reserve`, saving a call per byte span. One answer at a time: `start`, writes, `finish`.
 */
export class ByteWriter {
  buffer: Buffer;
  /** `buffer` for four-byte writes (`copySpan`). */
  words: DataView;
  length = 0;

  constructor(capacity = INITIAL_BYTES) {
    this.buffer = Buffer.allocUnsafe(Math.max(64, capacity));
    this.words = wordsOf(this.buffer);
  }

  /** Starts an answer of about `capacity` bytes, reusing the buffer when it is large enough. */
  start(capacity: number): void {
    this.length = 0;
    this.reserve(capacity);
  }

  /** Makes room for `count` more bytes (`buffer` may be a new one after it). */
  reserve(count: number): void {
    const needed = this.length + count;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
    this.words = wordsOf(grown);
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  /** `source` (a few bytes or many: one native copy). */
  bytes(source: Uint8Array): void {
    this.reserve(source.length);
    this.buffer.set(source, this.length);
    this.length += source.length;
  }

  /** `value` as UTF-8. */
  text(value: string): void {
    this.reserve(value.length * 3);
    this.length += this.buffer.write(value, this.length, 'utf8');
  }

  /**
   * What was written, as a string (a copy: the buffer is written over by the next answer). A
   * buffer grown past KEPT_BYTES by an unusually large answer is let go rather than kept.
   */
  finish(): string {
    const text = this.buffer.toString('utf8', 0, this.length);
    this.length = 0;
    if (this.buffer.length > KEPT_BYTES) {
      this.buffer = Buffer.allocUnsafe(INITIAL_BYTES);
      this.words = wordsOf(this.buffer);
    }
    return text;
  }
}

/**
 * Copies `source[start..end)` to `target` at `at` and returns how many bytes that is; `sourceWords`
 * and `targetWords` are their DataViews. Values are short spans, for which a native copy call
 * costs more than the copy: this copies four bytes at a time, the last four overlapping what was
 * already copied, so an 18-byte number is 5 reads and writes rather than 18 (about half the time).
 */
export function copySpan(
  source: Uint8Array,
  sourceWords: DataView,
  start: number,
  end: number,
  target: Uint8Array,
  targetWords: DataView,
  at: number,
): number {
  const count = end - start;
  if (count >= 4) {
    for (let i = start, to = at; i + 4 < end; i += 4, to += 4) {
      targetWords.setInt32(to, sourceWords.getInt32(i, true), true);
    }
    targetWords.setInt32(at + count - 4, sourceWords.getInt32(end - 4, true), true);
  } else {
    for (let i = 0; i < count; i++) target[at + i] = source[start + i]!;
  }
  return count;
}
