/**
 * How many online-store keys each feature view holds, for the dashboard's feature views page.
 * Redis has no count per key pattern: the only way is SCAN, which walks the whole keyspace
 * whatever MATCH says. So one bounded pass over `<prefix>:*` counts every view at once (a
 * MATCH per view would walk the keyspace once per view for the same answer), stops at a time
 * and call budget, and is cached: a page answers fast on a Redis holding millions of keys, and
 * says "at least N" when the pass stopped early.
 */

import { Redis } from 'ioredis';
import type { Logger } from '../../logger.ts';
import { escapeKeyPart, onlineError } from './redis.ts';

/** Keys of one view as the last pass counted them. */
export interface OnlineKeyCount {
  /** Keys found under `<prefix>:<view>:`; a lower bound when `capped`. */
  keys: number;
  /** The pass stopped at its budget before the end of the keyspace. */
  capped: boolean;
  /** When the pass ended, epoch ms. */
  countedAt: number;
}

/** The dashboard's view of the online store's size. */
export interface OnlineKeyCounter {
  countKeys(view: string): Promise<OnlineKeyCount>;
  close(): Promise<void>;
}

/** The slice of ioredis the counter uses. */
export interface ScanClient {
  scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[cursor: string, elements: string[]]>;
  status: string;
  quit(): Promise<unknown>;
  disconnect(): void;
}

export interface RedisKeyCounterOptions {
  /** Redis URL; ignored when `redis` is given. */
  url?: string;
  /** A client to use instead of opening one; closing it is then the caller's. */
  redis?: ScanClient;
  /** The online store's key prefix (`RedisOnlineStore.prefix`); default `trib`. */
  prefix?: string;
  /** The COUNT hint of each SCAN call; default 1,000 (each call stays well under a millisecond in Redis). */
  countPerCall?: number;
  /** Longest a pass may run; default 500 ms. */
  budgetMs?: number;
  /** Most SCAN calls of a pass; default 1,000 (about a million keys looked at). */
  maxCalls?: number;
  /** How long a pass's counts are reused; default 30 s. */
  cacheMs?: number;
  logger?: Logger;
  now?: () => number;
}

interface Pass {
  /** Keys by the view part of the key, as written (escaped). */
  byView: Map<string, number>;
  capped: boolean;
  countedAt: number;
}

/** `*`, `?`, `[`, `]` and `\` escaped: SCAN's MATCH is a glob, and a prefix may hold any of them. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export class RedisKeyCounter implements OnlineKeyCounter {
  private readonly redis: ScanClient;
  private readonly ownsClient: boolean;
  private readonly prefix: string;
  private readonly countPerCall: number;
  private readonly budgetMs: number;
  private readonly maxCalls: number;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private last: Pass | null = null;
  /** The pass under way: concurrent page loads share it rather than each scanning. */
  private running: Promise<Pass> | null = null;

  constructor(options: RedisKeyCounterOptions) {
    this.prefix = options.prefix ?? 'trib';
    this.countPerCall = Math.max(1, Math.floor(options.countPerCall ?? 1_000));
    this.budgetMs = Math.max(1, options.budgetMs ?? 500);
    this.maxCalls = Math.max(1, Math.floor(options.maxCalls ?? 1_000));
    this.cacheMs = Math.max(0, options.cacheMs ?? 30_000);
    this.now = options.now ?? Date.now;
    if (options.redis) {
      this.redis = options.redis;
      this.ownsClient = false;
    } else {
      // A connection of its own, opened on the first page that asks: a pass's SCAN replies
      // never queue in front of the lookups' MGETs on the online store's socket.
      const redis = new Redis(options.url ?? 'redis://127.0.0.1:6379', {
        connectionName: `tributary:${this.prefix}:key-count`,
        lazyConnect: true,
        connectTimeout: 2_000,
        commandTimeout: 2_000,
        maxRetriesPerRequest: 1,
      });
      redis.on('error', (error: Error) =>
        options.logger?.debug({ err: error }, 'online key count: Redis connection error'),
      );
      this.redis = redis;
      this.ownsClient = true;
    }
  }

  async countKeys(view: string): Promise<OnlineKeyCount> {
    const pass = await this.pass();
    // Counted by the view part of the key as written: escaped as the store escapes it.
    return {
      keys: pass.byView.get(escapeKeyPart(view)) ?? 0,
      capped: pass.capped,
      countedAt: pass.countedAt,
    };
  }

  private pass(): Promise<Pass> {
    if (this.last && this.now() - this.last.countedAt < this.cacheMs) return Promise.resolve(this.last);
    this.running ??= this.scan().then(
      (pass) => {
        this.last = pass;
        this.running = null;
        return pass;
      },
      (error: unknown) => {
        this.running = null;
        throw onlineError(error);
      },
    );
    return this.running;
  }

  private async scan(): Promise<Pass> {
    // The store writes the prefix as given (RedisOnlineStore.keyOf), view names escaped.
    const head = `${this.prefix}:`;
    const pattern = `${escapeGlob(head)}*`;
    const byView = new Map<string, number>();
    const started = this.now();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', this.countPerCall);
      cursor = next;
      calls++;
      for (const key of keys) {
        const end = key.indexOf(':', head.length);
        // `<prefix>:<view>:<join keys>`: anything else under the prefix is not a view's.
        if (end < 0) continue;
        const view = key.slice(head.length, end);
        byView.set(view, (byView.get(view) ?? 0) + 1);
      }
    } while (cursor !== '0' && calls < this.maxCalls && this.now() - started < this.budgetMs);
    return { byView, capped: cursor !== '0', countedAt: this.now() };
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
