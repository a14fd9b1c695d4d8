/**
 * Scaling out the materializer: several processes in one consumer group share a topic's
 * partitions. Three run while events stream, one is killed with SIGKILL mid-stream, a fourth
 * joins later; at the end both stores hold exactly what was produced — every event once
 * offline, each driver's last event online — and every process had a share of the work.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSpec } from '../../../fixtures/driver-spec.ts';
import type { RepoSpec } from '../../../shared/definitions/types.ts';
import { viewLayout } from '../../../shared/model/layout.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { OutgoingMessage, StreamAdmin, StreamProducer } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';

const T0 = Date.parse('2026-11-20T10:00:00Z');
const PARTITIONS = 6;
const TOTAL = 30_000;
const DRIVERS = 600;
const CHUNKS = 60;

const topic = uniqueName('scale_drivers');
const schema = uniqueName('scale_offline');
const prefix = uniqueName('scale_online');
const groupPrefix = uniqueName('scale_mat');
// The materializer's group for the source: `<groupPrefix>.<source name>`.
const groupId = `${groupPrefix}.driver_stats_source`;
const spec: RepoSpec = driverSpec(topic);

let admin: StreamAdmin;
let producer: StreamProducer;
let db: pg.Client;
let online: RedisOnlineStore;
const children: ChildProcess[] = [];

beforeAll(async () => {
  const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
  admin = await stream.admin();
  await admin.ensureTopics([{ topic, partitions: PARTITIONS }, { topic: `${topic}.dlq` }]);
  producer = await stream.producer();
  db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
  online = new RedisOnlineStore({ url: services().REDIS_URL, prefix });
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await producer?.close();
  await online?.close();
  await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db?.end();
  await admin?.deleteTopics([topic, `${topic}.dlq`]).catch(() => undefined);
  await admin?.close();
});

/** A materializer process in the test's group; resolves once it has joined and started. */
async function materializer(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/materializer-child.ts'], {
    env: {
      ...process.env,
      ...services(),
      TEST_TOPIC: topic,
      TEST_SCHEMA: schema,
      TEST_PREFIX: prefix,
      TEST_GROUP: groupPrefix,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`materializer exited with ${code} before it started`)));
  });
  return child;
}

function event(n: number): OutgoingMessage {
  const driverId = n % DRIVERS;
  return {
    key: String(driverId),
    value: JSON.stringify({
      driver_id: driverId,
      event_timestamp: new Date(T0 + n * 1000).toISOString(),
      conv_rate: 0.5,
      acc_rate: 0.9,
      // The event's number: tells rows apart offline and the last write online.
      avg_daily_trips: n,
    }),
  };
}

async function produceChunk(chunk: number): Promise<void> {
  const size = TOTAL / CHUNKS;
  await producer.send(
    topic,
    Array.from({ length: size }, (_, i) => event(chunk * size + i)),
  );
}

async function offline(): Promise<{ rows: number; distinct: number }> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS rows, count(DISTINCT avg_daily_trips)::int AS distinct FROM "${schema}"."driver_hourly_stats"`,
  );
  return rows[0] as { rows: number; distinct: number };
}

/** The group's members and how many partitions each holds, from the broker. */
async function members(): Promise<number[]> {
  const kafka = new Kafka({ brokers: services().KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const client = kafka.admin();
  await client.connect();
  try {
    const { groups } = await client.describeGroups([groupId]);
    const { AssignerProtocol } = await import('kafkajs');
    return (groups[0]?.members ?? []).map((m) => {
      const assignment = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
      return Object.values(assignment?.assignment ?? {}).reduce((sum, p) => sum + p.length, 0);
    });
  } finally {
    await client.disconnect();
  }
}

describe('materializers sharing a consumer group', () => {
  it('three share the partitions; one killed mid-stream and one added later lose and double nothing', async () => {
    const [a, b, c] = await Promise.all([materializer(), materializer(), materializer()]);
    // All three joined and each holds a share of the six partitions.
    await expect
      .poll(async () => (await members()).sort(), { timeout: 60_000, interval: 500 })
      .toEqual([2, 2, 2]);

    let produced = 0;
    while (produced < CHUNKS / 3) {
      await produceChunk(produced++);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    // Killed with batches in flight: whatever it wrote and did not commit is redelivered.
    await expect.poll(async () => (await offline()).rows, { timeout: 60_000 }).toBeGreaterThan(0);
    b!.kill('SIGKILL');
    await new Promise((resolve) => b!.once('exit', resolve));
    while (produced < (2 * CHUNKS) / 3) await produceChunk(produced++);

    // A fourth joins while the stream goes on: the group rebalances over three live members.
    const d = await materializer();
    while (produced < CHUNKS) await produceChunk(produced++);
    await expect
      .poll(async () => (await members()).sort(), { timeout: 60_000, interval: 500 })
      .toEqual([2, 2, 2]);

    await expect.poll(async () => (await offline()).rows, { timeout: 90_000, interval: 500 }).toBe(TOTAL);
    // Settled: nothing redelivered late adds a row.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await offline()).toEqual({ rows: TOTAL, distinct: TOTAL });
    // Online: each driver's latest event is the last one produced for it.
    const view = viewLayout(spec.featureViews[0]!, spec.entities);
    const ids = Array.from({ length: DRIVERS }, (_, i) => i);
    const [records] = (await online.read([{ view, keys: ids.map((id) => [BigInt(id)]) }])) as [
      ({ values: unknown[] } | null)[],
    ];
    expect(records.map((r) => r?.values[2])).toEqual(ids.map((id) => BigInt(TOTAL - DRIVERS + id)));
    for (const child of [a, c, d]) expect(child!.exitCode).toBeNull();
  }, 240_000);
});
