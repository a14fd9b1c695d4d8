/**
 * The read side of the drift monitor, for HTTP routes and tools: closed windows, retraining
 * requests, a drift summary per model, and stored profiles. Validates its parameters and throws
 * TRIB_BAD_REQUEST / TRIB_NOT_FOUND, so any transport maps the errors the same way.
 */

import { TributaryError } from '../errors.ts';
import { createPool, type PgPool } from '../postgres/index.ts';
import { PostgresProfileStore } from '../profiles/postgres.ts';
import type { ProfileStore } from '../profiles/store.ts';
import type { WindowDetail } from './detail.ts';
import type { DriftEvent, RetrainEvent } from './events.ts';
import { PostgresMonitorStore } from './postgres.ts';
import type { MonitorQueryStore, WebhookHealth } from './store.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1_000;
/** The largest epoch-ms time a JavaScript Date holds. */
const MAX_TIME_MS = 8.64e15;

/** Raw query parameters as they come from a URL. */
export interface RangeParams {
  from?: string | number;
  to?: string | number;
  limit?: string | number;
  model_version?: string;
  drifted?: string | boolean;
}

/** Epoch ms from an epoch-ms number or an ISO-8601 string; throws TRIB_BAD_REQUEST naming the parameter. */
export function parseTime(name: string, value: string | number | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = typeof value === 'number' || /^-?\d+$/.test(value) ? Number(value) : Date.parse(value);
  // Beyond ±8.64e15 ms no Date exists (and 1e20 overflows the bigint column): the request's fault.
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME_MS) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `${name}=${JSON.stringify(value)}: expected epoch milliseconds or an ISO-8601 time within ±${MAX_TIME_MS}`,
      {
        details: { field: name },
      },
    );
  }
  return ms;
}

function parseLimit(value: string | number | undefined): number {
  if (value === undefined || value === '') return DEFAULT_LIMIT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `limit=${JSON.stringify(value)}: expected an integer from 1 to ${MAX_LIMIT}`,
      {
        details: { field: 'limit' },
      },
    );
  }
  return n;
}

/** Per column, over the windows considered: how often it drifted and its latest verdict. */
export interface ColumnDriftSummary {
  name: string;
  kind: string;
  /** The latest method that measured the column; null when no window measured it. */
  method: string | null;
  windows: number;
  drifted_windows: number;
  drift_rate: number;
  latest_score: number | null;
  latest_drifted: boolean;
}

export interface DriftSummary {
  model: string;
  /** Windows considered (newest first, up to the limit, within from/to). */
  windows: number;
  drifted_windows: number;
  latest: DriftEvent | null;
  /** Consecutive drifted windows ending at the latest one. */
  current_drift_streak: number;
  columns: ColumnDriftSummary[];
  latest_retrain: RetrainEvent | null;
}

export class MonitorQueries {
  constructor(
    private readonly store: MonitorQueryStore,
    private readonly profileStore?: ProfileStore,
  ) {}

  /** Models with closed windows. */
  models(): Promise<{ model: string; windows: number; lastWindowEnd: number }[]> {
    return this.store.models();
  }

  /** Closed windows (drift events) of a model, newest first. */
  windows(model: string, params: RangeParams = {}): Promise<DriftEvent[]> {
    const from = parseTime('from', params.from);
    const to = parseTime('to', params.to);
    return this.store.windows({
      model,
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      ...(params.model_version ? { modelVersion: params.model_version } : {}),
      onlyDrifted: params.drifted === true || params.drifted === 'true',
      limit: parseLimit(params.limit),
    });
  }

  /**
   * One closed window with its detail (histograms, shares); `detail` is null once the window is
   * older than the last N kept. TRIB_NOT_FOUND when the model has no window with that id.
   */
  async window(model: string, id: string): Promise<{ window: DriftEvent; detail: WindowDetail | null }> {
    const found = await this.store.window(model, id);
    if (!found) {
      throw new TributaryError('TRIB_NOT_FOUND', `model '${model}' has no closed window '${id}'`);
    }
    return { window: found.event, detail: found.detail };
  }

  /** Webhook deliveries not yet delivered, per model. */
  webhookHealth(): Promise<WebhookHealth[]> {
    return this.store.webhookHealth();
  }

  retrains(model: string, params: RangeParams = {}): Promise<RetrainEvent[]> {
    const from = parseTime('from', params.from);
    const to = parseTime('to', params.to);
    return this.store.retrains({
      model,
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      limit: parseLimit(params.limit),
    });
  }

  /** Drift of a model over its recent windows; TRIB_NOT_FOUND when it has none. */
  async drift(model: string, params: RangeParams = {}): Promise<DriftSummary> {
    const windows = await this.windows(model, { ...params, drifted: false });
    if (windows.length === 0) {
      throw new TributaryError(
        'TRIB_NOT_FOUND',
        `no closed drift windows for model '${model}' in that range`,
      );
    }
    const columns = new Map<string, ColumnDriftSummary>();
    // Oldest first, so "latest" ends up as the newest window's verdict.
    for (const w of [...windows].reverse()) {
      for (const c of w.prediction ? [...w.features, w.prediction] : w.features) {
        const s = columns.get(c.name) ?? {
          name: c.name,
          kind: c.kind,
          method: c.method,
          windows: 0,
          drifted_windows: 0,
          drift_rate: 0,
          latest_score: null,
          latest_drifted: false,
        };
        s.windows++;
        if (c.drifted) s.drifted_windows++;
        s.drift_rate = s.drifted_windows / s.windows;
        if (c.method !== null) s.method = c.method;
        s.latest_score = c.score;
        s.latest_drifted = c.drifted;
        columns.set(c.name, s);
      }
    }
    let streak = 0;
    while (streak < windows.length && windows[streak]!.dataset.drifted) streak++;
    const [latestRetrain] = await this.store.retrains({ model, limit: 1 });
    return {
      model,
      windows: windows.length,
      drifted_windows: windows.filter((w) => w.dataset.drifted).length,
      latest: windows[0] ?? null,
      current_drift_streak: streak,
      columns: [...columns.values()],
      latest_retrain: latestRetrain ?? null,
    };
  }

  /** Stored reference profiles of a model (versions, sizes), newest first. */
  async profiles(model: string): Promise<{ modelVersion: string; createdAt: string; rows: number }[]> {
    if (!this.profileStore) return [];
    return this.profileStore.list(model);
  }
}

/**
 * Opens the Postgres-backed queries (`schema` as the monitor uses, default tributary_monitor).
 * On the process's shared `pool` (the serving app's), `close` leaves it open; given a
 * `databaseUrl` instead, the queries get a small pool of their own, which `close` ends.
 */
export function openMonitorQueries(
  options: ({ pool: PgPool } | { databaseUrl: string }) & { schema?: string },
): {
  queries: MonitorQueries;
  close(): Promise<void>;
} {
  const owned = 'pool' in options ? null : createPool({ connectionString: options.databaseUrl, max: 2 });
  const pool = 'pool' in options ? options.pool : owned!;
  const store = new PostgresMonitorStore(pool, options.schema);
  const profiles = new PostgresProfileStore(pool, options.schema);
  return { queries: new MonitorQueries(store, profiles), close: async () => owned?.end() };
}
