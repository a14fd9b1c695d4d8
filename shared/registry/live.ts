/**
 * Live definitions for services: the registry's current repository, replaced without a
 * restart when `apply` records a new version. Postgres NOTIFY brings news at once; a
 * periodic re-check catches anything missed while the notification connection was down.
 */
import type { RepoSpec } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { PgPool } from '../postgres/index.ts';
import type { RegistryEvent, RegistryStore, RegistrySubscription, RegistryVersionInfo } from './port.ts';
import { PostgresRegistry } from './postgres.ts';

export type DefinitionsListener = (spec: RepoSpec, version: RegistryVersionInfo) => void;

/** Where services read feature definitions from. */
export interface DefinitionsSource {
  /** The current repository. */
  current(): RepoSpec;
  /** Calls `listener` after each change with the new repository; returns an unsubscribe function. */
  onChange(listener: DefinitionsListener): () => void;
}

/** A fixed repository, for tools and tests that have a spec in hand; `set` replaces it. */
export class StaticDefinitions implements DefinitionsSource {
  private readonly listeners = new Set<DefinitionsListener>();
  private version = 0;

  constructor(private spec: RepoSpec) {}

  current(): RepoSpec {
    return this.spec;
  }

  onChange(listener: DefinitionsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces the repository and tells the listeners. */
  set(spec: RepoSpec): void {
    this.spec = spec;
    this.version += 1;
    const info = { version: this.version, hash: '', appliedAt: new Date(), appliedBy: 'static' };
    for (const listener of this.listeners) listener(spec, info);
  }
}

export interface RegistryWatcherOptions {
  /** How often to re-check the registry regardless of notifications; default 30,000 ms. */
  recheckMs?: number;
  /** Wait for a first version instead of failing with TRIB_REGISTRY_EMPTY; default false. */
  waitForFirstVersion?: boolean;
  logger?: Logger;
}

/** The registry's current repository, kept up to date. Start with `RegistryWatcher.start` or `openRegistryWatcher`. */
export class RegistryWatcher implements DefinitionsSource {
  private spec: RepoSpec | null = null;
  private info: RegistryVersionInfo | null = null;
  private readonly listeners = new Set<DefinitionsListener>();
  private subscription: RegistrySubscription | null = null;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<boolean> | null = null;
  private again = false;
  private closed = false;
  private firstVersion: (() => void) | null = null;

  private constructor(
    private readonly store: RegistryStore,
    private readonly options: RegistryWatcherOptions,
    private readonly ownsStore: boolean,
  ) {}

  /**
   * Subscribes to the registry, then loads its current version. Throws TRIB_REGISTRY_EMPTY
   * when nothing was applied yet, unless `waitForFirstVersion`.
   */
  static async start(
    store: RegistryStore,
    options: RegistryWatcherOptions = {},
    ownsStore = false,
  ): Promise<RegistryWatcher> {
    const watcher = new RegistryWatcher(store, options, ownsStore);
    try {
      // Listen before reading: a version recorded in between is then not missed.
      watcher.subscription = await store.subscribe((event) => watcher.onEvent(event));
      await watcher.refresh();
      if (!watcher.spec) {
        if (!options.waitForFirstVersion) {
          throw new TributaryError(
            'TRIB_REGISTRY_EMPTY',
            "the registry holds no feature definitions yet: run 'tributary apply' first",
          );
        }
        options.logger?.info('registry is empty: waiting for a first apply');
        await new Promise<void>((resolve) => {
          watcher.firstVersion = resolve;
          watcher.schedule();
        });
      }
      watcher.schedule();
      return watcher;
    } catch (error) {
      await watcher.close();
      throw error;
    }
  }

  current(): RepoSpec {
    if (!this.spec)
      throw new TributaryError('TRIB_REGISTRY_EMPTY', 'the registry holds no feature definitions yet');
    return this.spec;
  }

  /** The version `current()` comes from. */
  version(): RegistryVersionInfo {
    if (!this.info)
      throw new TributaryError('TRIB_REGISTRY_EMPTY', 'the registry holds no feature definitions yet');
    return this.info;
  }

  onChange(listener: DefinitionsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Loads the newest version if it is newer than the current one; resolves true when it was.
   * Concurrent calls share one load (and one more runs after it, so no news is lost).
   */
  refresh(): Promise<boolean> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      let changed = false;
      try {
        do {
          this.again = false;
          changed = (await this.loadIfNewer()) || changed;
        } while (this.again && !this.closed);
      } finally {
        this.refreshing = null;
      }
      return changed;
    })();
    return this.refreshing;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.firstVersion?.();
    await this.subscription?.close();
    this.subscription = null;
    await this.refreshing?.catch(() => undefined);
    if (this.ownsStore) await this.store.close();
  }

  private async loadIfNewer(): Promise<boolean> {
    const info = await this.store.latestInfo();
    if (!info || (this.info && info.version <= this.info.version)) return false;
    const latest = await this.store.latest();
    if (!latest || (this.info && latest.version <= this.info.version)) return false;
    const { spec, ...meta } = latest;
    this.spec = spec;
    this.info = meta;
    this.options.logger?.info({ version: meta.version, hash: meta.hash }, 'registry: loaded definitions');
    if (this.firstVersion) {
      this.firstVersion();
      this.firstVersion = null;
    }
    for (const listener of this.listeners) {
      try {
        listener(spec, meta);
      } catch (error) {
        this.options.logger?.error({ err: error }, 'registry: a definitions listener failed');
      }
    }
    return true;
  }

  private onEvent(event: RegistryEvent): void {
    if (this.closed) return;
    if (event.type === 'version' && this.info && event.version <= this.info.version) return;
    this.refresh().catch((error) => this.options.logger?.warn({ err: error }, 'registry: refresh failed'));
  }

  /** The fallback re-check: after a lost connection, or a NOTIFY that never came. */
  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((error) => this.options.logger?.warn({ err: error }, 'registry: periodic re-check failed'))
        .finally(() => this.schedule());
    }, this.options.recheckMs ?? 30_000);
    this.timer.unref();
  }
}

export interface OpenRegistryWatcherOptions extends RegistryWatcherOptions {
  /** Postgres connection string (`DATABASE_URL`). */
  databaseUrl: string;
  /** The process's shared pool; default a small pool of the registry's own. */
  pool?: PgPool;
  /** Registry schema; default `tributary_registry`. */
  schema?: string;
}

/** Connects to the Postgres registry and starts a watcher that owns the connection. */
export async function openRegistryWatcher(options: OpenRegistryWatcherOptions): Promise<RegistryWatcher> {
  const store = new PostgresRegistry({
    connectionString: options.databaseUrl,
    ...(options.pool === undefined ? {} : { pool: options.pool }),
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  return RegistryWatcher.start(store, options, true);
}
