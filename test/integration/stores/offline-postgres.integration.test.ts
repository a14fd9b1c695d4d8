import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../../fixtures/postgres.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { type ViewLayout, viewLayout } from '../../../shared/model/layout.ts';
import type { PgClient, PgPool } from '../../../shared/postgres/index.ts';
import { PostgresOfflineStore } from '../../../shared/stores/offline/postgres/index.ts';
import { services, uniqueName } from '../../support/env.ts';
import { closedPort } from './closed-port.ts';
import { describeOfflineStorePort, driverStats, FEB_1, JAN_31_LATE, row } from './offline-port.suite.ts';

const schema = uniqueName('offline');
let inspector: pg.Pool | undefined;
const sharedDb = () => {
  inspector ??= new pg.Pool({ connectionString: services().DATABASE_URL, max: 2 });
  return inspector;
};
afterAll(async () => {
  await sharedDb().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await sharedDb().end();
});

describeOfflineStorePort('PostgresOfflineStore', {
  create: () => new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema }),
  unreachable: async () =>
    new PostgresOfflineStore({
      connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/tributary`,
      schema,
    }),
  count: (table) => countRows(sharedDb(), schema, table),
});

describe('PostgresOfflineStore (tables, partitions, faults)', () => {
  let store: PostgresOfflineStore;
  let db: pg.Pool;

  beforeAll(() => {
    store = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema });
    db = sharedDb();
  });
  afterAll(() => store.close());

  async function columns(table: string) {
    const { rows } = await db.query(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [schema, table],
    );
    return rows.map((r) => `${r.column_name} ${r.data_type}${r.is_nullable === 'NO' ? ' not null' : ''}`);
  }

  const count = (table: string) => countRows(db, schema, table);

  it('creates a typed, month-partitioned table with its one index, idempotently', async () => {
    await store.ensureTable(driverStats);
    await store.ensureTable(driverStats);
    expect(await columns('driver_hourly_stats')).toEqual([
      'driver_id bigint not null',
      'event_timestamp timestamp with time zone not null',
      'created timestamp with time zone',
      'conv_rate double precision',
      'acc_rate double precision',
      'avg_daily_trips bigint',
      '_partition integer not null',
      '_offset bigint not null',
      '_ingested_at timestamp with time zone not null',
    ]);
    const { rows: kind } = await db.query(
      `SELECT c.relkind, pg_get_partkeydef(c.oid) AS key FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = 'driver_hourly_stats'`,
      [schema],
    );
    expect(kind).toEqual([{ relkind: 'p', key: 'RANGE (event_timestamp)' }]);
    const { rows: indexes } = await db.query(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1`,
      [schema],
    );
    // One index on the parent: idempotency (unique on keys, times and origin, a null created
    // included) and point-in-time probes (keys, event time, created; the features included).
    const defs = indexes
      .map((r) => r.indexdef as string)
      .filter((d) => d.includes(' ON ONLY ') && d.includes('.driver_hourly_stats '));
    expect(defs).toEqual([
      expect.stringMatching(
        /^CREATE UNIQUE INDEX driver_hourly_stats__row ON ONLY .* USING btree \(driver_id, event_timestamp, created NULLS FIRST, _partition, _offset\) INCLUDE \(conv_rate, acc_rate, avg_daily_trips\) NULLS NOT DISTINCT$/,
      ),
    ]);
  });

  /** A driver-stats table made by hand, as an earlier version made it, with these constraints. */
  async function handMadeTable(name: string, constraints: string): Promise<ViewLayout> {
    await db.query(`CREATE TABLE "${schema}"."${name}" (driver_id bigint NOT NULL, event_timestamp timestamptz NOT NULL,
      created timestamptz, conv_rate double precision, acc_rate double precision, avg_daily_trips bigint,
      _partition integer NOT NULL, _offset bigint NOT NULL, _ingested_at timestamptz NOT NULL DEFAULT now(),
      ${constraints}) PARTITION BY RANGE (event_timestamp)`);
    return { ...driverStats, name };
  }

  async function indexesOf(table: string): Promise<string[]> {
    const { rows } = await db.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1`,
      [schema, table],
    );
    return rows.map((r) => r.indexname as string);
  }

  /** Writes two rows, then the same batch again as a restarted materializer would: nothing added. */
  async function expectReplaySkipped(view: ViewLayout): Promise<void> {
    const batch = [row(1n, FEB_1, [0.1, 0.2, 1n]), row(2n, FEB_1 + 1, [0.3, 0.4, 2n])];
    expect(await store.write(view, batch)).toBe(2);
    await db.query(`DELETE FROM "${schema}"."__tributary_progress" WHERE view = $1`, [view.name]);
    expect(await store.write(view, batch)).toBe(0);
    expect(await count(view.name)).toBe(2);
  }

  it('keeps a table of the earlier two-index layout working: no migration, replays still skipped', async () => {
    const view = await handMadeTable(
      'legacy_layout',
      'CONSTRAINT legacy_layout__origin UNIQUE (event_timestamp, _partition, _offset)',
    );
    await store.ensureTable(view);
    await store.ensureTable(view);
    expect(await indexesOf('legacy_layout')).toEqual(['legacy_layout__origin', 'legacy_layout__pit']);
    await expectReplaySkipped(view);
  });

  it('keeps a table of the earlier one-constraint layout (created not in the key) as it is', async () => {
    const view = await handMadeTable(
      'constraint_layout',
      `CONSTRAINT constraint_layout__row UNIQUE (driver_id, event_timestamp, _partition, _offset)
        INCLUDE (created, conv_rate, acc_rate, avg_daily_trips)`,
    );
    await store.ensureTable(view);
    expect(await indexesOf('constraint_layout')).toEqual(['constraint_layout__row']);
    await expectReplaySkipped(view);
  });

  it('moves the row index with an archived table, so the view starts afresh with its own', async () => {
    const view: ViewLayout = { ...driverStats, name: 'rearchived' };
    await store.ensureTable(view);
    const archived = await store.archiveTable(view.name, 'test');
    await store.ensureTable(view);
    const { rows } = await db.query(
      `SELECT tablename, indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE 'rearchived%__row' ORDER BY 1`,
      [schema],
    );
    expect(rows).toEqual([
      { tablename: 'rearchived', indexname: 'rearchived__row' },
      { tablename: archived, indexname: `${archived}__row` },
    ]);
  });

  it('renames the constraints and indexes of earlier layouts with an archived table', async () => {
    const twoIndex = await handMadeTable(
      'old_two',
      'CONSTRAINT old_two__origin UNIQUE (event_timestamp, _partition, _offset)',
    );
    const oneConstraint = await handMadeTable(
      'old_one',
      'CONSTRAINT old_one__row UNIQUE (driver_id, event_timestamp, _partition, _offset) INCLUDE (created)',
    );
    await store.ensureTable(twoIndex);
    for (const view of [twoIndex, oneConstraint]) {
      const archived = (await store.archiveTable(view.name, 'test'))!;
      const { rows } = await db.query(
        `SELECT conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [schema, archived],
      );
      const suffix = view === twoIndex ? '__origin' : '__row';
      expect(rows.map((r) => r.conname)).toEqual([`${archived}${suffix}`]);
      expect(await indexesOf(archived)).toEqual(
        view === twoIndex ? [`${archived}__origin`, `${archived}__pit`] : [`${archived}__row`],
      );
      // The view's names are free again: it starts afresh in this version's layout.
      await store.ensureTable(view);
      expect(await indexesOf(view.name)).toEqual([`${view.name}__row`]);
    }
  });

  it('adds missing feature columns to an existing table and refuses a changed type', async () => {
    const view: ViewLayout = { ...driverStats, name: 'evolving' };
    await store.ensureTable(view);
    const wider: ViewLayout = {
      ...view,
      features: [...view.features, { name: 'city', type: 'string' }, { name: 'active', type: 'bool' }],
    };
    await store.ensureTable(wider);
    expect((await columns('evolving')).slice(-2)).toEqual(['city text', 'active boolean']);
    expect(await store.write(wider, [row(1n, FEB_1, [0.5, 0.25, 3n, 'Lyon', true])])).toBe(1);

    const retyped: ViewLayout = { ...wider, features: [{ name: 'conv_rate', type: 'string' }] };
    const error = await store.ensureTable(retyped).catch((e: unknown) => e);
    expect(isTributaryError(error, 'TRIB_BREAKING_CHANGE')).toBe(true);
  });

  it('creates monthly partitions on demand across a month boundary', async () => {
    const view: ViewLayout = { ...driverStats, name: 'monthly' };
    await store.ensureTable(view);
    const written = await store.write(view, [
      row(1n, JAN_31_LATE, [0.1, 0.2, 1n]),
      row(1n, FEB_1, [0.3, 0.4, 2n]),
      row(2n, FEB_1 + 1, [0.5, 0.6, 3n]),
    ]);
    expect(written).toBe(3);
    const { rows } = await db.query(
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM "${schema}".monthly GROUP BY 1 ORDER BY 1`,
    );
    expect(rows).toEqual([
      { part: `${schema}.monthly__p202601`, n: 1 },
      { part: `${schema}.monthly__p202602`, n: 2 },
    ]);
    // A second store (another process) finds the partitions already there.
    const other = new PostgresOfflineStore({ connectionString: services().DATABASE_URL, schema });
    try {
      expect(await other.write(view, [row(3n, JAN_31_LATE - 1, [0, 0, 0n])])).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('round-trips every value type exactly, nulls included', async () => {
    const view: ViewLayout = {
      name: 'typed',
      joinKeys: [
        { name: 'user_id', type: 'string' },
        { name: 'shard', type: 'int64' },
      ],
      features: [
        { name: 'big', type: 'int64' },
        { name: 'ratio', type: 'float64' },
        { name: 'note', type: 'string' },
        { name: 'flag', type: 'bool' },
        { name: 'seen_at', type: 'timestamp' },
      ],
      ttlMs: 0,
    };
    await store.ensureTable(view);
    const awkward = 'tab\there\nnew line \\N back\\slash "quoted" \'single\' ünïcødé';
    const huge = 'é🙂'.repeat(50_000);
    await store.write(view, [
      {
        keys: ['u\t1', 9007199254740993n],
        eventTimestamp: FEB_1 + 123,
        created: FEB_1 + 456,
        values: [9007199254740993n, 0.1 + 0.2, awkward, false, Date.UTC(1999, 11, 31, 23, 59, 59, 1)],
        origin: { topic: 't', partition: 3, offset: '9007199254740993' },
      },
      {
        keys: ['u2', -1n],
        eventTimestamp: FEB_1,
        created: null,
        values: [null, null, null, null, null],
        origin: { topic: 't', partition: 3, offset: '1' },
      },
      {
        // Past ±2^53 µs from 2000 and longer than one COPY chunk (256 KiB).
        keys: ['u3', -9223372036854775808n],
        eventTimestamp: FEB_1,
        created: null,
        values: [-9223372036854775808n, -0, huge, true, Date.parse('0001-01-01T00:00:00Z')],
        origin: { topic: 't', partition: 3, offset: '2' },
      },
      {
        keys: ['u4', 0n],
        eventTimestamp: FEB_1,
        created: null,
        values: [9223372036854775807n, Number.MAX_VALUE, '', true, Date.UTC(9999, 11, 31, 23, 59, 59, 999)],
        origin: { topic: 't', partition: 3, offset: '3' },
      },
    ]);
    const { rows } = await db.query(
      `SELECT user_id, shard::text, big::text, ratio, note, flag, seen_at, event_timestamp, created, _partition, _offset::text
         FROM "${schema}".typed WHERE _offset IN (1, 9007199254740993) ORDER BY _offset`,
    );
    expect(rows).toEqual([
      {
        user_id: 'u2',
        shard: '-1',
        big: null,
        ratio: null,
        note: null,
        flag: null,
        seen_at: null,
        event_timestamp: new Date(FEB_1),
        created: null,
        _partition: 3,
        _offset: '1',
      },
      {
        user_id: 'u\t1',
        shard: '9007199254740993',
        big: '9007199254740993',
        ratio: 0.1 + 0.2,
        note: awkward,
        flag: false,
        seen_at: new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 1)),
        event_timestamp: new Date(FEB_1 + 123),
        created: new Date(FEB_1 + 456),
        _partition: 3,
        _offset: '9007199254740993',
      },
    ]);
    // Outside Date's year 0001..9999 round trip through node-postgres: read as text.
    const { rows: extremes } = await db.query(
      `SELECT big::text, ratio, length(note) AS chars, note = $1 AS same, flag, to_char(seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US BC') AS seen
         FROM "${schema}".typed WHERE _offset IN (2, 3) ORDER BY _offset`,
      [huge],
    );
    expect(extremes).toEqual([
      {
        big: '-9223372036854775808',
        ratio: -0,
        chars: huge.length - 50_000,
        same: true,
        flag: true,
        seen: '0001-01-01 00:00:00.000000 AD',
      },
      {
        big: '9223372036854775807',
        ratio: Number.MAX_VALUE,
        chars: 0,
        same: false,
        flag: true,
        seen: '9999-12-31 23:59:59.999000 AD',
      },
    ]);
  });

  it('writes views whose rows are too wide for the index to carry every feature', async () => {
    const wide: ViewLayout = {
      name: 'wide',
      joinKeys: [{ name: 'id', type: 'string' }],
      features: Array.from({ length: 400 }, (_, i) => ({ name: `f${i}`, type: 'float64' as const })),
      ttlMs: 0,
    };
    await store.ensureTable(wide);
    const values = wide.features.map((_, i) => i + 0.5);
    const written = await store.write(wide, [
      {
        keys: ['k'.repeat(512)],
        eventTimestamp: FEB_1,
        created: FEB_1,
        values,
        origin: { topic: 't', partition: 0, offset: '0' },
      },
    ]);
    expect(written).toBe(1);
    const { rows } = await db.query(`SELECT f0, f399 FROM "${schema}".wide`);
    expect(rows).toEqual([{ f0: 0.5, f399: 399.5 }]);
  });

  it('skips stored rows even when the progress hint is lost, and keeps rows of a recreated topic', async () => {
    const view: ViewLayout = { ...driverStats, name: 'progress_hint' };
    await store.ensureTable(view);
    const at = (origin: number, ts: number) => ({
      ...row(1n, ts, [0.1, 0.2, 1n]),
      origin: { topic: 'recreated', partition: 3, offset: String(origin) },
    });
    const batch = Array.from({ length: 10 }, (_, i) => at(i, FEB_1 + i));
    expect(await store.write(view, batch)).toBe(10);
    const progress = () =>
      db.query(
        `SELECT last_offset::int AS o FROM "${schema}"."__tributary_progress" WHERE view = $1 AND topic = 'recreated'`,
        [view.name],
      );
    expect((await progress()).rows).toEqual([{ o: 9 }]);

    // Without the hint the batch looks new, takes the direct COPY, meets the origin constraint
    // and falls back to the checked path: still nothing added.
    await db.query(`DELETE FROM "${schema}"."__tributary_progress" WHERE view = $1`, [view.name]);
    expect(await store.write(view, batch)).toBe(0);
    expect((await progress()).rows).toEqual([{ o: 9 }]);

    // A topic deleted and recreated starts again at offset 0: its events are new rows, not replays.
    const recreated = Array.from({ length: 10 }, (_, i) => at(i, FEB_1 + 1_000 + i));
    expect(await store.write(view, recreated)).toBe(10);
    expect(await count('progress_hint')).toBe(20);
  });

  it('archives a table with its data and partitions, then starts the view afresh', async () => {
    const view: ViewLayout = { ...driverStats, name: 'archived_view' };
    await store.ensureTable(view);
    await store.write(view, [row(1n, JAN_31_LATE, [0.1, 0.2, 1n]), row(1n, FEB_1, [0.3, 0.4, 2n])]);

    const name = await store.archiveTable(view.name, 'avg_daily_trips changed type');
    expect(name).toMatch(/^archived_view__archived_\d{14}$/);
    expect(await count(name!)).toBe(2);
    const { rows: parts } = await db.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`,
      [`"${schema}"."${name}"`],
    );
    expect(parts.map((p) => p.relname)).toEqual([`${name}__p202601`, `${name}__p202602`]);
    const { rows: comment } = await db.query(`SELECT obj_description($1::regclass) AS c`, [
      `"${schema}"."${name}"`,
    ]);
    expect(comment[0].c).toMatch(/avg_daily_trips changed type/);
    const { rows: gone } = await db.query(`SELECT to_regclass($1) AS t`, [`"${schema}"."archived_view"`]);
    expect(gone[0].t).toBeNull();

    // The same store writes to the new table's partitions, not to the archived ones it cached.
    await store.ensureTable(view);
    expect(await store.write(view, [row(1n, FEB_1 + 5, [0.5, 0.6, 3n])])).toBe(1);
    expect(await count('archived_view')).toBe(1);
    expect(await count(name!)).toBe(2);

    expect(await store.archiveTable('never_created', 'removed')).toBeNull();
  });

  it('fails retriably when its connection is killed mid-batch, commits nothing, and recovers', async () => {
    const view: ViewLayout = { ...driverStats, name: 'killed' };
    await store.ensureTable(view);
    const real = new pg.Pool({ connectionString: services().DATABASE_URL, max: 2 });
    real.on('error', () => {});
    let kill = true;
    // Fault injection only: the real connection's backend is terminated just before the INSERT.
    const faulty: PgPool = {
      query: ((text: string, values?: unknown[]) => real.query(text, values)) as PgPool['query'],
      end: () => real.end(),
      async connect() {
        const client = await real.connect();
        client.on('error', () => {});
        const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
        const query = client.query.bind(client) as (...args: unknown[]) => unknown;
        const wrapped = {
          release: (error?: Error | boolean) => client.release(error),
          on: (event: 'error', listener: (error: Error) => void) => client.on(event, listener),
          off: (event: 'error', listener: (error: Error) => void) => client.off(event, listener),
          query: ((...args: unknown[]) => {
            if (kill && typeof args[0] === 'string' && args[0].startsWith('INSERT INTO')) {
              kill = false;
              return db.query('SELECT pg_terminate_backend($1)', [rows[0].pid]).then(() => query(...args));
            }
            return query(...args);
          }) as PgClient['query'],
        };
        return wrapped;
      },
    };
    const flaky = new PostgresOfflineStore({ pool: faulty, schema });
    const batch = [row(1n, FEB_1, [0.1, 0.2, 1n]), row(2n, FEB_1, [0.1, 0.2, 1n])];
    const error = await flaky.write(view, batch).catch((e: unknown) => e);
    expect(isTributaryError(error, 'TRIB_OFFLINE_STORE_UNAVAILABLE')).toBe(true);
    expect(await count('killed')).toBe(0);
    expect(await flaky.write(view, batch)).toBe(2);
    await real.end();
  });
});

