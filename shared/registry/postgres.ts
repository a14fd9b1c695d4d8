/**
 * The registry on Postgres: one schema (default `tributary_registry`) with every applied
 * version, the current objects, and archived tables. Applies serialize on an advisory lock;
 * each recorded version is announced with NOTIFY on a channel named after the schema.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { RepoSpec } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { specHash } from './hash.ts';
import { objectsOf } from './plan.ts';
import type {
  ApplyTransaction,
  NewVersion,
  RegistryEvent,
  RegistryStore,
  RegistrySubscription,
  RegistryVersion,
  RegistryVersionInfo,
} from './port.ts';

export const DEFAULT_REGISTRY_SCHEMA = 'tributary_registry';

/** The rows of a finished statement: all the registry reads from node-postgres results. */
export interface PgResult {
  rows: Record<string, unknown>[];
}

/** The slice of node-postgres's pooled client the registry uses. */
export interface PgPoolClient {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  release(error?: Error | boolean): void;
}

/** The slice of node-postgres's `Pool` the registry uses (like kysely's `PostgresPool`). */
export interface PgPool {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
}

/** The slice of node-postgres's `Client` that listens for notifications. */
interface PgListener {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  on(
    event: 'notification',
    listener: (message: { channel: string; payload?: string | undefined }) => void,
  ): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

export interface PostgresRegistryOptions {
  /** Postgres connection string (`DATABASE_URL`). */
  connectionString: string;
  /** Schema of the registry's tables; default `tributary_registry`. Tests use their own. */
  schema?: string;
  /** How long an apply waits for another one to finish; default 60,000 ms. */
  lockTimeoutMs?: number;
  logger?: Logger;
}

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

function loadSql(name: string): string {
  return readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8');
}

const SQL = {
  schema: loadSql('schema'),
  lock: loadSql('lock'),
  latest: loadSql('latest-version'),
  latestInfo: loadSql('latest-version-info'),
  version: loadSql('version'),
  history: loadSql('history'),
  insertVersion: loadSql('insert-version'),
  replaceObjects: loadSql('replace-objects'),
  insertArchive: loadSql('insert-archive'),
  notify: loadSql('notify'),
};

/** Postgres error codes the registry handles. */
const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA = '3F000';
const LOCK_NOT_AVAILABLE = '55P03';

function pgCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function unavailable(error: unknown): TributaryError {
  if (error instanceof TributaryError) return error;
  const code = pgCode(error);
  // Statement errors (SQLSTATE present, not a connection class) are bugs, not outages.
  if (code && !code.startsWith('08') && !code.startsWith('57') && code !== '53300') {
    return new TributaryError('TRIB_INTERNAL', `registry query failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return new TributaryError(
    'TRIB_SERVICE_UNAVAILABLE',
    `cannot reach the registry's Postgres: ${(error as Error).message}. Check DATABASE_URL, or start local services with 'npm run services:up'.`,
    { cause: error },
  );
}

function infoOf(row: Record<string, unknown>): RegistryVersionInfo {
  return {
    version: Number(row['version']),
    hash: String(row['spec_hash']),
    appliedAt: row['applied_at'] instanceof Date ? row['applied_at'] : new Date(String(row['applied_at'])),
    appliedBy: String(row['applied_by']),
  };
}

function versionOf(row: Record<string, unknown>): RegistryVersion {
  return { ...infoOf(row), spec: row['spec'] as RepoSpec };
}

/** The Postgres adapter of the registry port. */
export class PostgresRegistry implements RegistryStore {
  readonly schema: string;
  /** The NOTIFY channel: the schema's name, so registries in different schemas never mix. */
  readonly channel: string;
  private readonly pool: PgPool;
  private readonly sql: typeof SQL;
  private readonly subscriptions = new Set<RegistrySubscription>();

  constructor(private readonly options: PostgresRegistryOptions) {
    this.schema = options.schema ?? DEFAULT_REGISTRY_SCHEMA;
    if (!SCHEMA_PATTERN.test(this.schema)) {
      throw new TributaryError(
        'TRIB_CONFIG_INVALID',
        `registry schema ${JSON.stringify(this.schema)} is invalid: expected a lowercase identifier`,
      );
    }
    this.channel = this.schema;
    const quoted = `"${this.schema}"`;
    this.sql = Object.fromEntries(
      Object.entries(SQL).map(([k, text]) => [k, text.replaceAll('{{schema}}', quoted)]),
    ) as typeof SQL;
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: 3,
      connectionTimeoutMillis: 10_000,
    });
    pool.on('error', (error) => options.logger?.warn({ err: error }, 'registry: idle connection lost'));
    this.pool = pool as unknown as PgPool;
  }

  private async read<T>(
    text: string,
    values: unknown[],
    map: (rows: Record<string, unknown>[]) => T,
    empty: T,
  ): Promise<T> {
    try {
      const { rows } = await this.pool.query(text, values);
      return map(rows);
    } catch (error) {
      const code = pgCode(error);
      if (code === UNDEFINED_TABLE || code === INVALID_SCHEMA) return empty;
      throw unavailable(error);
    }
  }

