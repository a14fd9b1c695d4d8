import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TributaryError } from '../../../shared/errors.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { EventStream, IncomingBatch, StreamAdmin, StreamProducer } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';

/**
 * The stream port's conformance suite: every adapter runs it (kafka.integration.test.ts for
 * kafkajs, platformatic.integration.test.ts for @platformatic/kafka), on the test services'
 * broker unless `brokers` names another (kafka4.integration.test.ts: a Kafka 4 of its own) or
 * KAFKA_CONFORMANCE_BROKERS does (a broker tried by hand).
 */
export function streamPortSuite(
  name: string,
  open: (brokers: string[]) => EventStream,
  options: { brokers?: () => string[] } = {},
): void {
  describe(name, () => {
    let stream: EventStream;
    let admin: StreamAdmin;
    let producer: StreamProducer;
    const topics: string[] = [];
    /** Asked once the file's own set-up has run, which may start the broker. */
    let brokers: string[] = [];
    /** How many brokers the cluster has, asked independently of the adapter under test. */
    let clusterSize = 0;

    beforeAll(async () => {
      brokers =
        options.brokers?.() ??
        (process.env['KAFKA_CONFORMANCE_BROKERS'] ?? services().KAFKA_BROKERS).split(',');
      const reference = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await reference.connect();
      clusterSize = (await reference.describeCluster()).brokers.length;
      await reference.disconnect();
      stream = open(brokers);
      admin = await stream.admin();
      producer = await stream.producer();
    });
    afterAll(async () => {
      const existing = new Set(await admin.listTopics());
      await admin.deleteTopics(topics.filter((t) => existing.has(t)));
      await producer.close();
      await admin.close();
      await stream.close();
    });

    /** A topic name of the suite's own, deleted afterwards if it exists. */
    const topicName = (prefix = 'stream') => {
      const topic = uniqueName(prefix);
      topics.push(topic);
      return topic;
    };

    async function newTopic(partitions = 1, config?: Record<string, string>): Promise<string> {
      const topic = topicName();
      expect(await admin.ensureTopics([{ topic, partitions, ...(config ? { config } : {}) }])).toEqual([
        topic,
      ]);
      return topic;
    }

    async function consumeUntil(
      topic: string,
      groupId: string,
      count: number,
      start: 'committed' | 'beginning' | { timestamp: number } = 'committed',
    ) {
      const consumer = await stream.consumer({
        groupId,
        topics: [topic],
        start:
          typeof start === 'string' ? { from: start } : { from: 'timestamp', timestamp: start.timestamp },
      });
      const got: IncomingBatch['messages'] = [];
      await new Promise<void>((resolve) => {
        void consumer.run(async (batch) => {
          got.push(...batch.messages);
          if (got.length >= count) resolve();
        });
      });
      await consumer.close();
      return got;
    }

    it('creates only missing topics', async () => {
      const topic = await newTopic(3);
      expect(await admin.ensureTopics([{ topic }])).toEqual([]);
      expect(await admin.listTopics()).toContain(topic);
    });

    it('creates a topic with the partitions asked and min(3, brokers) replicas by default', async () => {
      const six = topicName('six');
      const one = topicName('one');
      expect(await admin.ensureTopics([{ topic: six, partitions: 6 }, { topic: one }])).toEqual([six, one]);
      expect(await admin.describeTopics([six, one])).toEqual([
        { topic: six, partitions: 6, replicationFactor: Math.min(3, clusterSize) },
        { topic: one, partitions: 1, replicationFactor: Math.min(3, clusterSize) },
      ]);
    });

    it('describes only topics that exist, in the order asked, and asking does not create one', async () => {
      const a = await newTopic(2);
      const b = await newTopic(1);
      const missing = topicName('missing');
      expect((await admin.describeTopics([b, missing, a])).map((t) => [t.topic, t.partitions])).toEqual([
        [b, 1],
        [a, 2],
      ]);
      expect(await admin.describeTopics([missing])).toEqual([]);
      expect(await admin.listTopics()).not.toContain(missing);
    });

    it('grows a topic on request and refuses to shrink it or to grow a missing one', async () => {
      const topic = await newTopic(2);
      await admin.addPartitions(topic, 4);
      expect(await admin.describeTopics([topic])).toMatchObject([{ topic, partitions: 4 }]);

      const shrink = await admin.addPartitions(topic, 3).catch((e: unknown) => e);
      expect(shrink).toBeInstanceOf(TributaryError);
      expect(shrink).toMatchObject({ code: 'TRIB_STREAM_REFUSED', retriable: false });
      expect((shrink as Error).message).toContain('Kafka only adds partitions');
      expect(await admin.describeTopics([topic])).toMatchObject([{ partitions: 4 }]);

      const missing = topicName('grow_missing');
      await expect(admin.addPartitions(missing, 6)).rejects.toMatchObject({ code: 'TRIB_STREAM_REFUSED' });
      expect(await admin.listTopics()).not.toContain(missing);
    });

    it('refuses more replicas than brokers before creating any topic of the request', async () => {
      const fine = topicName('rf_fine');
      const tooMany = topicName('rf_too_many');
      const error = await admin
        .ensureTopics([{ topic: fine }, { topic: tooMany, replicationFactor: clusterSize + 1 }])
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'TRIB_STREAM_REFUSED', retriable: false });
      expect((error as Error).message).toContain(`${tooMany} (replication factor ${clusterSize + 1})`);
      const existing = await admin.listTopics();
      expect(existing).not.toContain(fine);
      expect(existing).not.toContain(tooMany);
    });

    it('deletes topics, their messages with them', async () => {
      const gone = await newTopic(2);
      const kept = await newTopic();
      await producer.send(gone, [{ value: 'a' }, { value: 'b' }]);
      expect(await admin.topicSize(gone)).toBe(2);
      await admin.deleteTopics([gone]);
      await expect
        .poll(async () => (await admin.listTopics()).includes(gone), { timeout: 15_000 })
        .toBe(false);
      expect(await admin.describeTopics([gone, kept])).toMatchObject([{ topic: kept }]);
      // A topic of the same name made again starts empty.
      await expect
        .poll(async () => admin.ensureTopics([{ topic: gone }]).catch(() => []), { timeout: 15_000 })
        .toEqual([gone]);
      expect(await admin.topicSize(gone)).toBe(0);
    });

    it('commits a batch only when the handler resolves, redelivering after a throw', async () => {
      const topic = await newTopic();
      await producer.send(topic, [{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
      expect(await admin.topicSize(topic)).toBe(3);
      const groupId = uniqueName('group');
      const seen: string[] = [];
      let failOnce = true;
      const consumer = await stream.consumer({ groupId, topics: [topic] });
      const done = new Promise<void>((resolve) => {
        void consumer.run(async (batch: IncomingBatch) => {
          seen.push(...batch.messages.map((m) => m.value!.toString()));
          if (failOnce) {
            failOnce = false;
            throw new Error('injected failure');
          }
          if (seen.length >= 6) resolve();
        });
      });
      await done;
      await expect.poll(async () => (await consumer.lag())[0]?.lag, { timeout: 10_000 }).toBe(0);
      await consumer.close();
      expect(seen).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    });

    it('rewinds a group to the beginning on request', async () => {
      const topic = await newTopic();
      await producer.send(topic, [{ value: 'x' }, { value: 'y' }]);
      const groupId = uniqueName('group');
      const values = async (start: 'committed' | 'beginning') =>
        (await consumeUntil(topic, groupId, 2, start)).map((m) => m.value!.toString());
      expect(await values('committed')).toEqual(['x', 'y']);
      expect(await values('beginning')).toEqual(['x', 'y']);
    });

    it('starts a group at a timestamp on request', async () => {
      const topic = await newTopic();
      await producer.send(topic, [{ value: 'old' }]);
      await new Promise((r) => setTimeout(r, 50));
      const cut = Date.now();
      await new Promise((r) => setTimeout(r, 50));
      await producer.send(topic, [{ value: 'new' }]);
      const got = await consumeUntil(topic, uniqueName('group'), 1, { timestamp: cut });
      expect(got.map((m) => m.value!.toString())).toEqual(['new']);
    });

    it('carries keys, headers, null values and timestamps; a key picks the partition kafkajs picks', async () => {
      const topic = await newTopic(4);
      const keys = ['driver-1', 'driver-2', 'driver-3', 'driver-4', 'driver-5', 'driver-6'];
      const before = Date.now();
      await producer.send(
        topic,
        keys.map((key) => ({
          key,
          value: key === 'driver-6' ? null : `v-${key}`,
          headers: { source: 'suite' },
        })),
      );
      const got = await consumeUntil(topic, uniqueName('group'), keys.length);
      const byKey = new Map(got.map((m) => [m.key!.toString(), m]));
      expect([...byKey.keys()].sort()).toEqual(keys);
      for (const m of got) {
        expect(m.headers).toEqual({ source: 'suite' });
        expect(m.timestamp).toBeGreaterThanOrEqual(before - 1_000);
      }
      expect(byKey.get('driver-6')!.value).toBeNull();
      expect(byKey.get('driver-1')!.value!.toString()).toBe('v-driver-1');
      // Both clients map a key to a partition as Java's client does (murmur2): one topic, any writer.
      const reference = new KafkaEventStream(brokers);
      const refTopic = await newTopic(4);
      const refProducer = await reference.producer();
      await refProducer.send(
        refTopic,
        keys.map((key) => ({ key, value: 'x' })),
      );
      await refProducer.close();
      const ref = await consumeUntil(refTopic, uniqueName('group'), keys.length);
      const refPartition = new Map(ref.map((m) => [m.key!.toString(), m.partition]));
      for (const [key, m] of byKey) expect(m.partition, key).toBe(refPartition.get(key));
    });

    it('reports lag per partition: all of it before consuming, none after', async () => {
      const topic = await newTopic(2);
      await producer.send(topic, [
        { value: '1', partition: 0 },
        { value: '2', partition: 0 },
        { value: '3', partition: 1 },
      ]);
      // What each partition holds, read by another client: 2 and 1, unless a produce retried on a
      // loaded machine landed a record twice (neither client is idempotent: docs/architecture.md).
      const reference = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await reference.connect();
      const ends = (await reference.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
      await reference.disconnect();
      const held = ends.map((e) => Number(e.high) - Number(e.low));
      expect(held[0]).toBeGreaterThanOrEqual(2);
      expect(held[1]).toBeGreaterThanOrEqual(1);
      const groupId = uniqueName('group');
      const consumer = await stream.consumer({ groupId, topics: [topic], concurrentPartitions: 2 });
      const lag = async () =>
        (await consumer.lag()).sort((a, b) => a.partition - b.partition).map((l) => l.lag);
      expect(await lag()).toEqual(held);
      let n = 0;
      const highWatermarks = new Map<number, string>();
      await consumer.run(async (batch) => {
        n += batch.messages.length;
        highWatermarks.set(batch.partition, batch.highWatermark);
      });
      await expect.poll(lag, { timeout: 15_000 }).toEqual([0, 0]);
      expect(n).toBe(held[0]! + held[1]!);
      // Each batch says where its partition ended when it was fetched.
      expect(new Map([...highWatermarks].sort())).toEqual(new Map(ends.map((e) => [e.partition, e.high])));
      await consumer.close();
    });

    it('tells a batch when its consumer is closing: abandoned, it is delivered again', async () => {
      const topic = await newTopic();
      await producer.send(topic, [{ value: 'p' }, { value: 'q' }]);
      const groupId = uniqueName('group');
      const consumer = await stream.consumer({ groupId, topics: [topic] });
      const stopping: boolean[] = [];
      let entered!: () => void;
      const inBatch = new Promise<void>((resolve) => {
        entered = resolve;
      });
      await consumer.run(async (_batch, context) => {
        stopping.push(context.isStopping());
        // Long work keeps the group membership alive.
        await context.heartbeat();
        entered();
        const end = Date.now() + 20_000;
        while (!context.isStopping() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        stopping.push(context.isStopping());
        throw new Error('abandoned: the consumer is closing');
      });
      await inBatch;
      // close lets the current batch finish (here: abandon) before it resolves.
      await consumer.close();
      expect(stopping.slice(0, 2)).toEqual([false, true]);
      // Nothing of the abandoned batch was committed: the group gets it again.
      const again = await consumeUntil(topic, groupId, 2);
      expect(again.map((m) => m.value!.toString())).toEqual(['p', 'q']);
    });

    it('delivers every message, in order, in smaller batches under maxBytesPerPartition', async () => {
      const topic = await newTopic();
      const values = Array.from({ length: 12 }, (_, i) => Buffer.alloc(600, i));
      // One send each: Kafka fetches whole record batches, so each message is its own.
      for (const value of values) await producer.send(topic, [{ value }]);
      const consumer = await stream.consumer({
        groupId: uniqueName('group'),
        topics: [topic],
        start: { from: 'beginning' },
        maxBytesPerPartition: 1_024,
      });
      const batches: Buffer[][] = [];
      await new Promise<void>((resolve) => {
        void consumer.run(async (batch) => {
          batches.push(batch.messages.map((m) => m.value!));
          if (batches.flat().length >= values.length) resolve();
        });
      });
      await consumer.close();
      expect(batches.flat()).toEqual(values);
      expect(batches.length).toBeGreaterThan(1);
    });

    it('refuses a record larger than the topic takes as TRIB_MESSAGE_TOO_LARGE, not retriable', async () => {
      const topic = await newTopic(1, { 'max.message.bytes': '2000' });
      const error = await producer.send(topic, [{ value: Buffer.alloc(10_000, 1) }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TributaryError);
      expect((error as TributaryError).code).toBe('TRIB_MESSAGE_TOO_LARGE');
      expect((error as TributaryError).retriable).toBe(false);
      // The producer goes on after a refusal (on a new session), and writes the next send once.
      await producer.send(topic, [{ value: 'small' }]);
      expect(await admin.topicSize(topic)).toBe(1);
    });

    it('writes each of many concurrent sends exactly once, in the order they were called', async () => {
      // Idempotent clients lose concurrent sends silently when they share sequence numbers
      // (tulios/kafkajs#1005, platformatic/kafka#326): the producer must not let them.
      const topic = await newTopic(3);
      const sends = 300;
      await Promise.all(
        Array.from({ length: sends }, (_, i) =>
          producer.send(topic, [{ key: `k${i % 7}`, value: String(i) }]),
        ),
      );
      expect(await admin.topicSize(topic)).toBe(sends);
      const got = await consumeUntil(topic, uniqueName('group'), sends, 'beginning');
      const values = got.map((m) => Number(m.value!.toString()));
      expect(new Set(values).size).toBe(sends);
      for (const key of new Set(got.map((m) => m.key!.toString()))) {
        const ofKey = got.filter((m) => m.key!.toString() === key).map((m) => Number(m.value!.toString()));
        expect(ofKey).toEqual([...ofKey].sort((a, b) => a - b));
      }
    });

    it('refuses a send once the producer is closed, and closing twice is harmless', async () => {
      const topic = await newTopic();
      const own = await stream.producer();
      await own.send(topic, [{ value: 'before' }]);
      await own.close();
      const error = await own.send(topic, [{ value: 'after' }]).catch((e: unknown) => e);
      expect((error as TributaryError).code).toBe('TRIB_SHUTTING_DOWN');
      await own.close();
      expect(await admin.topicSize(topic)).toBe(1);
    });

    it('answers ping when a broker answers, and TRIB_STREAM_UNAVAILABLE when none does', async () => {
      await stream.ping();
      const dead = open(['127.0.0.1:1']);
      const error = await dead.ping().catch((e: unknown) => e);
      await dead.close();
      expect((error as TributaryError).code).toBe('TRIB_STREAM_UNAVAILABLE');
    });
  });
}
