/**
 * The materialize → serve path on clusters of the test's own (scripts/services.ts): a 3-node
 * KRaft cluster (the same Maven route as the test broker) and a 3-primary Redis Cluster as the
 * online store. A topic replicated 3 times, a materializer consuming it while events stream
 * in from Tributary's producer, one broker killed with SIGKILL mid-stream. Nothing is lost and
 * nothing doubled, by the producer or the materializer: every event once offline, each driver's last event online, and serving answers it from the cluster.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverSpec } from '../../../fixtures/driver-spec.ts';
import {
  type KafkaProcess,
  type RedisClusterNode,
  redisClusterNodesOf,
  startKafkaCluster,
  startRedisCluster,
  stopRedisCluster,
} from '../../../scripts/services.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { viewLayout } from '../../../shared/model/layout.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { StreamAdmin } from '../../../shared/stream/port.ts';
import { sleep } from '../../support/chaos.ts';
import { services, uniqueName } from '../../support/env.ts';
import { onlineApp } from '../../support/online-app.ts';

const T0 = Date.parse('2026-11-20T10:00:00Z');
const DRIVERS = 300;
const topic = uniqueName('cluster_drivers');
const schema = uniqueName('cluster_offline');
const prefix = uniqueName('cluster_online');
const spec = driverSpec(topic);
const runDir = mkdtempSync(path.join(os.tmpdir(), 'tributary-kafka-cluster-'));

let nodes: KafkaProcess[] = [];
let redisNodes: RedisClusterNode[] = [];
let brokers: string;
let redisClusterNodes: string;
let admin: StreamAdmin;
let db: pg.Client;
let online: RedisOnlineStore;
let child: ChildProcess | undefined;

beforeAll(async () => {
  [nodes, redisNodes] = await Promise.all([
    startKafkaCluster(path.join(runDir, 'kafka'), 3),
    startRedisCluster(path.join(runDir, 'redis'), 3),
  ]);
  redisClusterNodes = redisClusterNodesOf(redisNodes);
  brokers = nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  admin = await new KafkaEventStream(brokers.split(',')).admin();
  // Replication factor 3 asked for, not left to the brokers listed: on a loaded machine the
  // controller may fence a slow node for a moment after start, and the default would then be 2
  // (a topic the kill below leaves unwritable). Refused while a node is fenced: tried again.
  for (const deadline = Date.now() + 60_000; ; await sleep(1_000)) {
    try {
      await admin.ensureTopics([
        { topic, partitions: 3, replicationFactor: 3, config: { 'min.insync.replicas': '2' } },
        { topic: `${topic}.dlq` },
      ]);
      break;
    } catch (error) {
      if (!isTributaryError(error, 'TRIB_STREAM_REFUSED') || Date.now() > deadline) throw error;
    }
  }
  db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
  online = new RedisOnlineStore({ clusterNodes: redisClusterNodes.split(','), prefix });
}, 180_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await admin?.close().catch(() => undefined);
  for (const node of nodes) {
    try {
      process.kill(node.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await stopRedisCluster(redisNodes);
  rmSync(runDir, { recursive: true, force: true });
  await online?.close();
  await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db?.end();
});

async function offline(): Promise<{ rows: number; distinct: number }> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS rows, count(DISTINCT avg_daily_trips)::int AS distinct FROM "${schema}"."driver_hourly_stats"`,
  );
  return rows[0] as { rows: number; distinct: number };
}

/** Waits until every partition of the topic is led by a broker still alive. */
async function untilLeaders(): Promise<void> {
  const alive = nodes.slice(1).map((n) => `127.0.0.1:${n.port}`);
  const client = new Kafka({ brokers: alive, logLevel: logLevel.NOTHING }).admin();
  await client.connect();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { topics } = await client.fetchTopicMetadata({ topics: [topic] }).catch(() => ({ topics: [] }));
      const leaders = topics[0]?.partitions.map((p) => p.leader) ?? [];
      if (leaders.length === 3 && leaders.every((id) => id !== 1 && id >= 0)) return;
      if (Date.now() > deadline) throw new Error(`partitions still led by the killed node: ${leaders}`);
      await sleep(500);
    }
  } finally {
    await client.disconnect();
  }
}

