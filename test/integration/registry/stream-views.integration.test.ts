/**
 * Stream feature views through apply on real Postgres and Kafka: recorded as registry objects
 * of their own kind, read back unchanged, an unchanged re-apply records nothing, a changed
 * aggregation is refused as breaking and an added one is applied.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AggregationInput,
  entity,
  kafkaSource,
  streamFeatureView,
} from '../../../shared/definitions/declare.ts';
import type { RepoSpec } from '../../../shared/definitions/types.ts';
import { resolveRepo } from '../../../shared/definitions/validate.ts';
import { applyRepo } from '../../../shared/registry/apply.ts';
import { PostgresRegistry } from '../../../shared/registry/postgres.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { StreamAdmin } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';

const schema = uniqueName('reg_stream');
const offlineSchema = uniqueName('off_stream');
const prefix = uniqueName('reg_stream');

function repo(aggregations: AggregationInput[]): RepoSpec {
  const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });
  const trips = kafkaSource({ name: 'trips', topic: `${prefix}.trips` });
  const view = streamFeatureView({
    name: 'driver_trip_stats',
    entities: [driver],
    source: trips,
    schema: { fare: 'float64', rating: 'int64' },
    aggregations,
  });
  return resolveRepo([driver, trips, view].map((declaration) => ({ declaration, file: 'defs.ts' })));
}

const BASE: AggregationInput[] = [
  { column: 'fare', function: 'sum', window: '1h', resolution: '1m' },
  { column: 'rating', function: 'last', window: '7d', name: 'last_rating' },
];

let admin: StreamAdmin;
let db: pg.Client;
let registry: PostgresRegistry;
let offline: PostgresOfflineStore;

beforeAll(async () => {
  admin = await new KafkaEventStream(services().KAFKA_BROKERS.split(',')).admin();
  db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
  registry = new PostgresRegistry({ connectionString: services().DATABASE_URL, schema });
  offline = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema: offlineSchema });
});

afterAll(async () => {
  await registry?.close();
  await offline?.close();
  await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db?.query(`DROP SCHEMA IF EXISTS "${offlineSchema}" CASCADE`);
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  await admin.deleteTopics(topics).catch(() => undefined);
  await admin?.close();
  await db?.end();
});

describe('apply with a stream feature view', () => {
  const apply = (spec: RepoSpec, allowBreaking = false) =>
    applyRepo(spec, { registry, offline, admin }, { allowBreaking, appliedBy: 'tester@ci' });

  it('records it, reads it back, and plans its aggregations', async () => {
    const spec = repo(BASE);
    const first = await apply(spec);
    expect(first.changed).toBe(true);
    expect(first.plan.changes.map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      'add entity driver',
      'add kafkaSource trips',
      'add streamFeatureView driver_trip_stats',
    ]);
    const objects = await db.query<{ kind: string; name: string; spec: unknown }>(
      `SELECT kind, name, spec FROM "${schema}".objects WHERE kind = 'streamFeatureView'`,
    );
    expect(objects.rows).toEqual([
      { kind: 'streamFeatureView', name: 'driver_trip_stats', spec: spec.streamFeatureViews![0] },
    ]);
    expect((await registry.latest())?.spec).toEqual(spec);
    // Its raw events' table, from which historical retrieval aggregates.
    expect(first.ensuredTables).toEqual(['driver_trip_stats']);
    expect(first.plan.tables).toEqual([{ view: 'driver_trip_stats', action: 'create', reason: 'new view' }]);
    const columns = await db.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'driver_trip_stats'`,
      [offlineSchema],
    );
    expect(columns.rows.map((r) => r.column_name)).toEqual(
      expect.arrayContaining(['driver_id', 'fare', 'rating']),
    );

    expect((await apply(repo(BASE))).changed).toBe(false);

    const changed = repo([{ ...BASE[0]!, window: '2h' }, BASE[1]!]);
    await expect(apply(changed)).rejects.toMatchObject({ code: 'TRIB_BREAKING_CHANGE' });
    expect((await registry.latest())?.spec).toEqual(spec);

    const added = await apply(repo([...BASE, { column: 'fare', function: 'count', window: '1d' }]));
    expect(added.changed).toBe(true);
    expect(added.plan.breaking).toBe(false);
    expect((await registry.latest())?.spec.streamFeatureViews?.[0]?.aggregations.map((a) => a.name)).toEqual([
      'fare_sum_1h',
      'last_rating',
      'fare_count_1d',
    ]);
  });
});
