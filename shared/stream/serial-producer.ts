/**
 * The producer both Kafka adapters hand out: idempotent, one send at a time, and a client
 * session that is thrown away after any failure. Each adapter supplies only how to open a
 * session of its client and how to read its errors.
 *
 * - Idempotent: without it, a send the client retries by itself (a request that timed out while
 *   the broker wrote it; a NOT_LEADER on one partition of a request whose other partitions were
 *   written) puts events in Kafka twice, and a count or a sum over them counts them twice
 *   (bench/RESULTS.md, 2026-12-03: 503 of 500,000). With it the broker drops the resent batch.
 * - One send at a time: both clients number a partition's batches when a request is built and
 *   advance the number only when the broker answers, so two sends in flight at once carry the
 *   same number, and the broker, taking the second for a resend of the first, acknowledges it
 *   without writing it: a silent loss (tulios/kafkajs#1005, platformatic/kafka#326).
 * - A new session after a failure: a send that failed or timed out may have been written or not,
 *   and the client has not advanced its number, so the next batch would reuse it and, were the
 *   first written, be dropped as its duplicate. A new session (a new producer id) numbers from
 *   zero. A batch the broker refused because it no longer knows the session (UNKNOWN_PRODUCER_ID
 *   after a long idle, OUT_OF_ORDER_SEQUENCE_NUMBER) was not written: it is sent once more on a
 *   new session, unseen by the caller.
 *
 * Every send answers within the send timeout, counted from the call, waiting in line included;
 * one that spent its whole budget in line is never sent. A send that timed out while in flight
 * may still be written by its abandoned session: at-least-once, as the caller is told.
 */
import { TributaryError } from '../errors.ts';
import type { OutgoingMessage, StreamProducer } from './port.ts';
import { type KafkaErrorFacts, kafkaErrorNames, produceError } from './produce-error.ts';

/** One client producer, used until it fails once. */
export interface ProducerSession {
  /** The client's send, acks=all, idempotent; throws the client's own errors. */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface SerialProducerOptions {
  /** Opens a new session (a new producer id); throws a TributaryError when Kafka cannot be reached. */
  open(): Promise<ProducerSession>;
  /** How to read the adapter's client errors. */
  factsOf(error: unknown): KafkaErrorFacts;
  sendTimeoutMs: number;
}

/** Kafka's answers meaning the broker no longer knows this session: the batch was not written. */
const SESSION_LOST = new Set([
  'UNKNOWN_PRODUCER_ID',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'PRODUCER_FENCED',
]);

export class SerialProducer implements StreamProducer {
  private session: Promise<ProducerSession> | undefined;
  /** The last queued send, settled or not: the next one starts after it. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Sessions being closed after a failure, awaited by `close`. */
  private readonly discarded = new Set<Promise<void>>();
  private closed = false;

  constructor(
    first: ProducerSession,
    private readonly options: SerialProducerOptions,
  ) {
    this.session = Promise.resolve(first);
  }

  send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    if (this.closed) {
      return Promise.reject(new TributaryError('TRIB_SHUTTING_DOWN', `the producer for ${topic} is closed`));
    }
    const deadline = performance.now() + this.options.sendTimeoutMs;
    const turn = this.tail.then(() => this.sendInTurn(topic, messages, deadline));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
    const session = this.session;
    this.session = undefined;
    if (session) this.discard(session);
    await Promise.all(this.discarded);
  }

  private async sendInTurn(topic: string, messages: OutgoingMessage[], deadline: number): Promise<void> {
    for (let resent = false; ; resent = true) {
      if (performance.now() >= deadline) throw this.timedOut(topic);
      const session = this.current();
      try {
        await this.withinDeadline(
          topic,
          deadline,
          session.then((s) =>
            // The session may have opened after the deadline: the caller has its answer, send nothing.
            performance.now() >= deadline ? Promise.reject(this.timedOut(topic)) : s.send(topic, messages),
          ),
        );
        return;
      } catch (error) {
        this.discard(session);
        if (!resent && !(error instanceof TributaryError) && this.sessionLost(error)) continue;
        throw produceError(topic, error, this.options.factsOf);
      }
    }
  }

  private current(): Promise<ProducerSession> {
    this.session ??= this.options.open();
    return this.session;
  }

  /** Stops using `session` (if it is still the current one) and closes it in the background. */
  private discard(session: Promise<ProducerSession>): void {
    if (this.session === session) this.session = undefined;
    const closing = session.then(
      (s) => s.close().catch(() => undefined),
      () => undefined, // it never opened: nothing to close
    );
    this.discarded.add(closing);
    void closing.then(() => this.discarded.delete(closing));
  }

  private sessionLost(error: unknown): boolean {
    return kafkaErrorNames(error, this.options.factsOf).some((name) => SESSION_LOST.has(name));
  }

  private async withinDeadline(topic: string, deadline: number, work: Promise<void>): Promise<void> {
    work.catch(() => undefined); // a late failure after the deadline is not unhandled
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.timedOut(topic)), Math.max(0, deadline - performance.now()));
    });
    try {
      await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private timedOut(topic: string): TributaryError {
    return new TributaryError(
      'TRIB_STREAM_UNAVAILABLE',
      `could not produce to ${topic} within ${this.options.sendTimeoutMs} ms: is Kafka (KAFKA_BROKERS) reachable?`,
    );
  }
}
