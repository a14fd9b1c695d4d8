/**
 * The slice of `pg` the monitor's Postgres adapters use, and the schema-name handling they share.
 * Nothing outside `postgres` adapter files imports `pg`.
 */

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { TributaryError } from '../../errors.ts';

/** What the adapters need from a client or a pool. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export interface PgPool extends Queryable {
  connect(): Promise<pg.PoolClient>;
  end(): Promise<void>;
}

/**
 * A pool for `databaseUrl`. An idle connection that dies (Postgres restarted, a proxy cut,
 * pg_terminate_backend) makes the pool emit `error`; unhandled, that event ends the process,
 * so it is always handled here: the pool drops the connection and opens a new one on demand,
 * and the queries that were running fail on their own promises.
 */
export function createPool(
  databaseUrl: string,
  max = 4,
  onIdleError: (error: Error) => void = () => undefined,
): PgPool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    application_name: 'tributary-monitor',
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', onIdleError);
  return pool;
}

const SCHEMA_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

/** The schema name as a quoted identifier; throws TRIB_CONFIG_INVALID for anything but [A-Za-z_][A-Za-z0-9_]*. */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new TributaryError(
      'TRIB_CONFIG_INVALID',
      `schema name ${JSON.stringify(schema)} is invalid: expected [A-Za-z_][A-Za-z0-9_]*`,
    );
  }
  return `"${schema}"`;
}

/** Reads a `.sql` file next to `base` and puts the quoted schema in place of `__SCHEMA__`. */
export function schemaSql(file: URL, schema: string): string {
  return readFileSync(file, 'utf8').replaceAll('__SCHEMA__', quoteSchema(schema));
}

/** Runs `work` in a transaction on one pooled connection; rolls back when it throws. */
export async function inTransaction<T>(pool: PgPool, work: (client: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Wraps a driver error as TRIB_OFFLINE_STORE_UNAVAILABLE (retriable), keeping TributaryErrors. */
export function storeError(error: unknown, what: string): TributaryError {
  if (error instanceof TributaryError) return error;
  return new TributaryError('TRIB_OFFLINE_STORE_UNAVAILABLE', `${what}: ${(error as Error).message}`, {
    cause: error,
  });
}
