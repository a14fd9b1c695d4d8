import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../../../shared/errors.ts';
import type { KafkaErrorFacts } from '../../../../shared/stream/produce-error.ts';
import { type ProducerSession, SerialProducer } from '../../../../shared/stream/serial-producer.ts';

/**
 * The producer's rules with sessions that inject faults (the real clients, on a real broker,
 * are in test/integration/stream/stream-port.suite.ts and the broker-kill test).
 */

/** A client error as both adapters' facts readers see one: Kafka's name and whether it is final. */
class FakeKafkaError extends Error {
  constructor(
    readonly kafkaName: string,
    readonly final = true,
  ) {
    super(kafkaName);
  }
}
const factsOf = (error: unknown): KafkaErrorFacts =>
  error instanceof FakeKafkaError ? { name: error.kafkaName, final: error.final } : { final: false };

type Behaviour = (topic: string, value: string) => Promise<void>;

/** Sessions numbered in the order opened; each records what it was asked to send. */
function harness(behaviours: Behaviour[] = []) {
  const sent: { session: number; value: string }[] = [];
  const closed: number[] = [];
  let opened = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const open = async (): Promise<ProducerSession> => {
    const id = opened++;
    const behaviour: Behaviour = behaviours[id] ?? (async () => undefined);
    return {
      async send(topic, messages) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          for (const m of messages) {
            await behaviour(topic, String(m.value));
            sent.push({ session: id, value: String(m.value) });
          }
        } finally {
          inFlight--;
        }
      },
      async close() {
        closed.push(id);
      },
    };
  };
  return {
    sent,
    closed,
    opened: () => opened,
    maxInFlight: () => maxInFlight,
    async producer(sendTimeoutMs = 1_000) {
      return new SerialProducer(await open(), { open, factsOf, sendTimeoutMs });
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('SerialProducer', () => {
  it('sends one at a time, in the order called, on one session while it succeeds', async () => {
    const h = harness([() => sleep(2)]);
    const producer = await h.producer();
    await Promise.all(Array.from({ length: 20 }, (_, i) => producer.send('t', [{ value: String(i) }])));
    expect(h.maxInFlight()).toBe(1);
    expect(h.sent.map((s) => s.value)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(h.opened()).toBe(1);
  });

  it('resends once, on a new session, a batch the broker refused for not knowing the session', async () => {
    const h = harness([
      async () => {
        throw new FakeKafkaError('UNKNOWN_PRODUCER_ID');
      },
    ]);
    const producer = await h.producer();
    await producer.send('t', [{ value: 'a' }]);
    expect(h.sent).toEqual([{ session: 1, value: 'a' }]);
    expect(h.closed).toEqual([0]);
  });

  it('does not resend twice: a second session refusal reaches the caller as TRIB_STREAM_REFUSED', async () => {
    const refuse = async () => {
      throw new FakeKafkaError('OUT_OF_ORDER_SEQUENCE_NUMBER');
    };
    const h = harness([refuse, refuse]);
    const producer = await h.producer();
    const error = (await producer.send('t', [{ value: 'a' }]).catch((e: unknown) => e)) as TributaryError;
    expect([error.code, error.details['kafkaError']]).toEqual([
      'TRIB_STREAM_REFUSED',
      'OUT_OF_ORDER_SEQUENCE_NUMBER',
    ]);
    // The next send gets a third session and succeeds.
    await producer.send('t', [{ value: 'b' }]);
    expect(h.sent).toEqual([{ session: 2, value: 'b' }]);
  });

  it('never reuses a session after a failure it cannot tell was written, and does not resend it', async () => {
    const h = harness([
      async () => {
        throw new Error('Connection error: read ECONNRESET');
      },
    ]);
    const producer = await h.producer();
    const error = (await producer.send('t', [{ value: 'a' }]).catch((e: unknown) => e)) as TributaryError;
    expect([error.code, error.retriable]).toEqual(['TRIB_STREAM_UNAVAILABLE', true]);
    await producer.send('t', [{ value: 'b' }]);
    expect(h.sent).toEqual([{ session: 1, value: 'b' }]);
    expect(h.closed).toEqual([0]);
  });

  it('answers within the timeout; the send behind a stuck one goes out on a new session', async () => {
    const h = harness([() => new Promise(() => undefined)]); // the first session never answers
    const producer = await h.producer(50);
    const started = performance.now();
    const stuck = producer.send('t', [{ value: 'stuck' }]).then(
      () => undefined,
      (e: unknown) => e as TributaryError,
    );
    await sleep(20);
    const queued = producer.send('t', [{ value: 'queued' }]);
    const error = await stuck;
    expect(error?.code).toBe('TRIB_STREAM_UNAVAILABLE');
    expect(performance.now() - started).toBeLessThan(500);
    await queued;
    expect(h.sent).toEqual([{ session: 1, value: 'queued' }]);
    expect(h.closed).toEqual([0]);
  });

  it('fails a send as TRIB_STREAM_UNAVAILABLE when no new session can be opened, and opens one later', async () => {
    let down = false;
    const sent: string[] = [];
    const session = (): ProducerSession => ({
      async send(_, messages) {
        if (down) throw new Error('Connection error');
        sent.push(...messages.map((m) => String(m.value)));
      },
      async close() {},
    });
    const open = async () => {
      if (down) throw new TributaryError('TRIB_STREAM_UNAVAILABLE', 'cannot reach Kafka');
      return session();
    };
    const producer = new SerialProducer(session(), { open, factsOf, sendTimeoutMs: 1_000 });
    down = true;
    for (const value of ['a', 'b']) {
      const error = (await producer.send('t', [{ value }]).catch((e: unknown) => e)) as TributaryError;
      expect(error.code).toBe('TRIB_STREAM_UNAVAILABLE');
    }
    down = false;
    await producer.send('t', [{ value: 'c' }]);
    expect(sent).toEqual(['c']);
  });

  it('lets queued sends finish on close, then refuses new ones with TRIB_SHUTTING_DOWN', async () => {
    const h = harness([() => sleep(5)]);
    const producer = await h.producer();
    const queued = [producer.send('t', [{ value: 'a' }]), producer.send('t', [{ value: 'b' }])];
    await producer.close();
    await Promise.all(queued);
    expect(h.sent.map((s) => s.value)).toEqual(['a', 'b']);
    expect(h.closed).toEqual([0]);
    const error = (await producer.send('t', [{ value: 'c' }]).catch((e: unknown) => e)) as TributaryError;
    expect(error.code).toBe('TRIB_SHUTTING_DOWN');
  });
});
