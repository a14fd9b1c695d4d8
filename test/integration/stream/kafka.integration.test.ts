import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { IncomingBatch, StreamAdmin, StreamProducer } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';

describe('KafkaEventStream', () => {
  let stream: KafkaEventStream;
  let admin: StreamAdmin;
  let producer: StreamProducer;
  const topics: string[] = [];

  beforeAll(async () => {
    stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
    admin = await stream.admin();
    producer = await stream.producer();
  });
  afterAll(async () => {
    await admin.deleteTopics(topics);
    await producer.close();
    await admin.close();
  });

  async function newTopic(partitions = 1): Promise<string> {
    const topic = uniqueName('stream');
    topics.push(topic);
    expect(await admin.ensureTopics([{ topic, partitions }])).toEqual([topic]);
    return topic;
  }

  it('creates only missing topics', async () => {
    const topic = await newTopic(3);
    expect(await admin.ensureTopics([{ topic }])).toEqual([]);
    expect(await admin.listTopics()).toContain(topic);
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
    const consumeAll = async (start: 'committed' | 'beginning') => {
      const consumer = await stream.consumer({ groupId, topics: [topic], start: { from: start } });
      const values: string[] = [];
      await new Promise<void>((resolve) => {
        void consumer.run(async (batch) => {
          values.push(...batch.messages.map((m) => m.value!.toString()));
          if (values.length >= 2) resolve();
        });
      });
      await consumer.close();
      return values;
    };
    expect(await consumeAll('committed')).toEqual(['x', 'y']);
    expect(await consumeAll('beginning')).toEqual(['x', 'y']);
  });
});
