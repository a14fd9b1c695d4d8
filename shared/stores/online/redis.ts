import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { ValueType } from '../../definitions/types.ts';
import { TributaryError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { ViewLayout } from '../../model/layout.ts';
import type { FeatureRow } from '../../model/row.ts';
import { bucketOf, keySlot, parseClusterNodes } from './cluster-slots.ts';
import { JsonRecord, jsonRecordOf } from './json-record.ts';
import type { OnlineReadOptions, OnlineRecord, OnlineRecordJson, OnlineStore } from './port.ts';
import {
  cachedReadFields,
  cachedValuesAt,
  cacheEntries,
  cutoffsOf,
  fieldsToRead,
  planTileWrite,
  type TileRecord,
  type TileWrite,
  tileLayoutOf,
  VERSION_FIELD,
  valuesAt,
} from './tiles.ts';
import { type JsonArrayValue, jsonArrayWithLengths, valueLengthsEnd } from './value-lengths.ts';

/** The script that decides last-write-wins in Redis; see its header for KEYS and ARGV. */
const WRITE_LATEST_LUA = readFileSync(new URL('./lua/write_latest.lua', import.meta.url), 'utf8');
/** The compare and set of stream views' tiles; see its header. */
const WRITE_TILES_LUA = readFileSync(new URL('./lua/write_tiles.lua', import.meta.url), 'utf8');
/** A read's merged window values, stored if the hash did not change meanwhile; see its header. */
const WRITE_CACHE_LUA = readFileSync(new URL('./lua/write_cache.lua', import.meta.url), 'utf8');
/**
 * Rounds of read, compute and compare-and-set before a tile write gives up (retriable, so the
 * materializer retries the batch): a round only repeats for an entity another writer changed in
 * between (events of one entity on two partitions written at once).
 */
const TILE_WRITE_ROUNDS = 16;

type FeatureValue = FeatureRow['values'][number];
type KeyValue = FeatureRow['keys'][number];

/**
 * A pipeline with the scripts registered by `defineCommand` (EVALSHA, the script sent once per
 * connection and again on NOSCRIPT: per node in a cluster) and the commands the store sends.
 */
interface StorePipeline {
  tribWriteLatest(numberOfKeys: number, ...keysThenArgs: string[]): StorePipeline;
  hmget(key: string, ...fields: string[]): StorePipeline;
  hgetall(key: string): StorePipeline;
  mget(keys: string[]): StorePipeline;
  mgetBuffer(keys: string[]): StorePipeline;
  tribWriteTiles(numberOfKeys: number, ...keysThenArgs: string[]): StorePipeline;
  tribWriteCache(numberOfKeys: number, ...keysThenArgs: string[]): StorePipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** One command of a batch: the slot its keys share (cluster mode) and how to add it to a pipeline. */
interface Routed {
  slot: number;
  add: (pipeline: StorePipeline) => void;
}

/** The slice of ioredis the store uses. */
export interface RedisClient {
  ping(): Promise<string>;
  mget(keys: string[]): Promise<(string | null)[]>;
  mgetBuffer(keys: string[]): Promise<(Buffer | null)[]>;
  pipeline(): unknown;
  defineCommand(name: string, definition: { lua: string }): void;
  status: string;
  quit(): Promise<unknown>;
  disconnect(): void;
  /** Set on an ioredis `Cluster`. */
  isCluster?: boolean;
  /** A `Cluster`'s slot map: the node keys (`host:port`, primary first) serving each slot. */
  slots?: string[][];
}

export interface RedisOnlineStoreOptions {
  /** Redis URL (e.g. `REDIS_URL`); ignored when `redis` or `clusterNodes` is given. */
  url?: string;
  /**
   * A Redis Cluster's nodes as `host:port` (`REDIS_CLUSTER_NODES`); some of them are enough, the
   * rest are discovered. Selects the cluster layout (docs/online-store.md); wins over `url`.
   */
  clusterNodes?: readonly string[];
  /**
   * An ioredis client (a `Redis`, or a `Cluster`: then the cluster layout) to use instead of
   * creating one; the store then leaves closing it to the caller.
   */
  redis?: Redis | Cluster;
  /** First part of every key, so several deployments or tests share one Redis; default `trib`. */
  prefix?: string;
  /** Entities per script call; default 500 (bounded so one call never blocks Redis for long). */
  rowsPerCall?: number;
  /** How long a command may take before failing with TRIB_ONLINE_STORE_UNAVAILABLE; default 10,000 ms. */
  commandTimeoutMs?: number;
  /**
   * How long a value outlives its view's ttl before Redis drops it; default 7 days. Reads
   * return a value past its ttl during the grace, so serving answers OUTSIDE_MAX_AGE (what
   * docs/architecture.md promises) instead of NOT_FOUND; the grace bounds the memory of entities that
   * stop sending events. 0 expires values exactly at event time + ttl.
   */
  ttlGraceMs?: number;
  /** How long connecting may take; default 5,000 ms. */
  connectTimeoutMs?: number;
  /**
   * The clock stream views' tiles expire by and are read at (epoch ms); default `Date.now`.
   * Injectable so tests can let minutes pass.
   */
  clock?: () => number;
  logger?: Logger;
}

/**
 * The online store on Redis: one string key per (view, entity) holding
 * `<eventTsMs>:<createdMs or empty>:<value lengths><JSON values>`. Writes go through `write_latest.lua` in
 * chunks within one pipeline (one round trip per batch); reads are a single MGET across all
 * views and entities. Layout and ttl semantics: docs/online-store.md.
 */
/** Values stay readable a week past their ttl, reported as OUTSIDE_MAX_AGE. */
export const DEFAULT_TTL_GRACE_MS = 7 * 24 * 3_600_000;

/**
 * Reads of at most this many keys wait for the end of the event-loop turn and share one MGET
 * with the other small reads of that turn: under load, lookups of one or a few entities cost a
 * socket write and a command each otherwise (a third of a 1 × 50 lookup's CPU). Bigger reads
 * go alone, as their replies are large already.
 */
const SHARED_READ_MAX_KEYS = 16;
/** The most keys one shared MGET carries. */
const SHARED_READ_BATCH_KEYS = 512;

/** Small reads of one event-loop turn, sent as one MGET. */
interface SharedRead {
  keys: string[];
  readers: { from: number; resolve: (values: (Buffer | null)[]) => void; reject: (error: unknown) => void }[];
}

export class RedisOnlineStore implements OnlineStore {
  readonly prefix: string;
  /**
   * The Redis Cluster layout: keys carry a hash tag (their bucket), and a batch's commands are
   * grouped by slot and sent as one pipeline per node. false: the single-Redis layout, unchanged.
   */
  readonly cluster: boolean;
  private readonly redis: RedisClient;
  /** The shared read of this turn still taking keys. */
  private sharedRead: SharedRead | null = null;
  private readonly ownsClient: boolean;
  private readonly rowsPerCall: number;
  private readonly ttlGraceMs: number;
  private readonly clock: () => number;

  constructor(options: RedisOnlineStoreOptions) {
    this.prefix = options.prefix ?? 'trib';
    this.rowsPerCall = Math.max(1, Math.floor(options.rowsPerCall ?? 500));
    this.ttlGraceMs = Math.max(0, options.ttlGraceMs ?? DEFAULT_TTL_GRACE_MS);
    this.clock = options.clock ?? Date.now;
    if (options.redis) {
      this.redis = options.redis as RedisClient;
      this.ownsClient = false;
    } else {
      const cluster = options.clusterNodes !== undefined && options.clusterNodes.length > 0;
      if (!options.url && !cluster)
        throw new TributaryError('TRIB_CONFIG_INVALID', 'the online store needs a Redis URL or client');
      const redisOptions: RedisOptions = {
        connectionName: `tributary:${this.prefix}`,
        connectTimeout: options.connectTimeoutMs ?? 5_000,
        commandTimeout: options.commandTimeoutMs ?? 10_000,
        // Fail a command after one reconnect attempt: the caller (the materializer) owns
        // retrying with backoff, and serving must answer rather than queue.
        maxRetriesPerRequest: 1,
      };
      const redis = cluster
        ? new Cluster(parseClusterNodes(options.clusterNodes!), {
            redisOptions,
            // Slots are read from the primaries, the only nodes the store talks to.
            scaleReads: 'master',
            slotsRefreshTimeout: options.connectTimeoutMs ?? 5_000,
          })
        : new Redis(options.url!, redisOptions);
      redis.on('error', (error: Error) =>
        options.logger?.warn({ err: error }, 'online store: Redis connection error'),
      );
      this.redis = redis as unknown as RedisClient;
      this.ownsClient = true;
    }
    this.cluster = this.redis.isCluster === true;
    this.redis.defineCommand('tribWriteLatest', { lua: WRITE_LATEST_LUA });
    this.redis.defineCommand('tribWriteTiles', { lua: WRITE_TILES_LUA });
    this.redis.defineCommand('tribWriteCache', { lua: WRITE_CACHE_LUA });
  }

  /**
   * The key of one entity of one view: `<prefix>:<view>:<join key>[:<join key>...]`; in cluster
   * mode `<prefix>:<view>:{<bucket>}:<join key>[:<join key>...]`, the bucket a stable hash of the
   * encoded join keys (cluster-slots.ts), so one entity's keys of all views share a slot.
   */
  keyOf(view: ViewLayout, keys: FeatureRow['keys']): string {
    if (keys.length !== view.joinKeys.length) {
      throw new TributaryError(
        'TRIB_MISSING_ENTITY',
        `feature view '${view.name}' needs ${view.joinKeys.length} join key(s) (${view.joinKeys.map((k) => k.name).join(', ')}), got ${keys.length}`,
      );
    }
    let encoded = '';
    for (let i = 0; i < keys.length; i++) {
      const column = view.joinKeys[i]!;
      encoded += `:${escapeKeyPart(encodeKeyValue(keys[i]!, column.type, column.name))}`;
    }
    const head = `${this.prefix}:${escapeKeyPart(view.name)}`;
    return this.cluster ? `${head}:{${bucketOf(encoded.slice(1))}}${encoded}` : head + encoded;
  }

  /**
   * `keys` (by index) in groups that may share a multi-key command: all of them, in order, on a
   * single Redis; those of one slot each on a cluster.
   */
  private slotGroups(keys: readonly string[]): { slot: number; at: number[] }[] {
    if (!this.cluster) return [{ slot: 0, at: keys.map((_, i) => i) }];
    const bySlot = new Map<number, number[]>();
    keys.forEach((key, i) => {
      const slot = keySlot(key);
      const held = bySlot.get(slot);
      if (held) held.push(i);
      else bySlot.set(slot, [i]);
    });
    return [...bySlot].map(([slot, at]) => ({ slot, at }));
  }

  /**
   * Sends `commands` and answers their replies in order (the first error as a coded one): one
   * pipeline on a single Redis; on a cluster one pipeline per node (by the client's slot map),
   * all sent at once, so a batch costs one round trip per node. Before the slot map is known
   * (not connected yet) each slot goes alone, which is always valid.
   */
  private async send(commands: readonly Routed[]): Promise<unknown[]> {
    if (commands.length === 0) return [];
    if (!this.cluster) {
      const pipeline = this.redis.pipeline() as StorePipeline;
      for (const command of commands) command.add(pipeline);
      return this.execPipeline(pipeline);
    }
    const slots = this.redis.slots ?? [];
    const byNode = new Map<string, number[]>();
    commands.forEach((command, i) => {
      const nodes = slots[command.slot];
      const node = nodes && nodes.length > 0 ? nodes.join(',') : `slot ${command.slot}`;
      const held = byNode.get(node);
      if (held) held.push(i);
      else byNode.set(node, [i]);
    });
    const replies = new Array<unknown>(commands.length);
    await Promise.all(
      [...byNode.values()].map(async (at) => {
        const pipeline = this.redis.pipeline() as StorePipeline;
        for (const i of at) commands[i]!.add(pipeline);
        const answered = await this.execPipeline(pipeline);
        at.forEach((i, n) => {
          replies[i] = answered[n];
        });
      }),
    );
    return replies;
  }

  async write(view: ViewLayout, rows: FeatureRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    if (view.aggregations) return this.writeTiles(view, rows);
    // Only each entity's latest row of the batch can win in Redis: reduce first, so a batch of
    // 20,000 events over 1,000 drivers costs Redis 1,000 comparisons, not 20,000.
    const latest = [...this.latestPerEntity(view, rows)];
    const lifetime = view.ttlMs > 0 ? view.ttlMs + this.ttlGraceMs : 0;
    const commands: Routed[] = [];
    for (const { slot, at } of this.slotGroups(latest.map(([key]) => key))) {
      for (let from = 0; from < at.length; from += this.rowsPerCall) {
        const keys: string[] = [];
        const args: string[] = [];
        for (const i of at.slice(from, from + this.rowsPerCall)) {
          const [key, row] = latest[i]!;
          keys.push(key);
          args.push(encodeValue(view, row), String(lifetime > 0 ? row.eventTimestamp + lifetime : 0));
        }
        commands.push({ slot, add: (p) => p.tribWriteLatest(keys.length, ...keys, ...args) });
      }
    }
    let applied = 0;
    for (const result of await this.send(commands)) {
      const [won, expired] = result as [number, number];
      applied += won + expired;
    }
    return applied;
  }

  /**
   * A stream view's events folded into their entities' tiles (layout in tiles.ts): per round, one
   * pipelined HMGET of the fields the events touch, the new states computed here, and one
   * pipelined compare-and-set (`write_tiles.lua`); entities another writer changed meanwhile go
   * round again. Returns the events that counted (a redelivered event counts nothing).
   */
  private async writeTiles(view: ViewLayout, rows: FeatureRow[]): Promise<number> {
    const tiles = tileLayoutOf(view);
    const byKey = new Map<string, FeatureRow[]>();
    for (const row of rows) {
      const key = this.keyOf(view, row.keys);
      const held = byKey.get(key);
      if (held) held.push(row);
      else byKey.set(key, [row]);
    }
    let pending = [...byKey.keys()];
    let applied = 0;
    for (let round = 0; pending.length > 0; round++) {
      if (round === TILE_WRITE_ROUNDS) {
        throw new TributaryError(
          'TRIB_ONLINE_STORE_UNAVAILABLE',
          `online store: ${pending.length} entities of '${view.name}' kept changing under ${TILE_WRITE_ROUNDS} writes in a row; retrying`,
        );
      }
      const fields = pending.map((key) => fieldsToRead(tiles, byKey.get(key)!));
      const stored = await this.send(
        pending.map((key, i) => ({
          slot: this.cluster ? keySlot(key) : 0,
          add: (p) => p.hmget(key, ...fields[i]!.fields),
        })),
      );
      const now = this.clock();
      const plans: { key: string; write: TileWrite }[] = [];
      pending.forEach((key, i) => {
        const write = planTileWrite(tiles, byKey.get(key)!, fields[i]!, stored[i] as (string | null)[], now);
        if (write) plans.push({ key, write });
      });
      const cutoffs = cutoffsOf(tiles, now);
      const chunks: (typeof plans)[] = [];
      const commands: Routed[] = [];
      for (const { slot, at } of this.slotGroups(plans.map((p) => p.key))) {
        for (let from = 0; from < at.length; from += this.rowsPerCall) {
          const chunk = at.slice(from, from + this.rowsPerCall).map((i) => plans[i]!);
          const args: string[] = [];
          for (const { write } of chunk) {
            args.push(write.expectedVersion, write.cleanup ? '1' : '0', String(write.expireAt));
            args.push(String(write.pairs.length / 2), ...write.pairs);
          }
          chunks.push(chunk);
          commands.push({
            slot,
            add: (p) => p.tribWriteTiles(chunk.length, ...chunk.map((c) => c.key), ...cutoffs, ...args),
          });
        }
      }
      const results = await this.send(commands);
      const conflicted: string[] = [];
      results.forEach((result, c) => {
        (result as number[]).forEach((written, n) => {
          const { key, write } = chunks[c]![n]!;
          if (written === 1) applied += write.applied;
          else conflicted.push(key);
        });
      });
      pending = conflicted;
      // Two writers that collide would collide again in lockstep: a random pause breaks that.
      if (pending.length > 0)
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * (round + 1)));
    }
    return applied;
  }

  /** Runs a pipeline; the replies in order, or the first error as a coded one. */
  private async execPipeline(pipeline: {
    exec(): Promise<[Error | null, unknown][] | null>;
  }): Promise<unknown[]> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      throw onlineError(error);
    }
    if (!results) throw new TributaryError('TRIB_ONLINE_STORE_UNAVAILABLE', 'online store: pipeline aborted');
    return results.map(([error, result]) => {
      if (error) throw onlineError(error);
      return result;
    });
  }

  /**
   * Stream views' records at `t`: one pipelined HMGET per entity of its window cache (tiles.ts);
   * entities whose cache is not for this version and window are read whole (HGETALL, a second
   * round trip), merged, and their cache written back without waiting for it.
   */
  private async readTiles(
    requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[],
    t: number,
  ): Promise<(TileRecord | null)[][]> {
    const entities: { view: ViewLayout; key: string }[] = [];
    for (const { view, keys } of requests)
      for (const k of keys) entities.push({ view, key: this.keyOf(view, k) });
    if (entities.length === 0) return requests.map(() => []);
    const replies = (await this.send(
      entities.map(({ view, key }) => ({
        slot: this.cluster ? keySlot(key) : 0,
        add: (p) => p.hmget(key, ...cachedReadFields(view)),
      })),
    )) as (string | null)[][];
    const records = entities.map(({ view }, i) =>
      this.decodeTiles(view, () => cachedValuesAt(view, replies[i]!, t)),
    );
    const misses = entities.flatMap((entity, i) => (records[i] === undefined ? [{ ...entity, i }] : []));
    if (misses.length > 0) {
      const hashes = (await this.send(
        misses.map(({ key }) => ({ slot: this.cluster ? keySlot(key) : 0, add: (p) => p.hgetall(key) })),
      )) as Record<string, string>[];
      const writes: Routed[] = [];
      misses.forEach(({ view, key, i }, m) => {
        const hash = hashes[m]!;
        const record = this.decodeTiles(view, () => valuesAt(view, hash, t));
        records[i] = record ?? null;
        if (record) {
          const version = hash[VERSION_FIELD] ?? '0';
          const entries = cacheEntries(view, version, t, record);
          writes.push({
            slot: this.cluster ? keySlot(key) : 0,
            add: (p) => p.tribWriteCache(1, key, version, ...entries),
          });
        }
      });
      // The answer does not wait for the cache; a failed write only means the next read merges again.
      this.send(writes).catch(() => undefined);
    }
    let at = 0;
    return requests.map(({ keys }) => keys.map(() => records[at++] ?? null));
  }

  private decodeTiles<R>(view: ViewLayout, decode: () => R): R {
    try {
      return decode();
    } catch (error) {
      throw new TributaryError('TRIB_INTERNAL', `online store: undecodable tiles for view '${view.name}'`, {
        cause: error,
      });
    }
  }

  /**
   * Each entity's latest row of the batch, by Redis key. A view with one int64 or string join key
   * (nearly all) groups by the key value itself and builds keys for the winners only; a value
   * that could name its entity in another form (an int64 given as a number) takes the full key,
   * which both groups meet in at the end.
   */
  private latestPerEntity(view: ViewLayout, rows: readonly FeatureRow[]): Map<string, FeatureRow> {
    const byKey = new Map<string, FeatureRow>();
    const only = view.joinKeys.length === 1 ? view.joinKeys[0]!.type : undefined;
    const byValue = new Map<bigint | string, FeatureRow>();
    for (const row of rows) {
      const value = row.keys[0];
      const direct =
        (only === 'int64' && typeof value === 'bigint') || (only === 'string' && typeof value === 'string');
      if (direct && row.keys.length === 1) {
        const held = byValue.get(value);
        if (held === undefined || isLater(row, held)) byValue.set(value, row);
        continue;
      }
      const key = this.keyOf(view, row.keys);
      const held = byKey.get(key);
      if (held === undefined || isLater(row, held)) byKey.set(key, row);
    }
    if (byValue.size === 0) return byKey;
    const latest = new Map<string, FeatureRow>();
    for (const row of byValue.values()) latest.set(this.keyOf(view, row.keys), row);
    for (const [key, row] of byKey) {
      const held = latest.get(key);
      if (held === undefined || isLater(row, held)) latest.set(key, row);
    }
    return latest;
  }

  async read(
    requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[],
    options: OnlineReadOptions = {},
  ): Promise<(OnlineRecord | null)[][]> {
    return this.readBoth(
      requests,
      options,
      (plain) => this.readWith(plain, (keys) => this.mget(keys, false), decodeValue),
      tileRecordDecoded,
    );
  }

  /**
   * `read` with each record's values left as the stored JSON text (see `OnlineStore.readJson`),
   * in the bytes Redis sent: nothing is decoded to a string.
   */
  async readJson(
    requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[],
    options: OnlineReadOptions = {},
  ): Promise<(OnlineRecordJson | null)[][]> {
    return this.readBoth(
      requests,
      options,
      (plain) => this.readWith(plain, (keys) => this.mgetBuffer(keys), splitValue),
      (view, record) => jsonRecordOf(tileRecordDecoded(view, record)),
    );
  }

  /**
   * Plain views through `readPlain` (one MGET), stream views through their hashes; both sent
   * before either answer is awaited, so a lookup mixing them is still one round trip.
   */
  private async readBoth<R>(
    requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[],
    options: OnlineReadOptions,
    readPlain: (requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[]) => Promise<(R | null)[][]>,
    fromTiles: (view: ViewLayout, record: TileRecord) => R,
  ): Promise<(R | null)[][]> {
    if (!requests.some((r) => r.view.aggregations)) return readPlain(requests);
    const plain = requests.filter((r) => !r.view.aggregations);
    const stream = requests.filter((r) => r.view.aggregations);
    const [plainRecords, streamRecords] = await Promise.all([
      plain.length > 0 ? readPlain(plain) : [],
      this.readTiles(stream, options.at ?? this.clock()),
    ]);
    let p = 0;
    let s = 0;
    return requests.map((request) =>
      request.view.aggregations
        ? streamRecords[s++]!.map((record) => (record === null ? null : fromTiles(request.view, record)))
        : plainRecords[p++]!,
    );
  }

  /**
   * `keys`' values by MGET: one on a single Redis; on a cluster one per slot, pipelined per node
   * and sent to all nodes at once (`send`), answered in `keys`' order.
   */
  private mget(keys: string[], buffers: false): Promise<(string | null)[]>;
  private mget(keys: string[], buffers: true): Promise<(Buffer | null)[]>;
  private async mget(keys: string[], buffers: boolean): Promise<(string | Buffer | null)[]> {
    if (!this.cluster) return buffers ? this.redis.mgetBuffer(keys) : this.redis.mget(keys);
    const groups = this.slotGroups(keys);
    const replies = await this.send(
      groups.map(({ slot, at }) => {
        const slice = at.map((i) => keys[i]!);
        return { slot, add: (p) => (buffers ? p.mgetBuffer(slice) : p.mget(slice)) };
      }),
    );
    const values = new Array<string | Buffer | null>(keys.length);
    groups.forEach(({ at }, g) => {
      const answered = replies[g] as (string | Buffer | null)[];
      at.forEach((i, n) => {
        values[i] = answered[n] ?? null;
      });
    });
    return values;
  }

  /** `MGET` with Buffer replies; small reads share one with the other small reads of this turn. */
  private mgetBuffer(keys: string[]): Promise<(Buffer | null)[]> {
    if (keys.length > SHARED_READ_MAX_KEYS) return this.mget(keys, true);
    let batch = this.sharedRead;
    if (batch === null || batch.keys.length + keys.length > SHARED_READ_BATCH_KEYS) {
      const next: SharedRead = { keys: [], readers: [] };
      batch = this.sharedRead = next;
      // After the I/O callbacks of this turn (the other requests that arrived with this one).
      setImmediate(() => this.sendSharedRead(next));
    }
    const from = batch.keys.length;
    for (const key of keys) batch.keys.push(key);
    const { readers } = batch;
    return new Promise((resolve, reject) => readers.push({ from, resolve, reject }));
  }

  private sendSharedRead(batch: SharedRead): void {
    if (this.sharedRead === batch) this.sharedRead = null;
    const { keys, readers } = batch;
    this.mget(keys, true).then(
      (values) => {
        readers.forEach((reader, i) => {
          reader.resolve(values.slice(reader.from, readers[i + 1]?.from ?? keys.length));
        });
      },
      (error: unknown) => {
        for (const reader of readers) reader.reject(error);
      },
    );
  }

  /** One MGET (`fetch`) for every view and entity, each stored value handed to `decode`. */
  private async readWith<S, R>(
    requests: { view: ViewLayout; keys: FeatureRow['keys'][] }[],
    fetch: (keys: string[]) => Promise<(S | null)[]>,
    decode: (view: ViewLayout, stored: S) => R,
  ): Promise<(R | null)[][]> {
    const keys: string[] = [];
    for (const { view, keys: entities } of requests) for (const k of entities) keys.push(this.keyOf(view, k));
    if (keys.length === 0) return requests.map(() => []);
    let stored: (S | null)[];
    try {
      stored = await fetch(keys);
    } catch (error) {
      throw onlineError(error);
    }
    let at = 0;
    return requests.map(({ view, keys: entities }) =>
      entities.map(() => {
        const value = stored[at++];
        if (value == null) return null;
        try {
          return decode(view, value);
        } catch (error) {
          throw new TributaryError(
            'TRIB_INTERNAL',
            `online store: undecodable value for view '${view.name}'`,
            {
              cause: error,
            },
          );
        }
      }),
    );
  }

  /** Resolves when Redis answers PING (for /health); TRIB_ONLINE_STORE_UNAVAILABLE otherwise. */
  async ping(): Promise<void> {
    await this.redis.ping().catch((error: unknown) => {
      throw onlineError(error);
    });
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}