  latest(): Promise<RegistryVersion | null> {
    return this.read(this.sql.latest, [], (rows) => (rows[0] ? versionOf(rows[0]) : null), null);
  }

  latestInfo(): Promise<RegistryVersionInfo | null> {
    return this.read(this.sql.latestInfo, [], (rows) => (rows[0] ? infoOf(rows[0]) : null), null);
  }

  history(limit = 20): Promise<RegistryVersionInfo[]> {
    return this.read(this.sql.history, [limit], (rows) => rows.map(infoOf), []);
  }

  version(version: number): Promise<RegistryVersion | null> {
    return this.read(this.sql.version, [version], (rows) => (rows[0] ? versionOf(rows[0]) : null), null);
  }

  async withApplyLock<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T> {
    let client: PgPoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    let failed: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query(
        `SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.options.lockTimeoutMs ?? 60_000))}`,
      );
      try {
        await client.query(this.sql.lock, [this.schema]);
      } catch (error) {
        if (pgCode(error) === LOCK_NOT_AVAILABLE) {
          throw new TributaryError(
            'TRIB_REGISTRY_CONFLICT',
            `another apply holds the registry '${this.schema}': try again when it finishes`,
            { cause: error },
          );
        }
        throw error;
      }
      // Later statements of the apply may wait on table locks: that is no conflict.
      await client.query('SET LOCAL lock_timeout = 0');
      await client.query(this.sql.schema);
      const tx: ApplyTransaction = {
        latest: async () => {
          const { rows } = await client.query(this.sql.latest);
          return rows[0] ? versionOf(rows[0]) : null;
        },
        record: async (next: NewVersion) => {
          const { rows } = await client.query(this.sql.insertVersion, [
            JSON.stringify(next.spec),
            next.hash,
            next.appliedBy,
            JSON.stringify(next.plan),
          ]);
          const info = infoOf(rows[0]!);
          const objects = objectsOf(next.spec).map((o) => ({
            kind: o.kind,
            name: o.name,
            spec: o,
            spec_hash: specHash(o),
          }));
          await client.query(this.sql.replaceObjects, [JSON.stringify(objects), info.version]);
          await client.query(this.sql.notify, [
            this.channel,
            JSON.stringify({ version: info.version, hash: info.hash }),
          ]);
          return info;
        },
        recordArchive: async (view, table, reason) => {
          await client.query(this.sql.insertArchive, [view, table, reason]);
        },
      };
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failed = error instanceof Error ? error : new Error(String(error));
      await client.query('ROLLBACK').catch(() => undefined);
      throw error instanceof TributaryError ? error : pgCode(error) ? unavailable(error) : error;
    } finally {
      client.release(failed !== undefined && pgCode(failed)?.startsWith('08') ? failed : undefined);
    }
  }

  async subscribe(listener: (event: RegistryEvent) => void): Promise<RegistrySubscription> {
    const logger = this.options.logger;
    let closed = false;
    let current: PgListener | null = null;
    let timer: NodeJS.Timeout | undefined;

    const connect = async (): Promise<PgListener> => {
      const client = new pg.Client({
        connectionString: this.options.connectionString,
        keepAlive: true,
        connectionTimeoutMillis: 10_000,
      }) as unknown as PgListener;
      // Errors surface as 'end' (handled below) or as the rejected connect; never crash.
      client.on('error', (error) => logger?.warn({ err: error }, 'registry: notification connection error'));
      client.on('notification', (message) => {
        if (message.channel !== this.channel || !message.payload) return;
        try {
          const { version, hash } = JSON.parse(message.payload) as { version: number; hash: string };
          listener({ type: 'version', version: Number(version), hash: String(hash) });
        } catch (error) {
          logger?.warn({ err: error, payload: message.payload }, 'registry: unreadable notification');
        }
      });
      try {
        await client.connect();
        await client.query(`LISTEN "${this.channel}"`);
      } catch (error) {
        await client.end().catch(() => undefined);
        throw unavailable(error);
      }
      client.on('end', () => {
        if (closed || current !== client) return;
        current = null;
        logger?.warn('registry: notification connection lost; reconnecting');
        retry(0);
      });
      return client;
    };

    const retry = (attempt: number) => {
      if (closed) return;
      const delay = Math.min(30_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
      timer = setTimeout(() => {
        connect().then(
          (client) => {
            if (closed) {
              void client.end().catch(() => undefined);
              return;
            }
            current = client;
            listener({ type: 'reconnected' });
          },
          () => retry(attempt + 1),
        );
      }, delay);
      timer.unref();
    };

    current = await connect();
    const subscription: RegistrySubscription = {
      close: async () => {
        closed = true;
        clearTimeout(timer);
        this.subscriptions.delete(subscription);
        const client = current;
        current = null;
        await client?.end().catch(() => undefined);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.pool.end();
  }
}
