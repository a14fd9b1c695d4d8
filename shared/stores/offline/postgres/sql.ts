/**
 * SQL text of the Postgres offline store. Names are always quoted identifiers built here;
 * values are always parameters (the only literal is an archive comment, escaped by
 * `quoteLiteral`). Every builder returns one statement.
 */
import { createHash } from 'node:crypto';
import type { ValueType } from '../../../definitions/types.ts';
import { type ColumnLayout, MAX_JOIN_KEY_BYTES, type ViewLayout } from '../../../model/layout.ts';
import {
  MAX_IDENTIFIER_BYTES,
  PG_TYPES,
  qualified,
  quoteIdent,
  quoteLiteral,
} from '../../../postgres/index.ts';

export { PG_TYPES, qualified, quoteIdent, quoteLiteral, quoteSchema } from '../../../postgres/index.ts';

/**
 * `base + suffix` as a name that fits in 63 bytes: when too long, `base` is cut and a short
 * hash of it keeps derived names of different long bases apart.
 */
export function derivedName(base: string, suffix: string): string {
  const whole = base + suffix;
  if (Buffer.byteLength(whole) <= MAX_IDENTIFIER_BYTES) return whole;
  const hash = createHash('sha1').update(base).digest('hex').slice(0, 8);
  let cut = base;
  while (Buffer.byteLength(`${cut}_${hash}${suffix}`) > MAX_IDENTIFIER_BYTES) cut = cut.slice(0, -1);
  return `${cut}_${hash}${suffix}`;
}

/** Name of the month partition holding `monthStartMs` (UTC): `<table>__p<yyyymm>`. */
export function partitionName(table: string, monthStartMs: number): string {
  const d = new Date(monthStartMs);
  return derivedName(
    table,
    `__p${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}`,
  );
}

/**
 * The one index of a table made by this version (`createRowIndexSql`). Tables made before
 * `created` joined the index key carry a constraint of the same name, `UNIQUE (keys,
 * event_timestamp, _partition, _offset) INCLUDE (created, features)`: still correct, but each
 * probe sorts the rows tied on event time.
 */
export const rowIndexName = (table: string) => derivedName(table, '__row');
/** Earlier layout (tables created before the single index): a point-in-time index ... */
export const pitIndexName = (table: string) => derivedName(table, '__pit');
/** ... and the idempotency constraint UNIQUE (event_timestamp, _partition, _offset). */
export const originConstraintName = (table: string) => derivedName(table, '__origin');

/** Columns written by the store, in COPY order: join keys, times, features, origin. */
export function writtenColumns(view: ViewLayout): string[] {
  return [
    ...view.joinKeys.map((k) => k.name),
    'event_timestamp',
    'created',
    ...view.features.map((f) => f.name),
    '_partition',
    '_offset',
  ];
}

/** Serializes DDL across processes: one transaction-scoped advisory lock per schema. */
export function lockSchemaSql(): string {
  return `SELECT pg_advisory_xact_lock(hashtext('tributary_offline:' || $1::text))`;
}

export function createSchemaSql(schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`;
}

/**
 * The view's parent table: typed join keys, event and creation time, features, origin;
 * partitioned by month. Its one index is made next, by `createRowIndexSql`.
 */
export function createTableSql(schema: string, view: ViewLayout): string {
  const columns = [
    ...view.joinKeys.map((k) => `${quoteIdent(k.name)} ${PG_TYPES[k.type]} NOT NULL`),
    'event_timestamp timestamptz NOT NULL',
    'created timestamptz NULL',
    ...view.features.map((f) => `${quoteIdent(f.name)} ${PG_TYPES[f.type]} NULL`),
    '_partition integer NOT NULL',
    '_offset bigint NOT NULL',
    '_ingested_at timestamptz NOT NULL DEFAULT now()',
  ];
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, view.name)} (\n  ${columns.join(',\n  ')}\n) PARTITION BY RANGE (event_timestamp)`;
}

/** A B-tree entry must fit in a third of an 8 KiB page (2,704 bytes); this leaves room for headers. */
const INDEX_ENTRY_BUDGET = 2_600;
/** Bytes a column takes in an index entry at most (a string join key: its length word and MAX_JOIN_KEY_BYTES). */
const INDEX_BYTES: Record<ValueType, number> = {
  int64: 8,
  float64: 8,
  bool: 1,
  timestamp: 8,
  string: 4 + MAX_JOIN_KEY_BYTES,
};

