/**
 * The one slice of node-postgres every adapter uses (like kysely's `PostgresPool` /
 * `PostgresPoolConnection`): a pool, its connections, and one way to run a transaction. Only
 * this folder imports `pg`; adapters take a `PgPool` and never see the driver's types.
 */
import pg from 'pg';
import type { Logger } from '../logger.ts';
import { redactUrl } from './redact.ts';

/** The rows and count of a finished statement. */
export interface PgResult<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number | null;
}

/** A query object that drives the connection itself (COPY in or out): node-postgres's `Submittable`. */
export interface PgSubmittable {
  submit(connection: unknown): void;
}

/** A pooled connection. */
export interface PgClient {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<PgResult<R>>;
  query<T extends PgSubmittable>(submittable: T): T;
  /** Returns the connection to the pool; with an error (or true), the pool closes it instead. */
  release(error?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/** A pool of connections, shared by every adapter of a process. */
export interface PgPool {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<PgResult<R>>;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}

export interface PoolOptions {
  /** `DATABASE_URL`. */
  connectionString: string;
  /** Most connections open at once (`TRIB_PG_POOL_MAX` for a process's shared pool). */
  max: number;
  /** Shown in `pg_stat_activity`. */
  applicationName?: string;
  /** How long a caller waits for a connection before the connect fails (retriably); default 10,000 ms. */
  connectTimeoutMs?: number;
  logger?: Logger;
  /** Names the pool in log lines ("monitor locks"); default "postgres". */
  name?: string;
}

/**
 * A pool for `connectionString`. A connection that dies (Postgres restarted, a proxy cut,
 * pg_terminate_backend) emits `error` — on the pool while it is idle, on the client while it
 * is checked out — and an unhandled `error` ends the process ('Connection terminated
 * unexpectedly', "Emitted 'error' event on BoundPool"). Both are always handled here: the pool
 * drops a dead idle connection and opens a new one on demand; a checked-out one fails the query
 * that was using it, on that query's own promise.
 */
export function createPool(options: PoolOptions): PgPool {
  const name = options.name ?? 'postgres';
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: Math.max(1, Math.trunc(options.max)),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    keepAlive: true,
    ...(options.applicationName ? { application_name: options.applicationName } : {}),
  });
  const where = redactUrl(options.connectionString);
  pool.on('error', (error) =>
    options.logger?.warn({ err: error, pool: name, database: where }, `${name}: idle connection lost`),
  );
  pool.on('connect', (client) => {
    client.on('error', (error) =>
      options.logger?.warn({ err: error, pool: name, database: where }, `${name}: connection lost`),
    );
  });
  return pool as unknown as PgPool;
}

/** One connection outside any pool, for LISTEN; its `error` is handled like a pool's. */
export interface PgListener {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  on(
    event: 'notification',
    listener: (message: { channel: string; payload?: string | undefined }) => void,
  ): unknown;
  on(event: 'end', listener: () => void): unknown;
}

export function createListener(options: {
  connectionString: string;
  connectTimeoutMs?: number;
  onError: (error: Error) => void;
}): PgListener {
  const client = new pg.Client({
    connectionString: options.connectionString,
    keepAlive: true,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
  });
  // Errors surface as 'end' or as the rejected connect too; never as a crash.
  client.on('error', options.onError);
  return client as unknown as PgListener;
}

/**
 * Runs `work` in a transaction on one connection of `pool`. On any failure the connection is
 * closed rather than sent ROLLBACK: closing it rolls back on the server, and a connection left
 * mid-COPY or half dead would never answer a ROLLBACK (a failed apply or write is rare enough
 * that the reconnect costs nothing). The driver's error is thrown as it is, for the adapter to
 * map with `postgresError` and its own words. A connection lost between two statements emits
 * `error` on the client, handled by the pool (`createPool`); the failing statement rejects too.
 */
export async function transaction<T>(pool: PgPool, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}
