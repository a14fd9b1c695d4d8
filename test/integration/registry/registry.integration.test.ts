import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../../fixtures/postgres.ts';
import {
  entity,
  featureService,
  featureView,
  kafkaSource,
  monitor,
  pushSource,
} from '../../../shared/definitions/declare.ts';
import type { RepoSpec, ValueType } from '../../../shared/definitions/types.ts';
import { type LocatedDeclaration, resolveRepo } from '../../../shared/definitions/validate.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { viewLayout } from '../../../shared/model/layout.ts';
import { applyRepo, planRepo } from '../../../shared/registry/apply.ts';
import { RegistryWatcher } from '../../../shared/registry/live.ts';
import { PostgresRegistry } from '../../../shared/registry/postgres.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { PROGRESS_TABLE } from '../../../shared/stores/offline/postgres/sql.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { StreamAdmin } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';

/** A repository like the example one, on this test's own topics, with knobs for changes. */
function repoSpec(
  prefix: string,
  options: { tripsType?: ValueType; withView?: boolean; ttl?: `${number}d` } = {},
): RepoSpec {
  const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });
  const source = kafkaSource({ name: 'driver_stats_source', topic: `${prefix}.driver_stats` });
  const push = pushSource({ name: 'driver_stats_push', batchSource: source });
  const decls: LocatedDeclaration[] = [driver, source, push].map((declaration) => ({
    declaration,
    file: 'defs.ts',
  }));
  if (options.withView !== false) {
    const view = featureView({
      name: 'driver_hourly_stats',
      entities: [driver],
      source: push,
      schema: { conv_rate: 'float64', acc_rate: 'float64', avg_daily_trips: options.tripsType ?? 'int64' },
      ttl: options.ttl ?? '1d',
    });
    decls.push(
      { declaration: view, file: 'defs.ts' },
      { declaration: featureService({ name: 'driver_activity', features: [view] }), file: 'defs.ts' },
      {
        declaration: monitor({
          name: 'driver_model',
          predictionTopic: `${prefix}.predictions`,
          features: [view],
          window: { rows: 5000 },
          retrain: { consecutiveDriftedWindows: 2, cooldown: '1h' },
        }),
        file: 'defs.ts',
      },
    );
  }
  return resolveRepo(decls);
}

let admin: StreamAdmin;
let db: pg.Client;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  admin = await new KafkaEventStream(services().KAFKA_BROKERS.split(',')).admin();
  db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

afterAll(async () => {
  await admin.close();
  await db.end();
});