/** Postgres's limit on an index's columns, INCLUDE ones counted (INDEX_MAX_KEYS). */
const INDEX_MAX_COLUMNS = 32;

/**
 * The features the row index carries (INCLUDE): the fixed-width ones, in schema order, while the
 * index stays within Postgres's 32 columns and a B-tree entry's size limit. Text is left out: one
 * long value would make the entry too large and Postgres would refuse the row (54000), stopping
 * the partition.
 */
export function includedFeatures(view: ViewLayout): ColumnLayout[] {
  let bytes = 8 + 8 + 4 + 8; // event_timestamp, created, _partition, _offset
  for (const key of view.joinKeys) bytes += INDEX_BYTES[key.type];
  const room = INDEX_MAX_COLUMNS - (view.joinKeys.length + 4);
  const included: ColumnLayout[] = [];
  for (const feature of view.features) {
    if (feature.type === 'string') continue;
    bytes += INDEX_BYTES[feature.type];
    if (bytes > INDEX_ENTRY_BUDGET || included.length === room) break;
    included.push(feature);
  }
  return included;
}

/**
 * The table's one index,
 * `UNIQUE (keys…, event_timestamp, created NULLS FIRST, _partition, _offset) INCLUDE (features…) NULLS NOT DISTINCT`,
 * which does both jobs:
 * - idempotency: a replayed row has the same keys, times and origin, so ON CONFLICT skips it (a
 *   view has one source topic, so (partition, offset) names a message; event_timestamp is in the
 *   key because a partitioned table's unique keys must hold the partition key; NULLS NOT DISTINCT
 *   because a row without `created` must still conflict with its replay);
 * - point-in-time probes: a backward scan on (keys, event_timestamp, created) meets the rows at
 *   or before t newest first, ties on event time by greatest `created` (nulls last), which is
 *   the join's order, so a probe is `LIMIT 1` on the index with no sort; INCLUDE carries the
 *   features, so the probe is index-only. Only fixed-width features fit (`includedFeatures`);
 *   probes reading the others, or features added later by ALTER TABLE ADD COLUMN, visit the heap
 *   (see docs/materializer.md).
 * Made in the transaction that creates the table, so no IF NOT EXISTS: a name taken by another
 * table's index must fail loudly, not leave this table without its index.
 * Needs Postgres 15 (NULLS NOT DISTINCT).
 */
export function createRowIndexSql(schema: string, view: ViewLayout): string {
  const keys = [
    ...view.joinKeys.map((k) => quoteIdent(k.name)),
    'event_timestamp',
    'created NULLS FIRST',
    '_partition',
    '_offset',
  ];
  const included = includedFeatures(view).map((f) => quoteIdent(f.name));
  return (
    `CREATE UNIQUE INDEX ${quoteIdent(rowIndexName(view.name))} ON ${qualified(schema, view.name)} ` +
    `(${keys.join(', ')})${included.length > 0 ? ` INCLUDE (${included.join(', ')})` : ''} NULLS NOT DISTINCT`
  );
}

/** Earlier layout only: the point-in-time index of a table that still has the origin constraint. */
export function createPitIndexSql(schema: string, view: ViewLayout): string {
  const keys = view.joinKeys.map((k) => quoteIdent(k.name));
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(pitIndexName(view.name))} ON ${qualified(schema, view.name)} (${[...keys, 'event_timestamp DESC', 'created DESC NULLS LAST'].join(', ')})`;
}

export function addColumnSql(schema: string, table: string, column: string, type: ValueType): string {
  return `ALTER TABLE ${qualified(schema, table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(column)} ${PG_TYPES[type]} NULL`;
}

/** Columns of a table with their types as `format_type` spells them; no rows when the table does not exist. */
export function tableColumnsSql(): string {
  return `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`;
}

/** The server's version as a number (150004 for 15.4). */
export function serverVersionSql(): string {
  return `SELECT current_setting('server_version_num')::int AS version`;
}

export function schemaExistsSql(): string {
  return `SELECT 1 FROM pg_namespace WHERE nspname = $1`;
}

/** Whether a relation (table, partition or index) of that name exists in the schema. */
export function tableExistsSql(): string {
  return `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`;
}

/** Names of a table's partitions. */
export function partitionsSql(): string {
  return `SELECT c.relname AS name
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_namespace n ON n.oid = p.relnamespace
   WHERE n.nspname = $1 AND p.relname = $2`;
}

export function constraintExistsSql(): string {
  return `SELECT 1 FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3`;
}

/** The month partition `[monthStart, nextMonthStart)`; bounds are UTC instants, so the session time zone does not matter. */
export function createPartitionSql(schema: string, table: string, monthStartMs: number): string {
  const from = new Date(monthStartMs);
  const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 1));
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, partitionName(table, monthStartMs))} PARTITION OF ${qualified(schema, table)} FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`;
}