/**
 * Where the online store lives by the configuration: the Redis Cluster of REDIS_CLUSTER_NODES
 * when set (it wins over REDIS_URL, which always has a value), else the Redis of REDIS_URL; with
 * the variable to name when it cannot be reached.
 */
export function onlineTarget(config: { redisUrl: string; redisClusterNodes: readonly string[] }): {
  connection: Pick<RedisOnlineStoreOptions, 'url' | 'clusterNodes'>;
  variable: 'REDIS_URL' | 'REDIS_CLUSTER_NODES';
} {
  return config.redisClusterNodes.length > 0
    ? { connection: { clusterNodes: config.redisClusterNodes }, variable: 'REDIS_CLUSTER_NODES' }
    : { connection: { url: config.redisUrl }, variable: 'REDIS_URL' };
}

/** Last-write-wins order, as write_latest.lua decides it: event time, then created (none loses); a tie keeps the held row. */
function isLater(row: FeatureRow, held: FeatureRow): boolean {
  if (row.eventTimestamp !== held.eventTimestamp) return row.eventTimestamp > held.eventTimestamp;
  return (row.created ?? Number.NEGATIVE_INFINITY) > (held.created ?? Number.NEGATIVE_INFINITY);
}

/** `%` and `:` escaped, so `:` only ever separates key parts and every key decodes one way. */
export function escapeKeyPart(part: string): string {
  return /[%:]/.test(part) ? part.replace(/%/g, '%25').replace(/:/g, '%3A') : part;
}

