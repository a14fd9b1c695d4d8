/**
 * `tributary consistency` as a process, on real Postgres and Redis: trips written to both stores
 * as the materializer writes them agree exactly; an event only one store has is reported as a
 * mismatch with its entity and feature, and the exit status says so.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tripsSpec } from '../../../fixtures/driver-spec.ts';
import { rng } from '../../../fixtures/random.ts';
import { viewLayout } from '../../../shared/model/layout.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import { applyRepo } from '../../../shared/registry/apply.ts';
import { PostgresRegistry } from '../../../shared/registry/postgres.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { StreamAdmin } from '../../../shared/stream/port.ts';
import { runCli } from '../../support/cli.ts';
import { services, uniqueName } from '../../support/env.ts';

const HOUR = 3_600_000;
const registrySchema = uniqueName('reg_consistency');
const offlineSchema = uniqueName('off_consistency');
const prefix = uniqueName('consistency');
const topic = `${prefix}.trips`;
const spec = tripsSpec(topic);
const view = spec.streamFeatureViews![0]!;
const layout = viewLayout(view, spec.entities);

let admin: StreamAdmin;
let registry: PostgresRegistry;
let offline: PostgresOfflineStore;
let online: RedisOnlineStore;
let db: pg.Client;

const args = () => [
  'consistency',
  '--view',
  'driver_trip_stats',
  '--sample',
  '30',
  '--json',
  '--registry-schema',
  registrySchema,
  '--offline-schema',
  offlineSchema,
  '--online-prefix',
  prefix,
];

beforeAll(async () => {
  admin = await new KafkaEventStream(services().KAFKA_BROKERS.split(',')).admin();
  registry = new PostgresRegistry({ connectionString: services().DATABASE_URL, schema: registrySchema });
  offline = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema: offlineSchema });
  online = new RedisOnlineStore({ url: services().REDIS_URL, prefix });
  db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
  await applyRepo(spec, { registry, offline, admin }, { appliedBy: 'tester@ci' });
  // 2,000 trips of 25 drivers over the last 8 days, late ones and nulls among them, in both stores.
  const random = rng(5);
  const now = Date.now();
  const rows: FeatureRow[] = Array.from({ length: 2000 }, (_, i) => {
    const ts = now - 8 * 24 * HOUR + i * 345_000 - (random() < 0.2 ? Math.floor(random() * 2 * HOUR) : 0);
    return {
      keys: [BigInt(1 + Math.floor(random() * 25))],
      eventTimestamp: ts,
      created: random() < 0.5 ? null : ts + 10,
      values: [
        random() < 0.1 ? null : Math.round(random() * 9000) / 100,
        BigInt(1 + Math.floor(random() * 5)),
      ],
      origin: { topic, partition: 0, offset: String(i) },
    };
  });
  for (let i = 0; i < rows.length; i += 250) {
    const batch = rows.slice(i, i + 250);
    await offline.write(layout, batch);
    await online.write(layout, batch);
  }
});

afterAll(async () => {
  await registry?.close();
  await offline?.close();
  await online?.close();
  await db?.query(`DROP SCHEMA IF EXISTS "${registrySchema}" CASCADE`);
  await db?.query(`DROP SCHEMA IF EXISTS "${offlineSchema}" CASCADE`);
  await db?.end();
  await admin?.deleteTopics([topic]).catch(() => undefined);
  await admin?.close();
});

describe('tributary consistency', () => {
  it('finds the two stores equal, value by value', async () => {
    const result = await runCli(args());
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ view: 'driver_trip_stats', entities: 25, features: 7, mismatches: 0 });
    expect(report.compared).toBe(25 * 7);
    expect(report.consistency).toBe(1);
  });

  it('reports an event only the online store has, naming the entity and features', async () => {
    await online.write(layout, [
      {
        keys: [7n],
        eventTimestamp: Date.now() - 60_000,
        created: null,
        values: [1_000_000, 5n],
        origin: { topic, partition: 0, offset: '5000' },
      },
    ]);
    const result = await runCli(args());
    expect(result.code, result.stdout).toBe(1);
    const report = JSON.parse(result.stdout);
    const features = report.details.map((d: { feature: string }) => d.feature).sort();
    // The fare lands in every fare window (min only when it is the least, so not here).
    expect(features).toEqual(
      expect.arrayContaining([
        'driver_trip_stats:fare_count_1d',
        'driver_trip_stats:fare_max_1d',
        'driver_trip_stats:fare_mean_7d',
        'driver_trip_stats:fare_sum_1h',
      ]),
    );
    for (const d of report.details) expect(d.entity).toEqual({ driver_id: '7' });
    expect(report.mismatches).toBe(report.details.length);
  });

  it('refuses a plain or unknown view, and a missing --view', async () => {
    const unknown = await runCli([...args().slice(0, 1), '--view', 'nope', ...args().slice(3)]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('TRIB_UNKNOWN_FEATURE_VIEW');
    const usage = await runCli(['consistency']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--view is required');
  });
});
