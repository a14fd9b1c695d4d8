import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TributaryError } from '../../../errors.ts';
import type { Logger } from '../../../logger.ts';
import type { ColumnLayout, ViewLayout } from '../../../model/layout.ts';
import type { FeatureRow } from '../../../model/row.ts';
import {
  copyFrom,
  createPool,
  DEFAULT_OFFLINE_SCHEMA,
  type PgClient,
  type PgPool,
  postgresError,
  sqlState,
  transaction,
} from '../../../postgres/index.ts';
import type { EntityFrame } from '../../../retrieval/entities.ts';
import type {
  FeatureChunk,
  HistoricalFeatureSource,
  HistoricalReadOptions,
} from '../../../retrieval/historical.ts';
import type { RetrievalPlan } from '../../../retrieval/plan.ts';
import { compareOffsets } from '../../../stream/offsets.ts';
import type { OfflineStore } from '../port.ts';
import { binaryCopyChunks } from './copy-binary.ts';
import { type PostgresHistoricalOptions, PostgresHistoricalReader } from './historical.ts';
import * as sql from './sql.ts';

export interface PostgresOfflineStoreOptions {
  /** Postgres connection string (e.g. `DATABASE_URL`); ignored when `pool` is given. */
  connectionString?: string;
  /** The process's shared pool; the store then leaves ending it to the caller. */
  pool?: PgPool;
  /** Schema that holds one table per feature view; default `tributary_offline`. */
  schema?: string;
  /** Size of the pool the store creates; default 4. */
  maxConnections?: number;
  /** How long to wait for a connection before failing with TRIB_OFFLINE_STORE_UNAVAILABLE; default 5,000 ms. */
  connectTimeoutMs?: number;
  /** How the historical reader probes (parallelism, work_mem…); its schema is the store's. */
  historical?: Omit<PostgresHistoricalOptions, 'schema'>;
  logger?: Logger;
}

/** The row index needs NULLS NOT DISTINCT (Postgres 15): say so, rather than fail on its syntax. */
export function requireIndexSupport(serverVersionNum: number): void {
  if (serverVersionNum >= 150_000) return;
  const major = Math.floor(serverVersionNum / 10_000);
  throw new TributaryError(
    'TRIB_CONFIG_INVALID',
    `the offline store needs Postgres 15 or later (DATABASE_URL points at Postgres ${major}): its row index uses NULLS NOT DISTINCT`,
    { details: { serverVersionNum } },
  );
}

/**
 * The offline store on Postgres: one table per view, partitioned by month of event time, with
 * one unique index on (keys, event_timestamp, created, origin) that carries the features (see
 * `sql.createRowIndexSql`) for both idempotency and point-in-time probes. Wholly new batches
 * are copied straight in; others go through a session-local staging table and `INSERT ... ON
 * CONFLICT DO NOTHING`, so replayed batches add nothing.
 */
export class PostgresOfflineStore implements OfflineStore, HistoricalFeatureSource {
  readonly schema: string;
  private readonly pool: PgPool;
  private readonly reader: PostgresHistoricalReader;
  private readonly ownsPool: boolean;
  private readonly logger: Logger | undefined;
  /** Month partitions known to exist, per table: `write` creates the others first. */
  private readonly partitions = new Map<string, Set<number>>();
  /** Staging tables created on each pooled connection (they live as long as the connection). */
  private readonly staged = new WeakMap<PgClient, Set<string>>();