describe('a 3-broker Kafka cluster and a Redis Cluster', () => {
  it('lists every broker once it is up, so a new topic gets 3 replicas', async () => {
    // Polled: the broker asked may learn of the new topic a moment after the one that created it.
    await expect
      .poll(() => admin.describeTopics([topic]), { timeout: 10_000 })
      .toEqual([{ topic, partitions: 3, replicationFactor: 3 }]);
  });

  it('loses nothing when a broker is killed under a live stream (replication factor 3)', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'test/support/materializer-child.ts'], {
      env: {
        ...process.env,
        ...services(),
        KAFKA_BROKERS: brokers,
        REDIS_CLUSTER_NODES: redisClusterNodes,
        TEST_TOPIC: topic,
        TEST_SCHEMA: schema,
        TEST_PREFIX: prefix,
        TEST_GROUP: uniqueName('cluster_mat'),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Tributary's own producer (idempotent, one send at a time, serial-producer.ts). With acks=all,
    // a send to a leader whose killed follower is still in its ISR waits until the follower is
    // dropped, the client's request times out and it sends again: the broker must drop that copy.
    // The send timeout is raised past the follower's removal so no send is left to the caller.
    const producer = await new KafkaEventStream(brokers.split(','), undefined, {
      sendTimeoutMs: 60_000,
    }).producer();
    const event = (n: number) => ({
      key: String(n % DRIVERS),
      value: JSON.stringify({
        driver_id: n % DRIVERS,
        event_timestamp: new Date(T0 + n * 1000).toISOString(),
        conv_rate: 0.5,
        acc_rate: 0.9,
        avg_daily_trips: n,
      }),
    });
    let produced = 0;
    const send = async (count: number) => {
      await producer.send(
        topic,
        Array.from({ length: count }, (_, i) => event(produced + i)),
      );
      produced += count;
    };
    // A backlog the materializer is still working through when the broker goes.
    for (let i = 0; i < 40; i++) await send(1_000);
    await expect
      .poll(async () => (await offline().catch(() => ({ rows: 0 }))).rows, { timeout: 90_000, interval: 100 })
      .toBeGreaterThan(0);
    // The broker of node 1 (a leader of some partitions, maybe the group's coordinator) goes hard.
    process.kill(nodes[0]!.pid, 'SIGKILL');
    const killedAt = (await offline()).rows;
    // More events once every partition has a live leader again.
    await untilLeaders();
    for (let i = 0; i < 10; i++) await send(1_000);
    await producer.close();
    expect(killedAt).toBeLessThan(40_000);

    // Until every event is in once; then a pause in which a duplicate would land, before counting.
    await expect
      .poll(async () => (await offline()).distinct, { timeout: 120_000, interval: 500 })
      .toBe(produced);
    await sleep(3_000);
    const counts = await offline();
    console.log(
      `scale: ${JSON.stringify({ scenario: 'kafka/broker-killed', brokers: 3, events: produced, lost: produced - counts.distinct, duplicated: counts.rows - counts.distinct })}`,
    );
    expect(counts).toEqual({ rows: produced, distinct: produced });
    const view = viewLayout(spec.featureViews[0]!, spec.entities);
    const ids = Array.from({ length: DRIVERS }, (_, i) => i);
    const [records] = (await online.read([{ view, keys: ids.map((id) => [BigInt(id)]) }])) as [
      ({ values: unknown[] } | null)[],
    ];
    // Each driver's latest event is the last one produced for it.
    const last = (id: number) => produced - 1 - ((produced - 1 - id) % DRIVERS);
    expect(records.map((r) => r?.values[2])).toEqual(ids.map((id) => BigInt(last(id))));

    // Serving reads the same from the cluster: one lookup spanning its nodes.
    const app = await onlineApp(spec, online);
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/get-online-features',
        payload: {
          features: ['driver_hourly_stats:avg_daily_trips'],
          entities: { driver_id: [0, 1, 299, 300] },
        },
      });
      expect(res.statusCode, res.body).toBe(200);
      const { results } = res.json();
      expect(results[1].values).toEqual([last(0), last(1), last(299), null]);
      expect(results[1].statuses).toEqual(['PRESENT', 'PRESENT', 'PRESENT', 'NOT_FOUND']);
    } finally {
      await app.close();
    }
  }, 300_000);
});
