/**
 * `COPY … TO STDOUT` on a node-postgres client, handing the data to a callback as byte ranges of
 * the socket's own buffers.
 *
 * Why not pg-copy-streams' `to`: it makes a Buffer object for every CopyData message, and
 * Postgres sends one message per row, then concatenates them into stream chunks. For a
 * historical answer of a million rows that was a sixth of the reader's CPU and most of its
 * garbage. Here the messages are framed in place and only their payloads' ranges go to `onData`.
 *
 * The mechanics are pg-copy-streams' (a `Submittable`): once the query is sent, the
 * connection's `data` listener is set aside and this reads the socket; at CopyDone, or at an
 * ErrorResponse, the unread bytes and the listener go back to node-postgres, which then reports
 * CommandComplete or the error to this query as to any other.
 * Protocol: https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-COPY
 */
import type { Readable } from 'node:stream';

/** What node-postgres gives a Submittable: its connection, with the socket. */
interface PgConnection {
  stream: Readable;
  query(text: string): void;
}

const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const ERROR_RESPONSE = 0x45; // E
const HEADER_BYTES = 5; // type byte, int32 length (itself included)

/** Receives each CopyData payload, whole or in parts (a part ends where a socket read ended). */
export type CopyDataSink = (buf: Buffer, start: number, end: number) => void;

export class CopyOutQuery {
  /** Settles when Postgres has finished the statement (ReadyForQuery), or on its error. */
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  private failed = false;
  private connection: PgConnection | undefined;
  private pgDataListener: ((chunk: Buffer) => void) | undefined;
  /** A message header cut by the end of a socket read. */
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerBytes = 0;
  /** The current message: its type, and how much of its payload is still to come. */
  private type = 0;
  private remaining = 0;
  private readonly onChunk = (chunk: Buffer) => this.parse(chunk);

  constructor(
    private readonly text: string,
    private readonly onData: CopyDataSink,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A caller that stops awaiting (it failed elsewhere) must not leave an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Fails `done` now; the caller then discards the connection (it is mid-COPY). */
  cancel(error: Error): void {
    this.fail(error);
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    const listeners = connection.stream.listeners('data') as ((chunk: Buffer) => void)[];
    if (listeners.length !== 1) {
      this.fail(new Error(`expected one data listener on the connection, found ${listeners.length}`));
      return;
    }
    this.pgDataListener = listeners[0];
    connection.stream.removeListener('data', this.pgDataListener!);
    connection.stream.on('data', this.onChunk);
    connection.query(this.text);
  }

  private parse(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining === 0) {
        // A new message: its 5-byte header may straddle two reads.
        if (this.headerBytes > 0 || chunk.length - at < HEADER_BYTES) {
          const take = Math.min(HEADER_BYTES - this.headerBytes, chunk.length - at);
          chunk.copy(this.header, this.headerBytes, at, at + take);
          this.headerBytes += take;
          at += take;
          if (this.headerBytes < HEADER_BYTES) return;
          this.headerBytes = 0;
          if (this.begin(this.header, 0, chunk, at)) return;
        } else {
          if (this.begin(chunk, at, chunk, at + HEADER_BYTES)) return;
          at += HEADER_BYTES;
        }
        if (this.remaining === 0) continue;
      }
      const end = Math.min(chunk.length, at + this.remaining);
      if (this.type === COPY_DATA) this.onData(chunk, at, end);
      this.remaining -= end - at;
      at = end;
    }
  }

  /**
   * Starts the message whose header is at `header[h…h+5)`; `rest` from `restAt` is what follows
   * it in the socket. Returns true when this query stops reading (CopyDone or an error).
   */
  private begin(header: Buffer, h: number, rest: Buffer, restAt: number): boolean {
    this.type = header[h]!;
    this.remaining = header.readInt32BE(h + 1) - 4;
    if (this.type === ERROR_RESPONSE) {
      // node-postgres reads the error (and what follows) and reports it to handleError.
      this.detach(Buffer.concat([header.subarray(h, h + HEADER_BYTES), rest.subarray(restAt)]));
      return true;
    }
    if (this.type === COPY_DONE) {
      this.detach(rest.subarray(restAt));
      return true;
    }
    // CopyOutResponse, CopyData, and the asynchronous NoticeResponse, ParameterStatus and
    // NotificationResponse Postgres may send in between: only CopyData is kept.
    return false;
  }

  private detach(unread: Buffer): void {
    const connection = this.connection!;
    connection.stream.removeListener('data', this.onChunk);
    connection.stream.on('data', this.pgDataListener!);
    if (unread.length > 0) this.pgDataListener!(unread);
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.reject(error);
  }

  handleError(error: Error): void {
    this.fail(error);
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    if (!this.failed) this.resolve();
  }
}