  constructor(options: PostgresOfflineStoreOptions) {
    this.schema = options.schema ?? DEFAULT_OFFLINE_SCHEMA;
    this.logger = options.logger;
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      if (!options.connectionString) {
        throw new TributaryError(
          'TRIB_CONFIG_INVALID',
          'the offline store needs a connection string or a pool',
        );
      }
      this.pool = createPool({
        connectionString: options.connectionString,
        max: options.maxConnections ?? 4,
        connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
        applicationName: 'tributary-offline',
        ...(options.logger ? { logger: options.logger } : {}),
        name: 'offline store',
      });
      this.ownsPool = true;
    }
    // The one rule for configured schema names (shared/postgres/sql.ts), checked before any query.
    sql.quoteSchema(this.schema, 'offline schema');
    this.reader = new PostgresHistoricalReader(this.pool, { ...options.historical, schema: this.schema });
  }

  /** Point-in-time retrieval over this store's tables, on the same pool (`PostgresHistoricalReader`). */
  readFeatures(
    plan: RetrievalPlan,
    entities: EntityFrame,
    options?: HistoricalReadOptions,
  ): AsyncGenerator<FeatureChunk> {
    return this.reader.readFeatures(plan, entities, options);
  }

  async ensureTable(view: ViewLayout): Promise<void> {
    sql.quoteIdent(view.name);
    await this.transaction(async (client) => {
      await client.query(sql.lockSchemaSql(), [this.schema]);
      // Existence is checked first so a role without CREATE on the database can use a
      // provisioned schema, and so a reload takes no table lock when nothing is missing.
      if ((await client.query(sql.schemaExistsSql(), [this.schema])).rows.length === 0) {
        await client.query(sql.createSchemaSql(this.schema));
      }
      await client.query(sql.createProgressTableSql(this.schema));
      const existing = await client.query(sql.tableColumnsSql(), [this.schema, view.name]);
      if (existing.rows.length === 0) {
        const version = await client.query(sql.serverVersionSql());
        requireIndexSupport(Number(version.rows[0]?.['version']));
        await client.query(sql.createTableSql(this.schema, view));
        await client.query(sql.createRowIndexSql(this.schema, view));
      } else {
        const types = new Map(existing.rows.map((r) => [String(r['name']), String(r['type'])]));
        for (const key of view.joinKeys) this.checkColumn(view.name, key, types.get(key.name), true);
        for (const feature of view.features) {
          if (types.has(feature.name)) this.checkColumn(view.name, feature, types.get(feature.name), false);
          else await client.query(sql.addColumnSql(this.schema, view.name, feature.name, feature.type));
        }
      }
      // A table created before the single row-key index keeps its two indexes (origin constraint
      // and point-in-time index) and works as before: rebuilding a big table's index here would
      // block its writes for the whole build. docs/materializer.md gives the manual migration.
      const legacy =
        existing.rows.length > 0 &&
        (
          await client.query(sql.constraintExistsSql(), [
            this.schema,
            view.name,
            sql.originConstraintName(view.name),
          ])
        ).rows.length > 0;
      if (
        legacy &&
        (await client.query(sql.tableExistsSql(), [this.schema, sql.pitIndexName(view.name)])).rows.length ===
          0
      ) {
        await client.query(sql.createPitIndexSql(this.schema, view));
      }
    });
  }

  private checkColumn(table: string, column: ColumnLayout, actual: string | undefined, isKey: boolean) {
    const expected = sql.PG_TYPES[column.type];
    if (actual === expected) return;
    throw new TributaryError(
      'TRIB_BREAKING_CHANGE',
      actual === undefined
        ? `offline table '${this.schema}.${table}' has no join key column '${column.name}': archive it first`
        : `offline table '${this.schema}.${table}' column '${column.name}' is ${actual}, the view says ${expected}: archive it first`,
      { details: { table: `${this.schema}.${table}`, column: column.name, isKey } },
    );
  }

  async archiveTable(viewName: string, reason: string): Promise<string | null> {
    const archived = await this.transaction(async (client) => {
      await client.query(sql.lockSchemaSql(), [this.schema]);
      const exists = await client.query(sql.tableExistsSql(), [this.schema, viewName]);
      if (exists.rows.length === 0) return null;
      const stamp = new Date()
        .toISOString()
        .replace(/[-:T]/g, '')
        .replace(/\.\d+Z$/, '');
      let name = sql.derivedName(viewName, `__archived_${stamp}`);
      for (let n = 2; (await client.query(sql.tableExistsSql(), [this.schema, name])).rows.length > 0; n++) {
        name = sql.derivedName(viewName, `__archived_${stamp}_${n}`);
      }
      const partitions = await client.query(sql.partitionsSql(), [this.schema, viewName]);
      await client.query(sql.renameTableSql(this.schema, viewName, name));
      // Whichever layout the table has: renaming a constraint's index renames the constraint too.
      for (const index of [sql.rowIndexName, sql.pitIndexName, sql.originConstraintName]) {
        await client.query(sql.renameIndexSql(this.schema, index(viewName), index(name)));
      }
      // Partitions stay attached through the rename; renaming them too frees their names for
      // the view's next table.
      for (const row of partitions.rows) {
        const partition = String(row['name']);
        const month = /__p(\d{6})$/.exec(partition)?.[1];
        if (month)
          await client.query(
            sql.renameTableSql(this.schema, partition, sql.derivedName(name, `__p${month}`)),
          );
      }
      await client.query(
        sql.commentOnTableSql(this.schema, name, `archived ${new Date().toISOString()}: ${reason}`),
      );
      return name;
    });
    this.partitions.delete(viewName);
    return archived;
  }

  async write(view: ViewLayout, rows: FeatureRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    try {
      return await this.writeOnce(view, rows, false);
    } catch (error) {
      // Another process archived and recreated the table: our partition cache is stale.
      if (isMissingPartition(error)) {
        this.partitions.delete(view.name);
        return await this.writeOnce(view, rows, false);
      }
      // The fast path met a stored origin (a topic recreated from offset 0, say): the
      // checked path skips exactly the rows already there.
      if (isUniqueViolation(error)) return await this.writeOnce(view, rows, true);
      throw error;
    }
  }

  private async writeOnce(view: ViewLayout, rows: FeatureRow[], checked: boolean): Promise<number> {
    await this.ensurePartitions(view.name, rows);
    return await this.transaction(async (client) => {
      const origins = originRanges(rows);
      let whollyNew = !checked;
      for (const origin of origins) {
        const claimed = await client.query(sql.claimProgressSql(this.schema), [
          view.name,
          origin.topic,
          origin.partition,
        ]);
        if (origin.min <= BigInt(String(claimed.rows[0]?.['last_offset'] ?? '-1'))) whollyNew = false;
      }
      let inserted: number;
      if (whollyNew) {
        // Every row is past what this view stored from its partition: no duplicate can exist,
        // so the rows go straight in, without staging and ON CONFLICT (about 2.5x cheaper).
        await pipeline(
          Readable.from(binaryCopyChunks(view, rows)),
          client.query(copyFrom(sql.copyIntoTableSql(this.schema, view))),
        );
        inserted = rows.length;
      } else {
        const staging = sql.stagingTableName(view);
        const staged = this.staged.get(client) ?? new Set<string>();
        this.staged.set(client, staged);
        if (!staged.has(staging)) {
          await client.query(sql.createStagingTableSql(view));
          staged.add(staging);
        }
        await pipeline(
          Readable.from(binaryCopyChunks(view, rows)),
          client.query(copyFrom(sql.copyIntoStagingSql(view))),
        );
        inserted = (await client.query(sql.insertFromStagingSql(this.schema, view))).rowCount ?? 0;
      }
      for (const origin of origins) {
        await client.query(sql.advanceProgressSql(this.schema), [
          view.name,
          origin.topic,
          origin.partition,
          origin.max.toString(),
        ]);
      }
      return inserted;
    });
  }

  /** Creates the month partitions `rows` need that this store has not seen yet. */
  private async ensurePartitions(table: string, rows: FeatureRow[]): Promise<void> {
    const known = this.partitions.get(table) ?? new Set<number>();
    this.partitions.set(table, known);
    const missing = new Set<number>();
    // Rows of a batch mostly share a month: only a row outside the last one's month is looked up.
    let monthFrom = Number.POSITIVE_INFINITY;
    let monthTo = Number.NEGATIVE_INFINITY;
    for (const row of rows) {
      const at = row.eventTimestamp;
      if (at >= monthFrom && at < monthTo) continue;
      monthFrom = monthStart(at);
      monthTo = nextMonthStart(monthFrom);
      if (!known.has(monthFrom)) missing.add(monthFrom);
    }
    if (missing.size === 0) return;
    // The advisory lock makes two writers creating the same partition take turns, so
    // IF NOT EXISTS sees the other's committed table instead of racing on the catalog.
    await this.transaction(async (client) => {
      await client.query(sql.lockSchemaSql(), [this.schema]);
      for (const month of missing) await client.query(sql.createPartitionSql(this.schema, table, month));
    });
    for (const month of missing) known.add(month);
  }

  private async transaction<T>(work: (client: PgClient) => Promise<T>): Promise<T> {
    try {
      return await transaction(this.pool, work);
    } catch (error) {
      throw offlineError(error);
    }
  }

  /**
   * Up to `count` distinct entities, drawn at random, with an event after `sinceMs` (epoch ms):
   * what `tributary consistency` compares. A scan of the view's recent partitions.
   */
  async sampleEntities(view: ViewLayout, count: number, sinceMs: number): Promise<FeatureRow['keys'][]> {
    const select = view.joinKeys.map((k, i) => {
      const column = sql.quoteIdent(k.name);
      // Text for exact int64s; epoch ms for timestamps, as rows carry them.
      const value =
        k.type === 'timestamp'
          ? `(extract(epoch FROM ${column}) * 1000)::float8`
          : k.type === 'int64'
            ? `${column}::text`
            : column;
      return `${value} AS k${i}`;
    });
    const keys = view.joinKeys.map((k) => sql.quoteIdent(k.name)).join(', ');
    try {
      const { rows } = await this.pool.query(
        `SELECT ${select.join(', ')} FROM (SELECT DISTINCT ${keys} FROM ${sql.qualified(this.schema, view.name)}
          WHERE event_timestamp > to_timestamp($1::float8 / 1000)) AS recent ORDER BY random() LIMIT $2`,
        [sinceMs, count],
      );
      return rows.map((row) =>
        view.joinKeys.map((k, i) => {
          const value = row[`k${i}`] as string | number | boolean;
          return k.type === 'int64' ? BigInt(value as string) : value;
        }),
      );
    } catch (error) {
      throw offlineError(error);
    }
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function nextMonthStart(monthStartMs: number): number {
  const d = new Date(monthStartMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

interface OriginRange {
  topic: string;
  partition: number;
  /** Offsets as Kafka gives them: canonical decimal strings, compared by `compareOffsets`. */
  min: string;
  max: string;
}

/** The source partitions of a batch (sorted, so concurrent writers lock progress rows in one order) with their offset range. */
function originRanges(
  rows: readonly FeatureRow[],
): { topic: string; partition: number; min: bigint; max: bigint }[] {
  const ranges: OriginRange[] = [];
  // A batch comes from one partition, so the range of the row before almost always matches.
  let range: OriginRange | undefined;
  for (const { origin } of rows) {
    if (range === undefined || range.partition !== origin.partition || range.topic !== origin.topic) {
      range = ranges.find((r) => r.partition === origin.partition && r.topic === origin.topic);
      if (range === undefined) {
        range = { topic: origin.topic, partition: origin.partition, min: origin.offset, max: origin.offset };
        ranges.push(range);
        continue;
      }
    }
    if (compareOffsets(origin.offset, range.min) < 0) range.min = origin.offset;
    else if (compareOffsets(origin.offset, range.max) > 0) range.max = origin.offset;
  }
  return ranges
    .map((r) => ({ topic: r.topic, partition: r.partition, min: BigInt(r.min), max: BigInt(r.max) }))
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

function isMissingPartition(error: unknown): boolean {
  const cause = error instanceof TributaryError ? error.cause : error;
  return sqlState(cause) === '23514' && /no partition of relation/.test(String((cause as Error).message));
}

/** A failure of the offline store, coded by the one SQLSTATE mapping (`shared/postgres/errors.ts`). */
export function offlineError(error: unknown): TributaryError {
  return postgresError(error, 'offline store');
}
