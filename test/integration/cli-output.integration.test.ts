/**
 * `tributary get-historical-features` writes files the usual tools open: one real training set
 * (the example repository applied, a profile view with string, bool and timestamp features
 * added, feature history in the offline store, 150,000 entity rows from a CSV that mixes ISO and
 * epoch-millisecond timestamps) written as .arrow, .arrows, .parquet and .csv, and each opened
 * by another reader than the one that wrote it: DuckDB (read_parquet, read_csv) and
 * apache-arrow (RecordBatchFileReader for the IPC file, tableFromIPC for the stream). Every row
 * is checked against the point-in-time answer computed here.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { RecordBatchFileReader, RecordBatchStreamReader, type Table, tableFromIPC } from 'apache-arrow';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewLayout } from '../../shared/model/layout.ts';
import { openRegistryWatcher } from '../../shared/registry/live.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import { cleanUpCli, cliEnv, exampleRepo, runCli } from '../support/cli.ts';
import { services, uniqueName } from '../support/env.ts';
import { featureRow } from '../support/rows.ts';

const registrySchema = uniqueName('reg_out');
const offlineSchema = uniqueName('off_out');
const prefix = uniqueName('out');
let dir: string;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BASE = Date.UTC(2024, 4, 1); // stats every hour from here, for DRIVERS drivers
const HOURS = 72;
const DRIVERS = 200;
const ROWS = 150_000; // three of retrieval's batches, two Parquet row groups
const SIGNED_UP = Date.UTC(2020, 0, 2, 3, 4, 5, 6);

const env = () => cliEnv({ TRIBUTARY_APPLIED_BY: 'cli-output@test' });
const schemaArgs = () => ['--registry-schema', registrySchema, '--offline-schema', offlineSchema];

// The entity rows, and what each must come back with (stats: ttl 1 day; profile: no ttl).
interface EntityRow {
  driver: number;
  t: number;
  label: number;
}
const entities: EntityRow[] = Array.from({ length: ROWS }, (_, i) => ({
  driver: 1 + ((i * 48271) % (DRIVERS + 10)), // ten drivers without any feature row
  t: BASE - 2 * HOUR + ((i * 2246822519) % ((HOURS + 30) * HOUR)),
  label: i % 3 === 0 ? 5_000_000_000 + i : i % 7, // int64 past 2^32
}));
const convRate = (driver: number, hour: number) => driver / 1000 + hour / 1_000_000;
const trips = (driver: number, hour: number) => driver * 100 + hour;
function expectedStats(row: EntityRow): { conv: number | null; trips: bigint | null } {
  if (row.driver > DRIVERS) return { conv: null, trips: null };
  const hour = Math.floor((row.t - BASE) / HOUR);
  const latest = Math.min(hour, HOURS - 1);
  // The latest stats row at or before t, inside the ttl (event_timestamp > t - 1 day).
  if (latest < 0 || BASE + latest * HOUR <= row.t - DAY) return { conv: null, trips: null };
  return { conv: convRate(row.driver, latest), trips: BigInt(trips(row.driver, latest)) };
}
const city = (driver: number) =>
  driver % 5 === 0 ? 'São Paulo, "SP"' : driver % 5 === 1 ? null : `city ${driver}`;

function entitiesCsv(): string {
  const lines = ['driver_id,event_timestamp,label'];
  entities.forEach((e, i) => {
    // ISO strings and epoch milliseconds mixed in the one column, as JSON allows.
    lines.push(`${e.driver},${i % 2 === 0 ? new Date(e.t).toISOString() : e.t},${e.label}`);
  });
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  dir = await exampleRepo(prefix);
  await writeFile(
    path.join(dir, 'profile.ts'),
    `import { featureView } from 'tributary';
import { driver, driverStatsSource } from './driver.ts';
export const driverProfile = featureView({
  name: 'driver_profile',
  entities: [driver],
  source: driverStatsSource,
  schema: { city: 'string', active: 'bool', signed_up: 'timestamp', rating: 'float64' },
  online: false,
});
`,
  );
  const applied = await runCli(['apply', '--repo', dir, ...schemaArgs()], env());
  expect(applied.code, applied.stderr).toBe(0);

  const pool = new pg.Pool({ connectionString: services().DATABASE_URL, max: 2 });
  try {
    const registry = await openRegistryWatcher({
      databaseUrl: services().DATABASE_URL,
      pool: pool as never,
      schema: registrySchema,
    });
    const spec = registry.current();
    await registry.close();
    const layout = (name: string) =>
      viewLayout(spec.featureViews.find((v) => v.name === name)!, spec.entities);
    const offline = new PostgresOfflineStore({ pool: pool as never, schema: offlineSchema });
    const stats = [];
    for (let d = 1; d <= DRIVERS; d++) {
      for (let h = 0; h < HOURS; h++) {
        stats.push(featureRow([BigInt(d)], BASE + h * HOUR, [convRate(d, h), d / 2000, BigInt(trips(d, h))]));
      }
    }
    await offline.write(layout('driver_hourly_stats'), stats);
    const profiles = [];
    for (let d = 1; d <= DRIVERS; d++) {
      profiles.push(
        featureRow([BigInt(d)], BASE - 30 * DAY, [
          city(d),
          d % 2 === 0,
          d % 3 === 0 ? null : SIGNED_UP,
          d / 10,
        ]),
      );
    }
    await offline.write(layout('driver_profile'), profiles);
  } finally {
    await pool.end();
  }
  await writeFile(path.join(dir, 'entities.csv'), entitiesCsv());
}, 180_000);

afterAll(async () => {
  await cleanUpCli({ dir, schemas: [registrySchema, offlineSchema], topicPrefix: prefix });
});

const FEATURES = [
  'driver_hourly_stats:conv_rate',
  'driver_hourly_stats:avg_daily_trips',
  'driver_profile:city',
  'driver_profile:active',
  'driver_profile:signed_up',
];
const COLUMNS = [
  'driver_id',
  'event_timestamp',
  'label',
  'conv_rate',
  'avg_daily_trips',
  'city',
  'active',
  'signed_up',
];

async function retrieve(file: string) {
  const output = path.join(dir, file);
  const result = await runCli(
    [
      'get-historical-features',
      ...schemaArgs(),
      '--entities',
      path.join(dir, 'entities.csv'),
      '--features',
      FEATURES.join(','),
      '--output',
      output,
    ],
    env(),
  );
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toContain(`wrote ${ROWS} rows to ${output}`);
  return output;
}

/** Every row against the expected point-in-time answer; `get(name, i)` reads a cell as JS. */
function checkRows(get: (column: string, row: number) => unknown, count: number): void {
  expect(count).toBe(ROWS);
  for (let i = 0; i < ROWS; i++) {
    const e = entities[i]!;
    const { conv, trips: t } = expectedStats(e);
    const known = e.driver <= DRIVERS;
    const row = {
      driver_id: get('driver_id', i),
      event_timestamp: get('event_timestamp', i),
      label: get('label', i),
      conv_rate: get('conv_rate', i),
      avg_daily_trips: get('avg_daily_trips', i),
      city: get('city', i),
      active: get('active', i),
      signed_up: get('signed_up', i),
    };
    const expected = {
      driver_id: BigInt(e.driver),
      event_timestamp: e.t,
      label: BigInt(e.label),
      conv_rate: conv,
      avg_daily_trips: t,
      city: known ? city(e.driver) : null,
      active: known ? e.driver % 2 === 0 : null,
      signed_up: known && e.driver % 3 !== 0 ? SIGNED_UP : null,
    };
    // One toEqual per row would take minutes over 150,000 rows; compare, then report the first.
    for (const [k, v] of Object.entries(expected)) {
      if ((row as Record<string, unknown>)[k] !== v)
        expect({ row: i, ...row }).toEqual({ row: i, ...expected });
    }
  }
}