describe('viewLayout', () => {
  const driver = { kind: 'entity', name: 'driver', joinKey: 'driver_id', valueType: 'int64' } as const;
  const view = {
    kind: 'featureView',
    name: 'driver_hourly_stats',
    entities: ['driver'],
    source: 'driver_stats_source',
    schema: [{ name: 'conv_rate', type: 'float64' }],
    ttlMs: 86_400_000,
    online: true,
    offline: true,
  } as const;

  it('resolves entity names to typed join keys', () => {
    expect(viewLayout({ ...view, entities: [...view.entities], schema: [...view.schema] }, [driver])).toEqual(
      {
        name: 'driver_hourly_stats',
        joinKeys: [{ name: 'driver_id', type: 'int64' }],
        features: [{ name: 'conv_rate', type: 'float64' }],
        ttlMs: 86_400_000,
      },
    );
  });

  it('rejects an unknown entity and a feature that clashes with a key or a reserved column', () => {
    const cases = [
      { ...view, entities: ['rider'], schema: [...view.schema] },
      { ...view, entities: [...view.entities], schema: [{ name: 'driver_id', type: 'int64' as const }] },
      { ...view, entities: [...view.entities], schema: [{ name: 'created', type: 'timestamp' as const }] },
    ];
    for (const spec of cases) {
      let error: unknown;
      try {
        viewLayout(spec, [driver]);
      } catch (e) {
        error = e;
      }
      expect(isTributaryError(error, 'TRIB_DEFINITION_INVALID')).toBe(true);
    }
  });
});
