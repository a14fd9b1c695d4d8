/**
 * Byte-level writing of JSON answers: a buffer written at an index, buffers reused across
 * answers, and a short-span copy.
 *
 * Why reuse: a 100 × 50 lookup answers 284 KB. A fresh Buffer per answer is a fresh ArrayBuffer
 * outside the JS heap, and V8 counts those bytes towards its next full collection: at 100
 * answers/s the serving thread ran a mark-compact every ~0.4 s, pauses of 10–160 ms, and those
 * pauses were the lookup's p99 (`npm run bench:online` reports them as `pacedGc`). Handing the
 * answer out as a string instead avoids that but costs ~0.9 ms per 284 KB answer (UTF-8 decode,
 * then length and encode again on the way out), more than the lookup itself. So answers are
 * written into buffers from `AnswerBuffers`, and a buffer goes back to it only when the response
 * has finished: Node emits 'finish' once the socket has written the last byte, so nothing holds
 * the buffer any more. A response that never finishes (the client went away) just never returns
 * its buffer, which the collector then frees like any other.
 */
import { wordsOf } from '../../shared/stores/online/json-record.ts';

/**
 * Buffers of finished answers, for the next ones. Bounded, so a burst of concurrent large
 * answers does not stay pinned after it: past `maxBytes` a returned buffer is let go.
 */
export class AnswerBuffers {
  private readonly free: Buffer[] = [];
  private freeBytes = 0;

  constructor(
    private readonly maxBytes = 16 * 1024 * 1024,
    /** A single buffer above this is never kept (one odd huge answer). */
    private readonly maxBufferBytes = 4 * 1024 * 1024,
    /** Nor one below this: small answers are cheap to allocate and the collector frees them young. */
    private readonly minBufferBytes = 16 * 1024,
  ) {}

  /** A buffer of at least `bytes` (its contents are garbage). */
  take(bytes: number): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const buffer = this.free[i]!;
      if (buffer.length >= bytes) {
        this.free.splice(i, 1);
        this.freeBytes -= buffer.length;
        return buffer;
      }
    }
    // Sized up to a power of two, so a buffer fits the next answers of about the same size.
    return Buffer.allocUnsafe(bytes < this.minBufferBytes ? bytes : 2 ** Math.ceil(Math.log2(bytes)));
  }

  /** Gives `buffer` back: it must no longer be read or written by anyone. */
  give(buffer: Buffer): void {
    if (buffer.length < this.minBufferBytes || buffer.length > this.maxBufferBytes) return;
    if (this.freeBytes + buffer.length > this.maxBytes) return;
    this.free.push(buffer);
    this.freeBytes += buffer.length;
  }

  /** How many buffers wait to be reused (for tests). */
  get size(): number {
    return this.free.length;
  }
}

/** A written answer: its bytes, and how to give its buffer back once they are sent. */
export interface Answer {
  bytes: Buffer;
  /** Call once nothing reads `bytes` any more (after the response's 'finish'); at most once. */
  release: () => void;
}

/**
 * The answer being written. The value loop writes into `buffer` at `length` directly after
 * `reserve`, saving a call per byte span. One answer per writer: construct, write, `finish`.
 */
export class ByteWriter {
  buffer: Buffer;
  /** `buffer` for four-byte writes (`copySpan`). */
  words: DataView;
  length = 0;

  constructor(
    capacity: number,
    private readonly buffers: AnswerBuffers = new AnswerBuffers(0),
  ) {
    this.buffer = buffers.take(Math.max(64, capacity));
    this.words = wordsOf(this.buffer);
  }

  /** Makes room for `count` more bytes (`buffer` may be a new one after it). */
  reserve(count: number): void {
    const needed = this.length + count;
    if (needed <= this.buffer.length) return;
    const grown = this.buffers.take(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.length);
    // Never handed out: free for the next answer at once.
    this.buffers.give(this.buffer);
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

  /** What was written (a view of the buffer, not a copy), and how to give the buffer back. */
  finish(): Answer {
    const buffer = this.buffer;
    const buffers = this.buffers;
    let released = false;
    return {
      bytes: buffer.subarray(0, this.length),
      release: () => {
        if (released) return;
        released = true;
        buffers.give(buffer);
      },
    };
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