/** A registry, an offline store and a topic prefix of this test's own, removed afterwards. */
function fixture() {
  const schema = uniqueName('reg');
  const offlineSchema = uniqueName('off');
  const prefix = uniqueName('reg');
  const registry = new PostgresRegistry({ connectionString: services().DATABASE_URL, schema });
  const offline = new PostgresOfflineStore({
    connectionString: services().DATABASE_URL,
    schema: offlineSchema,
  });
  cleanup.push(async () => {
    await registry.close();
    await offline.close();
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.query(`DROP SCHEMA IF EXISTS "${offlineSchema}" CASCADE`);
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.deleteTopics(topics);
  });
  const deps = { registry, offline, admin };
  const apply = (spec: RepoSpec, allowBreaking = false) =>
    applyRepo(spec, deps, { allowBreaking, appliedBy: 'tester@ci' });
  const tables = async () =>
    (
      await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name NOT LIKE '%\\_\\_p%' AND table_name <> $2 ORDER BY 1`,
        // The store's own bookkeeping table is not a view's table.
        [offlineSchema, PROGRESS_TABLE],
      )
    ).rows.map((r) => r.table_name);
  const count = (table: string) => countRows(db, offlineSchema, table);
  return { schema, offlineSchema, prefix, registry, offline, apply, tables, count };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('plan and apply on Postgres and Kafka', () => {
  it('removes the literal webhook keys older versions stored, keeping every secretEnv', async () => {
    const f = fixture();
    const withHook = (spec: RepoSpec): RepoSpec => ({
      ...spec,
      monitors: spec.monitors.map((m) => ({
        ...m,
        webhooks: [
          { url: 'https://hooks.example/a', secretEnv: 'HOOK_KEY' },
          { url: 'https://hooks.example/b' },
        ],
      })),
    });
    await f.apply(withHook(repoSpec(f.prefix)));
    // A version recorded before secretEnv existed: the key itself, in both tables.
    await db.query(
      `UPDATE "${f.schema}".versions SET spec = jsonb_set(spec, '{monitors,0,webhooks,1,secret}', '"old-key"')`,
    );
    await db.query(
      `UPDATE "${f.schema}".objects SET spec = jsonb_set(spec, '{webhooks,1,secret}', '"old-key"') WHERE kind = 'monitor'`,
    );
    // A literal key is refused on the way in, even in a spec built by hand.
    const literal = withHook(repoSpec(f.prefix));
    literal.monitors[0]!.webhooks[0] = { url: 'https://hooks.example/a', secret: 'new-key' };
    expect(await rejection(f.apply(literal))).toMatchObject({ code: 'TRIB_DEFINITION_INVALID' });

    // The next apply, even one that changes nothing, removes the stored keys.
    const again = await f.apply(withHook(repoSpec(f.prefix)));
    expect(again.changed).toBe(false);
    expect(again.scrubbedSecrets).toEqual({ versions: 1, objects: 1 });
    const stored = await db.query<{ t: string }>(
      `SELECT spec::text AS t FROM "${f.schema}".versions UNION ALL SELECT spec::text FROM "${f.schema}".objects`,
    );
    expect(stored.rows.map((r) => r.t).join('\n')).not.toContain('old-key');
    const latest = await f.registry.latest();
    expect(latest!.spec.monitors[0]!.webhooks).toEqual([
      { url: 'https://hooks.example/a', secretEnv: 'HOOK_KEY' },
      { url: 'https://hooks.example/b' },
    ]);
    // Nothing left to remove: the apply after says nothing.
    expect((await f.apply(withHook(repoSpec(f.prefix)))).scrubbedSecrets).toEqual({
      versions: 0,
      objects: 0,
    });
  });

  it('plans, applies, records the version and its objects, and creates topics and tables', async () => {
    const f = fixture();
    const spec = repoSpec(f.prefix);
    const plan = await planRepo(f.registry, spec);
    expect(plan.from).toBeNull();
    expect(plan.changes).toHaveLength(6);
    // plan changes nothing
    expect(await f.registry.latest()).toBeNull();
    expect(await f.tables()).toEqual([]);

    const result = await f.apply(spec);
    expect(result.changed).toBe(true);
    expect(result.version).toMatchObject({ version: 1, hash: plan.hash, appliedBy: 'tester@ci' });
    expect(result.createdTopics).toEqual(
      expect.arrayContaining([
        `${f.prefix}.driver_stats`,
        `${f.prefix}.driver_stats.dlq`,
        `${f.prefix}.predictions`,
      ]),
    );
    const topics = await admin.listTopics();
    for (const topic of [
      `${f.prefix}.driver_stats`,
      `${f.prefix}.driver_stats.dlq`,
      `${f.prefix}.predictions`,
      'tributary.drift',
      'tributary.retrain',
    ]) {
      expect(topics).toContain(topic);
    }
    expect(await f.tables()).toEqual(['driver_hourly_stats']);

    const latest = await f.registry.latest();
    expect(latest?.spec).toEqual(spec);
    expect(latest?.hash).toMatch(/^[0-9a-f]{64}$/);
    const objects = await db.query(
      `SELECT kind, name, version FROM "${f.schema}".objects ORDER BY kind, name`,
    );
    expect(objects.rows.map((r) => `${r.kind}:${r.name}:${r.version}`)).toEqual([
      'entity:driver:1',
      'featureService:driver_activity:1',
      'featureView:driver_hourly_stats:1',
      'kafkaSource:driver_stats_source:1',
      'monitor:driver_model:1',
      'pushSource:driver_stats_push:1',
    ]);
  });

  it('changes nothing when the same repository is applied twice, and says so', async () => {
    const f = fixture();
    await f.apply(repoSpec(f.prefix));
    const again = await f.apply(repoSpec(f.prefix));
    expect(again.changed).toBe(false);
    expect(again.plan.unchanged).toBe(true);
    expect(again.version.version).toBe(1);
    expect(again.createdTopics).toEqual([]);
    expect(await f.registry.history()).toHaveLength(1);
  });

  it('records safe changes as a new version, only the changed objects moving', async () => {
    const f = fixture();
    await f.apply(repoSpec(f.prefix));
    const result = await f.apply(repoSpec(f.prefix, { ttl: '2d' }));
    expect(result.changed).toBe(true);
    expect(result.version.version).toBe(2);
    expect(result.plan.changes.map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      'change featureView driver_hourly_stats',
    ]);
    const moved = await db.query(`SELECT kind, name FROM "${f.schema}".objects WHERE version = 2`);
    expect(moved.rows).toEqual([{ kind: 'featureView', name: 'driver_hourly_stats' }]);
  });

  it('refuses a breaking change without the flag, and archives the old table with it', async () => {
    const f = fixture();
    const v1 = repoSpec(f.prefix);
    await f.apply(v1);
    const view = v1.featureViews[0]!;
    await f.offline.write(viewLayout(view, v1.entities), [
      {
        keys: [1001n],
        eventTimestamp: Date.parse('2024-05-01T10:00:00Z'),
        created: null,
        values: [0.5, 0.9, 12n],
        origin: { topic: `${f.prefix}.driver_stats`, partition: 0, offset: '0' },
      },
    ]);

    const v2 = repoSpec(f.prefix, { tripsType: 'float64' });
    const error = await rejection(f.apply(v2));
    expect(isTributaryError(error, 'TRIB_BREAKING_CHANGE')).toBe(true);
    expect((error as Error).message).toBe(
      "refusing 1 breaking change without --allow-breaking: featureView 'driver_hourly_stats': feature 'avg_daily_trips' changes type from int64 to float64: stored values no longer match",
    );
    expect((await f.registry.latestInfo())?.version).toBe(1);
    expect(await f.tables()).toEqual(['driver_hourly_stats']);
    expect(await f.count('driver_hourly_stats')).toBe(1);

    const result = await f.apply(v2, true);
    expect(result.version.version).toBe(2);
    expect(result.archivedTables).toHaveLength(1);
    const archived = result.archivedTables[0]!.table;
    expect(archived).toMatch(/^driver_hourly_stats__archived_/);
    expect((await f.tables()).sort()).toEqual([archived, 'driver_hourly_stats'].sort());
    expect(await f.count(archived)).toBe(1);
    expect(await f.count('driver_hourly_stats')).toBe(0);
    const types = await db.query(
      `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'driver_hourly_stats' AND column_name = 'avg_daily_trips'`,
      [f.offlineSchema],
    );
    expect(types.rows).toEqual([{ data_type: 'double precision' }]);
    const remembered = await db.query(`SELECT view_name, table_name FROM "${f.schema}".archived_tables`);
    expect(remembered.rows).toEqual([{ view_name: 'driver_hourly_stats', table_name: archived }]);
  });

  it('archives the table of a removed view, never dropping data', async () => {
    const f = fixture();
    const v1 = repoSpec(f.prefix);
    await f.apply(v1);
    await f.offline.write(viewLayout(v1.featureViews[0]!, v1.entities), [
      {
        keys: [7n],
        eventTimestamp: Date.parse('2024-05-01T10:00:00Z'),
        created: null,
        values: [0.1, 0.2, 3n],
        origin: { topic: `${f.prefix}.driver_stats`, partition: 0, offset: '5' },
      },
    ]);
    const removed = repoSpec(f.prefix, { withView: false });
    expect(isTributaryError(await rejection(f.apply(removed)), 'TRIB_BREAKING_CHANGE')).toBe(true);
    const result = await f.apply(removed, true);
    expect(result.plan.changes.filter((c) => c.action === 'remove').map((c) => c.name)).toEqual([
      'driver_hourly_stats',
      'driver_activity',
      'driver_model',
    ]);
    const [archived] = await f.tables();
    expect(archived).toMatch(/^driver_hourly_stats__archived_/);
    expect(await f.count(archived!)).toBe(1);
    const objects = await db.query(`SELECT count(*)::int AS n FROM "${f.schema}".objects`);
    expect(objects.rows[0].n).toBe(3);
  });

  it('never interleaves two applies', async () => {
    const f = fixture();
    const other = new PostgresRegistry({ connectionString: services().DATABASE_URL, schema: f.schema });
    cleanup.push(() => other.close());
    const spec = repoSpec(f.prefix);
    // The same repository from two processes at once: one records it, the other finds it applied.
    const both = await Promise.all([
      f.apply(spec),
      applyRepo(spec, { registry: other, offline: f.offline, admin }, { appliedBy: 'other@ci' }),
    ]);
    expect(both.map((r) => r.changed).sort()).toEqual([false, true]);
    expect(await f.registry.history()).toHaveLength(1);
    // Different repositories at once: two versions, numbered in order.
    await Promise.all([
      f.apply(repoSpec(f.prefix, { ttl: '2d' })),
      applyRepo(repoSpec(f.prefix, { ttl: '3d' }), { registry: other, offline: f.offline, admin }),
    ]);
    expect((await f.registry.history()).map((v) => v.version)).toEqual([3, 2, 1]);
  });

  it('fails with TRIB_REGISTRY_CONFLICT when another apply holds the lock too long', async () => {
    const f = fixture();
    const impatient = new PostgresRegistry({
      connectionString: services().DATABASE_URL,
      schema: f.schema,
      lockTimeoutMs: 200,
    });
    cleanup.push(() => impatient.close());
    let release!: () => void;
    const holding = f.registry.withApplyLock(() => new Promise<void>((resolve) => (release = resolve)));
    await new Promise((r) => setTimeout(r, 200));
    const error = await rejection(impatient.withApplyLock(async () => undefined));
    release();
    await holding;
    expect(isTributaryError(error, 'TRIB_REGISTRY_CONFLICT')).toBe(true);
  });
});

describe('RegistryWatcher', () => {
  const until = async (check: () => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('fails on an empty registry unless told to wait', async () => {
    const f = fixture();
    const error = await rejection(RegistryWatcher.start(f.registry));
    expect(isTributaryError(error, 'TRIB_REGISTRY_EMPTY')).toBe(true);

    const waiting = RegistryWatcher.start(f.registry, { waitForFirstVersion: true });
    await new Promise((r) => setTimeout(r, 100));
    await f.apply(repoSpec(f.prefix));
    const watcher = await waiting;
    cleanup.push(() => watcher.close());
    expect(watcher.version().version).toBe(1);
  });

  it('picks up a new version through NOTIFY without a restart', async () => {
    const f = fixture();
    await f.apply(repoSpec(f.prefix));
    // A long re-check interval: only the notification can bring the news in time.
    const watcher = await RegistryWatcher.start(f.registry, { recheckMs: 600_000 });
    cleanup.push(() => watcher.close());
    expect(watcher.current().featureViews[0]?.ttlMs).toBe(86_400_000);
    const seen: number[] = [];
    watcher.onChange((spec, info) => seen.push(info.version, spec.featureViews[0]!.ttlMs));
    await f.apply(repoSpec(f.prefix, { ttl: '2d' }));
    await until(() => seen.length > 0);
    expect(seen).toEqual([2, 172_800_000]);
    expect(watcher.current().featureViews[0]?.ttlMs).toBe(172_800_000);
    expect(watcher.version().version).toBe(2);
  });

  it('catches up after its notification connection is killed', async () => {
    const f = fixture();
    await f.apply(repoSpec(f.prefix));
    const watcher = await RegistryWatcher.start(f.registry, { recheckMs: 600_000 });
    cleanup.push(() => watcher.close());
    const listening = async () =>
      (
        await db.query(`SELECT pid FROM pg_stat_activity WHERE query = $1`, [`LISTEN "${f.schema}"`])
      ).rows.map((r) => Number(r.pid));
    const [pid] = await listening();
    expect(pid).toBeDefined();
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    // Applied while the watcher is disconnected: the NOTIFY is lost, the reconnect re-checks.
    await f.apply(repoSpec(f.prefix, { ttl: '3d' }));
    await until(() => watcher.version().version === 2, 30_000);
    expect(watcher.current().featureViews[0]?.ttlMs).toBe(259_200_000);
    // And it listens again: the next version arrives by notification.
    await f.apply(repoSpec(f.prefix, { ttl: '4d' }));
    await until(() => watcher.version().version === 3);
  });
});
