/**
 * Topic administration through the stream port, on the real test broker, for both adapters:
 * partitions and replicas as asked, described as the cluster reports them, grown only on
 * request and never shrunk, an impossible replication factor refused before anything exists.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TributaryError } from '../../../shared/errors.ts';
import { type KafkaClient, openEventStream } from '../../../shared/stream/index.ts';
import type { EventStream, StreamAdmin } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';

const brokers = services().KAFKA_BROKERS.split(',');
let clusterSize = 0;

beforeAll(async () => {
  // How many brokers the test cluster has, asked independently of the adapters under test.
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  clusterSize = (await admin.describeCluster()).brokers.length;
  await admin.disconnect();
});

for (const client of ['kafkajs', 'platformatic'] as KafkaClient[]) {
  describe(`topics through the stream port (${client})`, () => {
    let stream: EventStream;
    let admin: StreamAdmin;
    const topics: string[] = [];
    const name = (prefix: string) => {
      const topic = uniqueName(`${prefix}_${client}`);
      topics.push(topic);
      return topic;
    };

    beforeAll(async () => {
      stream = openEventStream(brokers, undefined, { client });
      admin = await stream.admin();
    });
    afterAll(async () => {
      const existing = new Set(await admin.listTopics());
      await admin.deleteTopics(topics.filter((t) => existing.has(t)));
      await admin.close();
      await stream.close();
    });

    it('creates a topic with the partitions asked and min(3, brokers) replicas by default', async () => {
      const six = name('six');
      const one = name('one');
      expect(await admin.ensureTopics([{ topic: six, partitions: 6 }, { topic: one }])).toEqual([six, one]);
      expect(await admin.describeTopics([six, one])).toEqual([
        { topic: six, partitions: 6, replicationFactor: Math.min(3, clusterSize) },
        { topic: one, partitions: 1, replicationFactor: Math.min(3, clusterSize) },
      ]);
    });

    it('describes only topics that exist, and asking does not create one', async () => {
      const missing = name('missing');
      expect(await admin.describeTopics([missing])).toEqual([]);
      expect(await admin.listTopics()).not.toContain(missing);
    });

    it('grows a topic on request and refuses to shrink it or to grow a missing one', async () => {
      const topic = name('grow');
      await admin.ensureTopics([{ topic, partitions: 2 }]);
      await admin.addPartitions(topic, 4);
      expect(await admin.describeTopics([topic])).toMatchObject([{ topic, partitions: 4 }]);

      const shrink = await admin.addPartitions(topic, 3).catch((e: unknown) => e);
      expect(shrink).toBeInstanceOf(TributaryError);
      expect(shrink).toMatchObject({ code: 'TRIB_STREAM_REFUSED', retriable: false });
      expect((shrink as Error).message).toContain('Kafka only adds partitions');
      expect(await admin.describeTopics([topic])).toMatchObject([{ partitions: 4 }]);

      const missing = name('grow_missing');
      await expect(admin.addPartitions(missing, 6)).rejects.toMatchObject({ code: 'TRIB_STREAM_REFUSED' });
      expect(await admin.listTopics()).not.toContain(missing);
    });

    it('refuses more replicas than brokers before creating any topic of the request', async () => {
      const fine = name('rf_fine');
      const tooMany = name('rf_too_many');
      const error = await admin
        .ensureTopics([{ topic: fine }, { topic: tooMany, replicationFactor: clusterSize + 1 }])
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'TRIB_STREAM_REFUSED', retriable: false });
      expect((error as Error).message).toContain(`${tooMany} (replication factor ${clusterSize + 1})`);
      const existing = await admin.listTopics();
      expect(existing).not.toContain(fine);
      expect(existing).not.toContain(tooMany);
    });
  });
}