/** One canonical text per key value, so `1001`, `1001n` and `'1001'` name the same int64 entity. */
function encodeKeyValue(value: KeyValue, type: ValueType, name: string): string {
  switch (type) {
    case 'int64':
      if (typeof value === 'bigint') return value.toString();
      if (
        (typeof value === 'number' && Number.isSafeInteger(value)) ||
        (typeof value === 'string' && /^-?\d+$/.test(value))
      ) {
        return BigInt(value).toString();
      }
      break;
    case 'float64':
    case 'timestamp':
      if (typeof value === 'number' && Number.isFinite(value)) return String(value);
      break;
    case 'string':
      if (typeof value === 'string') return value;
      break;
    case 'bool':
      if (typeof value === 'boolean') return value ? 'true' : 'false';
      break;
  }
  throw new TributaryError(
    'TRIB_WRONG_TYPE',
    `join key '${name}' must be ${type}, got ${typeof value} ${String(value)}`,
    {
      details: { field: name },
    },
  );
}

/**
 * `<eventTsMs>:<createdMs or empty>:<value lengths><JSON values>`; int64 values are JSON strings
 * so they stay exact. The value lengths (value-lengths.ts) let `readJson` readers
 * cut out each value without scanning the JSON; values stored before there were lengths (a bare
 * JSON array after the second `:`) still read.
 */