export function renameTableSql(schema: string, from: string, to: string): string {
  return `ALTER TABLE ${qualified(schema, from)} RENAME TO ${quoteIdent(to)}`;
}

export function renameIndexSql(schema: string, from: string, to: string): string {
  return `ALTER INDEX IF EXISTS ${qualified(schema, from)} RENAME TO ${quoteIdent(to)}`;
}

export function commentOnTableSql(schema: string, table: string, comment: string): string {
  return `COMMENT ON TABLE ${qualified(schema, table)} IS ${quoteLiteral(comment)}`;
}

/** A session-local staging table for one column layout; ON COMMIT DELETE ROWS empties it after each batch. */
export function stagingTableName(view: ViewLayout): string {
  const shape = [...view.joinKeys, ...view.features].map((c) => `${c.name}:${c.type}`).join(',');
  return `tributary_stage_${createHash('sha1').update(shape).digest('hex').slice(0, 16)}`;
}

export function createStagingTableSql(view: ViewLayout): string {
  const columns = [
    ...view.joinKeys.map((k) => `${quoteIdent(k.name)} ${PG_TYPES[k.type]}`),
    'event_timestamp timestamptz',
    'created timestamptz',
    ...view.features.map((f) => `${quoteIdent(f.name)} ${PG_TYPES[f.type]}`),
    '_partition integer',
    '_offset bigint',
  ];
  return `CREATE TEMP TABLE IF NOT EXISTS ${quoteIdent(stagingTableName(view))} (${columns.join(', ')}) ON COMMIT DELETE ROWS`;
}

export function copyIntoStagingSql(view: ViewLayout): string {
  return `COPY ${quoteIdent(stagingTableName(view))} (${writtenColumns(view).map(quoteIdent).join(', ')}) FROM STDIN (FORMAT binary)`;
}

/** Moves the staged batch into the view's table; rows whose origin is already stored are skipped. */
export function insertFromStagingSql(schema: string, view: ViewLayout): string {
  const columns = writtenColumns(view).map(quoteIdent).join(', ');
  return `INSERT INTO ${qualified(schema, view.name)} (${columns}) SELECT ${columns} FROM ${quoteIdent(stagingTableName(view))} ON CONFLICT DO NOTHING`;
}

/**
 * Per (view, topic, partition), the greatest source offset written: lets a batch that is
 * wholly new skip the staging table and its ON CONFLICT check. The UNIQUE origin
 * constraint stays the guarantee; this table is only the hint that the check is unneeded.
 */
export const PROGRESS_TABLE = '__tributary_progress';

export function createProgressTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(schema, PROGRESS_TABLE)} (view text NOT NULL, topic text NOT NULL, partition integer NOT NULL, last_offset bigint NOT NULL, PRIMARY KEY (view, topic, partition))`;
}

/** Locks the progress row for the transaction (creating it) and returns its last offset. Params: view, topic, partition. */
export function claimProgressSql(schema: string): string {
  const table = qualified(schema, PROGRESS_TABLE);
  return `INSERT INTO ${table} AS p (view, topic, partition, last_offset) VALUES ($1, $2, $3, -1) ON CONFLICT (view, topic, partition) DO UPDATE SET last_offset = p.last_offset RETURNING last_offset::text AS last_offset`;
}

/** Params: view, topic, partition, offset. */
export function advanceProgressSql(schema: string): string {
  return `UPDATE ${qualified(schema, PROGRESS_TABLE)} SET last_offset = GREATEST(last_offset, $4::bigint) WHERE view = $1 AND topic = $2 AND partition = $3`;
}

/** COPY straight into the view's table: for batches the progress table shows are wholly new. */
export function copyIntoTableSql(schema: string, view: ViewLayout): string {
  return `COPY ${qualified(schema, view.name)} (${writtenColumns(view).map(quoteIdent).join(', ')}) FROM STDIN (FORMAT binary)`;
}