/** An Arrow table's cells as the JS values checkRows compares (timestamps as epoch ms). */
function arrowGetter(table: Table): (column: string, row: number) => unknown {
  const columns = new Map(COLUMNS.map((c) => [c, table.getChild(c)!]));
  return (column, row) => {
    const v = columns.get(column)!.get(row);
    return v ?? null;
  };
}

function checkArrowSchema(table: Table): void {
  expect(table.schema.fields.map((f) => `${f.name}: ${String(f.type)}`)).toEqual([
    'driver_id: Int64',
    'event_timestamp: Timestamp<MICROSECOND, UTC>',
    'label: Int64',
    'conv_rate: Float64',
    'avg_daily_trips: Int64',
    'city: Utf8',
    'active: Bool',
    'signed_up: Timestamp<MICROSECOND, UTC>',
  ]);
}

async function duck(sql: string) {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return {
      types: Object.fromEntries(reader.columnNames().map((n, i) => [n, String(reader.columnTypes()[i])])),
      rows: reader.getRowObjectsJS(),
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** DuckDB rows in file order, as checkRows compares them. */
function duckGetter(rows: Record<string, unknown>[]): (column: string, row: number) => unknown {
  return (column, row) => {
    const v = rows[row]![column];
    if (v instanceof Date) return v.getTime();
    return v ?? null;
  };
}

describe('tributary get-historical-features output files', () => {
  it('writes .arrow as an Arrow IPC file (Feather v2), which RecordBatchFileReader opens', async () => {
    const bytes = await readFile(await retrieve('training.arrow'));
    expect(bytes.subarray(0, 6).toString()).toBe('ARROW1');
    expect(bytes.subarray(-6).toString()).toBe('ARROW1');
    const reader = RecordBatchFileReader.from(bytes).open();
    expect(reader.isFile()).toBe(true);
    const table = tableFromIPC(bytes);
    expect(reader.numRecordBatches).toBe(Math.ceil(ROWS / 65_536));
    checkArrowSchema(table);
    checkRows(arrowGetter(table), table.numRows);
  }, 120_000);

  it('writes .arrows as an Arrow IPC stream', async () => {
    const bytes = await readFile(await retrieve('training.arrows'));
    expect(RecordBatchStreamReader.from(bytes).isStream()).toBe(true);
    const table = tableFromIPC(bytes);
    checkArrowSchema(table);
    checkRows(arrowGetter(table), table.numRows);
  }, 120_000);

  it('writes .parquet, which DuckDB reads with its types (int64 labels, UTC timestamps), in row groups', async () => {
    const file = await retrieve('training.parquet');
    const { types, rows } = await duck(`SELECT * FROM read_parquet('${file}')`);
    expect(types).toEqual({
      driver_id: 'BIGINT',
      event_timestamp: 'TIMESTAMP WITH TIME ZONE',
      label: 'BIGINT',
      conv_rate: 'DOUBLE',
      avg_daily_trips: 'BIGINT',
      city: 'VARCHAR',
      active: 'BOOLEAN',
      signed_up: 'TIMESTAMP WITH TIME ZONE',
    });
    checkRows(duckGetter(rows), rows.length);
    const groups = await duck(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata('${file}')`);
    expect(groups.rows[0]!['n']).toBe(2n);
  }, 120_000);

  it('writes .csv (RFC 4180, ISO timestamps with Z, nulls as empty fields), which DuckDB read_csv reads back', async () => {
    const file = await retrieve('training.csv');
    const text = await readFile(file, 'utf8');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(COLUMNS.join(','));
    expect(lines.at(-1)).toBe(''); // the last record ends with CRLF too
    expect(text).toContain('"São Paulo, ""SP"""');
    expect(text).toContain(',2020-01-02T03:04:05.006Z');
    const { types, rows } = await duck(`SELECT * FROM read_csv('${file}')`);
    // Nothing told: DuckDB's sniffer finds every type, timestamps with their zone.
    expect(types).toEqual({
      driver_id: 'BIGINT',
      event_timestamp: 'TIMESTAMP WITH TIME ZONE',
      label: 'BIGINT',
      conv_rate: 'DOUBLE',
      avg_daily_trips: 'BIGINT',
      city: 'VARCHAR',
      active: 'BOOLEAN',
      signed_up: 'TIMESTAMP WITH TIME ZONE',
    });
    checkRows(duckGetter(rows), rows.length);
  }, 120_000);

  it('refuses an --output extension it does not know, before touching the database, and leaves no partial file', async () => {
    const result = await runCli(
      ['get-historical-features', '--entities', 'x.csv', '--features', FEATURES[0]!, '--output', 'out.json'],
      env(),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--output must end in .arrow, .feather, .arrows, .parquet, .csv');
    expect((await readdir(dir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});