function encodeValue(view: ViewLayout, row: FeatureRow): string {
  const values = view.features.map((feature, i): JsonArrayValue => {
    const value = row.values[i];
    if (value === null || value === undefined) return null;
    if (typeof value === 'bigint') return value.toString();
    if (feature.type === 'int64' && typeof value === 'number') return String(value);
    return value;
  });
  return `${row.eventTimestamp}:${row.created ?? ''}:${jsonArrayWithLengths(values)}`;
}

const COLON = 58; // :

/** Index of the first `byte` in `bytes` at or after `from`, else -1 (the prefix is a few bytes: no native call). */
function indexOfByte(bytes: Uint8Array, byte: number, from: number): number {
  for (let i = from; i < bytes.length; i++) if (bytes[i] === byte) return i;
  return -1;
}

/** `Number()` of the ASCII text `bytes[start..end)`; plain integers (what `write` stores) without making a string. */
function numberAt(bytes: Buffer, start: number, end: number): number {
  const negative = bytes[start] === 45; // -
  const first = negative ? start + 1 : start;
  // Up to 15 digits the running value stays an exact integer; anything else goes through Number().
  if (end > first && end - first <= 15) {
    let value = 0;
    let i = first;
    for (; i < end; i++) {
      const digit = bytes[i]! - 48;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (i === end) return negative ? -value : value;
  }
  return Number(bytes.toString('utf8', start, end));
}

/** The stored value's parts, the values left as the JSON array's bytes (with their lengths when stored). */
function splitValue(_view: ViewLayout, stored: Buffer): JsonRecord {
  const first = indexOfByte(stored, COLON, 0);
  const second = first < 0 ? -1 : indexOfByte(stored, COLON, first + 1);
  if (first <= 0 || second < 0) {
    throw new Error(`not <eventTs>:<created>:<values>: ${stored.toString('utf8', 0, 80)}`);
  }
  const eventTimestamp = numberAt(stored, 0, first);
  if (!Number.isFinite(eventTimestamp))
    throw new Error(`bad event timestamp: ${stored.toString('utf8', 0, 80)}`);
  const lengthsFrom = second + 1;
  const valuesAt = valueLengthsEnd(stored, lengthsFrom);
  if (valuesAt < 0) throw new Error(`not <value lengths><JSON values>: ${stored.toString('utf8', 0, 80)}`);
  return new JsonRecord(
    eventTimestamp,
    second === first + 1 ? null : numberAt(stored, first + 1, second),
    stored.subarray(valuesAt),
    valuesAt > lengthsFrom ? stored : null,
    lengthsFrom,
    valuesAt,
  );
}

function decodeValue(view: ViewLayout, stored: string): OnlineRecord {
  const first = stored.indexOf(':');
  const second = stored.indexOf(':', first + 1);
  const created = stored.slice(first + 1, second);
  // Past the value lengths, if any: they never hold a `[`.
  const valuesAt = stored.indexOf('[', second + 1);
  if (valuesAt < 0) throw new Error(`no JSON values: ${stored.slice(0, 80)}`);
  const raw = JSON.parse(stored.slice(valuesAt)) as JsonArrayValue[];
  return {
    eventTimestamp: Number(stored.slice(0, first)),
    created: created === '' ? null : Number(created),
    // Positional: a feature appended to the view after this value was written reads as null.
    values: view.features.map((feature, i): FeatureValue => {
      const value = raw[i];
      if (value === null || value === undefined) return null;
      return feature.type === 'int64' ? BigInt(value) : value;
    }),
  };
}

/** A stream view's record with its values typed as `read` answers them (count as int64). */
function tileRecordDecoded(view: ViewLayout, record: TileRecord): OnlineRecord {
  const aggregations = view.aggregations!;
  return {
    eventTimestamp: record.eventTimestamp,
    created: record.created,
    values: record.values.map((value, i) =>
      aggregations[i]!.type === 'int64' && typeof value === 'number' ? BigInt(value) : value,
    ),
  };
}

/** Reply errors that mean "Redis cannot serve right now", not "this command is wrong". */
const UNAVAILABLE_REPLIES =
  /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|OOM|NOREPLICAS|MISCONF|MOVED|ASK)\b/;

/**
 * Maps a failure to a coded error: a connection that is down, closed or slow, and Redis
 * refusing for a while, become the retriable TRIB_ONLINE_STORE_UNAVAILABLE.
 */
export function onlineError(error: unknown): TributaryError {
  if (error instanceof TributaryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const isReply = error instanceof Error && error.name === 'ReplyError';
  if (!isReply || UNAVAILABLE_REPLIES.test(message)) {
    // The driver's own text ("Reached the max retries per request limit (which is 1)...") says
    // nothing a client can act on; it stays in `cause` for the logs.
    const reason = isReply ? message.split(' ')[0] : 'cannot reach Redis';
    return new TributaryError(
      'TRIB_ONLINE_STORE_UNAVAILABLE',
      `online store unavailable (${reason}); retry shortly, and check REDIS_URL (or REDIS_CLUSTER_NODES) if it persists`,
      { cause: error },
    );
  }
  return new TributaryError('TRIB_INTERNAL', `online store: ${message}`, { cause: error });
}
