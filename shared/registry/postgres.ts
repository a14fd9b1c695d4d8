/**
 * The registry on Postgres: one schema (default `tributary_registry`) with every applied
 * version, the current objects, and archived tables. Applies serialize on an advisory lock;
 * each recorded version is announced with NOTIFY on a channel named after the schema.
 */
import type { RepoSpec } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import {
  createListener,
  createPool,
  loadSql,
  type PgListener,
  type PgPool,
  postgresError,
  quoteSchema,
  sqlState,
  transaction,
} from '../postgres/index.ts';
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

export interface PostgresRegistryOptions {
  /** Postgres connection string (`DATABASE_URL`): for the LISTEN connection, and the pool unless `pool` is given. */
  connectionString: string;
  /** The process's shared pool; the registry then leaves ending it to the caller. */
  pool?: PgPool;
  /** Schema of the registry's tables; default `tributary_registry`. Tests use their own. */
  schema?: string;
  /** How long an apply waits for another one to finish; default 60,000 ms. */
  lockTimeoutMs?: number;
  logger?: Logger;
}

const FILES = {
  schema: 'schema',
  lock: 'lock',
  latest: 'latest-version',
  latestInfo: 'latest-version-info',
  version: 'version',
  history: 'history',
  insertVersion: 'insert-version',
  replaceObjects: 'replace-objects',
  insertArchive: 'insert-archive',
  notify: 'notify',
  scrubSecrets: 'scrub-secrets',
} as const;

type Statements = Record<keyof typeof FILES, string>;

/** Postgres error codes the registry handles. */
const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA = '3F000';
const LOCK_NOT_AVAILABLE = '55P03';

/** A registry failure, coded by the one SQLSTATE mapping; an unreachable Postgres is TRIB_SERVICE_UNAVAILABLE. */
function registryError(error: unknown, what = 'registry'): TributaryError {
  return postgresError(error, what, { unavailable: 'TRIB_SERVICE_UNAVAILABLE' });
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
  private readonly ownsPool: boolean;
  private readonly sql: Statements;
  private readonly subscriptions = new Set<RegistrySubscription>();

  constructor(private readonly options: PostgresRegistryOptions) {
    this.schema = options.schema ?? DEFAULT_REGISTRY_SCHEMA;
    quoteSchema(this.schema, 'registry schema');
    this.channel = this.schema;
    const schema = this.schema;
    this.sql = Object.fromEntries(
      Object.entries(FILES).map(([k, file]) => [
        k,
        loadSql(new URL(`./sql/${file}.sql`, import.meta.url), { schema }),
      ]),
    ) as Statements;
    this.ownsPool = options.pool === undefined;
    this.pool =
      options.pool ??
      createPool({
        connectionString: options.connectionString,
        max: 3,
        applicationName: 'tributary-registry',
        ...(options.logger ? { logger: options.logger } : {}),
        name: 'registry',
      });
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
      const code = sqlState(error);
      if (code === UNDEFINED_TABLE || code === INVALID_SCHEMA) return empty;
      throw registryError(error, 'cannot read the registry');
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
    try {
      return await transaction(this.pool, async (client) => {
        await client.query(
          `SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.options.lockTimeoutMs ?? 60_000))}`,
        );
        try {
          await client.query(this.sql.lock, [this.schema]);
        } catch (error) {
          if (sqlState(error) === LOCK_NOT_AVAILABLE) {
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
          scrubSecrets: async () => {
            const { rows } = await client.query(this.sql.scrubSecrets);
            return {
              versions: Number(rows[0]?.['versions'] ?? 0),
              objects: Number(rows[0]?.['objects'] ?? 0),
            };
          },
        };
        return await work(tx);
      });
    } catch (error) {
      // Errors of `work` that are not Postgres's (a bug, a plan refused) pass through as they are.
      throw error instanceof TributaryError || sqlState(error) !== undefined || isDriverError(error)
        ? registryError(error, 'cannot apply to the registry')
        : error;
    }
  }

  async subscribe(listener: (event: RegistryEvent) => void): Promise<RegistrySubscription> {
    const logger = this.options.logger;
    let closed = false;
    let current: PgListener | null = null;
    let timer: NodeJS.Timeout | undefined;

    const connect = async (): Promise<PgListener> => {
      const client = createListener({
        connectionString: this.options.connectionString,
        onError: (error) => logger?.warn({ err: error }, 'registry: notification connection error'),
      });
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
        throw registryError(error, 'cannot listen for registry changes');
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
    if (this.ownsPool) await this.pool.end();
  }
}

/** What node-postgres throws without a SQLSTATE: a connect timeout, a terminated connection. */
function isDriverError(error: unknown): boolean {
  return error instanceof Error && /connect|connection|terminated|timeout/i.test(error.message);
}
