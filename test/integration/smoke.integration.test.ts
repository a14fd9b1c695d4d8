import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { services, uniqueName } from '../support/env.ts';

describe('the real services', () => {
  it('carries a message through Kafka', async () => {
    const kafka = new Kafka({ brokers: services().KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const topic = uniqueName('smoke');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'hello' }] });
    const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<string>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') });
    });
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
    expect(received).toBe('hello');
  });

  it('writes and reads a row in Postgres', async () => {
    const client = new pg.Client({ connectionString: services().DATABASE_URL });
    await client.connect();
    const table = uniqueName('smoke');
    await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, value text)`);
    await client.query(`INSERT INTO ${table} VALUES ($1, $2)`, [1, 'hello']);
    const { rows } = await client.query(`SELECT value FROM ${table} WHERE id = 1`);
    await client.query(`DROP TABLE ${table}`);
    await client.end();
    expect(rows).toEqual([{ value: 'hello' }]);
  });

  it('sets and reads a key in Redis', async () => {
    const redis = new Redis(services().REDIS_URL);
    const key = uniqueName('smoke');
    await redis.set(key, 'hello', 'PX', 10_000);
    const value = await redis.get(key);
    await redis.del(key);
    redis.disconnect();
    expect(value).toBe('hello');
  });
});
