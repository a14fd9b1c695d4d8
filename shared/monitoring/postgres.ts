/** The Postgres adapter of the monitor's state, outbox and query ports (one schema, see postgres/schema.sql). */

import type { TributaryError } from '../errors.ts';
import {
  createPool,
  loadSql,
  type PgClient,
  type PgPool,
  postgresError,
  quoteSchema,
  sqlState,
  transaction,
} from '../postgres/index.ts';
import { DEFAULT_KEEP_WINDOW_DETAIL, type WindowDetail } from './detail.ts';
import type { DriftEvent, RetrainEvent } from './events.ts';
import type {
  Checkpoint,
  LoadedState,
  MonitorQueryStore,
  MonitorStateStore,
  OutboxRow,
  OutboxStore,
  WebhookHealth,
  WindowQuery,
} from './store.ts';

interface OutboxRecord {
  id: string;
  delivery_id: string;
  event_id: string;
  event_type: 'drift' | 'retrain';
  kind: 'kafka' | 'webhook';
  destination: string;
  message_key: string | null;
  headers: Record<string, string>;
  body: string;
  attempts: number;
}

/** The Postgres schema of profiles, window state, outbox and events unless configured otherwise. */
export const DEFAULT_MONITOR_SCHEMA = 'tributary_monitor';

/** A schema or table the monitor has not created yet: reads of it are empty, not failures. */
export function isMissingRelation(error: unknown): boolean {
  const code = sqlState(error);
  return code === '42P01' || code === '3F000';
}

/** A failure of the monitor's store, coded by the one SQLSTATE mapping. */
export function storeError(error: unknown, what: string): TributaryError {
  return postgresError(error, what);
}

export class PostgresMonitorStore implements MonitorStateStore, OutboxStore, MonitorQueryStore {
  private readonly s: string;
  private readonly ownsPool: boolean;
  readonly pool: PgPool;

  /** Where advisory locks are held: one connection per running monitor, for as long as it runs. */
  private readonly locks: PgPool;

  /**
   * `locks` is the pool the monitors' advisory locks take their connections from. It must not
   * be the work pool in a process running many monitors: each lock holds its connection for
   * the monitor's lifetime, so N monitors on a pool of N connections left none for the work
   * and the process hung at start. Defaults to the work pool (a single monitor, tests).
   */
  /** Windows per model whose detail (histograms, shares) is kept; 0 keeps none. */
  readonly keepWindowDetail: number;

  constructor(
    poolOrUrl: PgPool | string,
    readonly schema = DEFAULT_MONITOR_SCHEMA,
    locks?: PgPool,
    options: { keepWindowDetail?: number } = {},
  ) {
    this.keepWindowDetail = options.keepWindowDetail ?? DEFAULT_KEEP_WINDOW_DETAIL;
    this.ownsPool = typeof poolOrUrl === 'string';
    this.pool =
      typeof poolOrUrl === 'string'
        ? createPool({ connectionString: poolOrUrl, max: 4, applicationName: 'tributary-monitor' })
        : poolOrUrl;
    this.locks = locks ?? this.pool;
    this.s = quoteSchema(schema);
  }

  async ensureSchema(): Promise<void> {
    try {
      await this.pool.query(
        loadSql(new URL('./postgres/schema.sql', import.meta.url), { schema: this.schema }),
      );
    } catch (error) {
      throw storeError(error, 'cannot create the monitor tables');
    }
  }

  async tryLock(monitor: string): Promise<(() => Promise<void>) | null> {
    // A session-level advisory lock on a connection of its own, held while the monitor runs: it
    // goes away with the process, so a crashed monitor never blocks its successor.
    const client = await this.locks.connect().catch((error: unknown) => {
      throw storeError(error, 'cannot lock the monitor');
    });
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked`,
        [`tributary-monitor:${this.schema}`, monitor],
      );
      if (!rows[0]?.locked) {
        client.release();
        return null;
      }
    } catch (error) {
      client.release();
      throw storeError(error, 'cannot lock the monitor');
    }
    let released = false;
    // A checked-out connection reports its own loss on the client, not the pool: unhandled,
    // that ends the process. The lock went with the connection; the monitor's offsets are
    // checkpointed with its state in one transaction, so a standby taking over meanwhile
    // counts nothing twice.
    client.on('error', () => {
      released = true;
      client.release(true);
    });
    return async () => {
      if (released) return;
      released = true;
      try {
        await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [
          `tributary-monitor:${this.schema}`,
          monitor,
        ]);
        client.release();
      } catch (error) {
        client.release(error as Error); // drop the connection: that frees the lock too
      }
    };
  }

  async load(monitor: string): Promise<LoadedState> {
    try {
      const state = await this.pool.query<{ state: unknown }>(
        `SELECT state FROM ${this.s}.monitor_state WHERE monitor = $1`,
        [monitor],
      );
      const offsets = await this.pool.query<{ topic: string; partition: number; last_offset: string }>(
        `SELECT topic, partition, last_offset FROM ${this.s}.monitor_offsets WHERE monitor = $1`,
        [monitor],
      );
      return {
        state: state.rows[0]?.state ?? null,
        offsets: new Map(offsets.rows.map((r) => [`${r.topic}:${r.partition}`, BigInt(r.last_offset)])),
      };
    } catch (error) {
      throw storeError(error, 'cannot load the monitor state');
    }
  }

  async checkpoint(cp: Checkpoint): Promise<void> {
    try {
      await transaction(this.pool, async (client) => {
        await client.query(
          `INSERT INTO ${this.s}.monitor_state (monitor, state, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (monitor) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`,
          [cp.monitor, JSON.stringify(cp.state)],
        );
        if (cp.offsets.length > 0) {
          await client.query(
            `INSERT INTO ${this.s}.monitor_offsets (monitor, topic, partition, last_offset)
             SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, o)
             ON CONFLICT (monitor, topic, partition) DO UPDATE
               SET last_offset = GREATEST(${this.s}.monitor_offsets.last_offset, EXCLUDED.last_offset)`,
            [
              cp.monitor,
              cp.offsets.map((o) => o.topic),
              cp.offsets.map((o) => o.partition),
              cp.offsets.map((o) => o.offset),
            ],
          );
        }
        await this.insertWindows(client, cp.monitor, cp.closedWindows);
        await this.insertDetails(client, cp.closedWindows, cp.windowDetails ?? []);
        await this.insertRetrains(client, cp.monitor, cp.retrains);
        if (cp.outbox.length > 0) {
          await client.query(
            `INSERT INTO ${this.s}.outbox (delivery_id, event_id, event_type, kind, destination, message_key, headers, body)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[])
             ON CONFLICT (delivery_id) DO NOTHING`,
            [
              cp.outbox.map((e) => e.deliveryId),
              cp.outbox.map((e) => e.eventId),
              cp.outbox.map((e) => e.eventType),
              cp.outbox.map((e) => e.kind),
              cp.outbox.map((e) => e.destination),
              cp.outbox.map((e) => e.key),
              cp.outbox.map((e) => JSON.stringify(e.headers)),
              cp.outbox.map((e) => e.body),
            ],
          );
        }
      });
    } catch (error) {
      throw storeError(error, 'cannot checkpoint the monitor');
    }
  }

  private async insertWindows(client: PgClient, monitor: string, windows: DriftEvent[]): Promise<void> {
    for (const w of windows) {
      await client.query(
        `INSERT INTO ${this.s}.drift_windows
           (id, monitor, model, model_version, window_start, window_end, rows, drifted_share, dataset_drifted, event)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
        [
          w.id,
          monitor,
          w.model,
          w.model_version,
          w.window.start,
          w.window.end,
          w.window.rows,
          w.dataset.drifted_share,
          w.dataset.drifted,
          JSON.stringify(w),
        ],
      );
    }
  }

  /** Writes the closed windows' details and drops those beyond the newest N of each model. */
  private async insertDetails(
    client: PgClient,
    windows: DriftEvent[],
    details: WindowDetail[],
  ): Promise<void> {
    if (details.length === 0) return;
    const byId = new Map(windows.map((w) => [w.id, w]));
    const keep = this.keepWindowDetail;
    const models = new Set<string>();
    for (const d of details) {
      const w = byId.get(d.id);
      if (!w) continue;
      models.add(w.model);
      if (keep === 0) continue;
      await client.query(
        `INSERT INTO ${this.s}.drift_window_details (window_id, model, window_end, detail)
         VALUES ($1, $2, $3, $4) ON CONFLICT (window_id) DO NOTHING`,
        [w.id, w.model, w.window.end, JSON.stringify(d)],
      );
    }
    for (const model of models) {
      await client.query(
        `DELETE FROM ${this.s}.drift_window_details WHERE window_id IN (
           SELECT window_id FROM ${this.s}.drift_window_details WHERE model = $1
            ORDER BY window_end DESC, closed_at DESC, window_id DESC OFFSET $2)`,
        [model, keep],
      );
    }
  }

  private async insertRetrains(client: PgClient, monitor: string, retrains: RetrainEvent[]): Promise<void> {
    for (const r of retrains) {
      await client.query(
        `INSERT INTO ${this.s}.retrain_requests (id, monitor, model, model_version, requested_at, event)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
        [r.id, monitor, r.model, r.model_version, r.requested_at, JSON.stringify(r)],
      );
    }
  }

  // ---- outbox ------------------------------------------------------------------------------

  /** A statement of the outbox, its failure coded (the dispatcher backs off on retriable ones). */
  private async outboxQuery<R>(text: string, values?: unknown[]) {
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      throw storeError(error, 'monitor outbox');
    }
  }

  async claimDue(limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const { rows } = await this.outboxQuery<OutboxRecord>(
      `WITH due AS (
         SELECT id FROM ${this.s}.outbox
         WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
         ORDER BY next_attempt_at, id
         LIMIT $1
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${this.s}.outbox o
          SET attempts = o.attempts + 1, next_attempt_at = now() + $2 * interval '1 millisecond'
         FROM due WHERE o.id = due.id
       RETURNING o.id, o.delivery_id, o.event_id, o.event_type, o.kind, o.destination, o.message_key,
                 o.headers, o.body, o.attempts`,
      [limit, leaseMs],
    );
    return rows
      .sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)))
      .map((r) => ({
        id: String(r.id),
        deliveryId: r.delivery_id,
        eventId: r.event_id,
        eventType: r.event_type,
        kind: r.kind,
        destination: r.destination,
        key: r.message_key,
        headers: r.headers,
        body: r.body,
        attempts: r.attempts,
      }));
  }

  async markDelivered(id: string): Promise<void> {
    await this.outboxQuery(
      `UPDATE ${this.s}.outbox SET delivered_at = now(), last_error = NULL WHERE id = $1`,
      [id],
    );
  }

  async markFailed(id: string, error: string, retryInMs: number | null): Promise<void> {
    if (retryInMs === null) {
      await this.outboxQuery(`UPDATE ${this.s}.outbox SET failed_at = now(), last_error = $2 WHERE id = $1`, [
        id,
        error.slice(0, 2000),
      ]);
    } else {
      await this.outboxQuery(
        `UPDATE ${this.s}.outbox SET next_attempt_at = now() + $3 * interval '1 millisecond', last_error = $2 WHERE id = $1`,
        [id, error.slice(0, 2000), retryInMs],
      );
    }
  }

  async depth(): Promise<number> {
    const { rows } = await this.outboxQuery<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.s}.outbox WHERE delivered_at IS NULL AND failed_at IS NULL`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** How long the oldest delivery still pending has waited, ms; null when none is pending. */
  async oldestPendingAgeMs(): Promise<number | null> {
    const { rows } = await this.outboxQuery<{ ms: number | null }>(
      `SELECT (EXTRACT(EPOCH FROM (now() - min(created_at))) * 1000)::float8 AS ms
         FROM ${this.s}.outbox WHERE delivered_at IS NULL AND failed_at IS NULL`,
    );
    const ms = rows[0]?.ms;
    return ms === null || ms === undefined ? null : Math.round(ms);
  }

  async nextDueInMs(): Promise<number | null> {
    // Clamped here, not with GREATEST: Postgres's GREATEST skips NULLs, so an empty outbox read
    // as "due now" and the dispatcher polled every 10 ms instead of idling.
    const { rows } = await this.outboxQuery<{ ms: number | null }>(
      `SELECT (EXTRACT(EPOCH FROM (min(next_attempt_at) - now())) * 1000)::float8 AS ms
         FROM ${this.s}.outbox WHERE delivered_at IS NULL AND failed_at IS NULL`,
    );
    const ms = rows[0]?.ms;
    return ms === null || ms === undefined ? null : Math.max(0, Math.ceil(ms));
  }

  // ---- queries -----------------------------------------------------------------------------

  /** Runs a read; a schema the monitor never created reads as empty rather than failing. */
  private async read<R extends Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, values)).rows;
    } catch (error) {
      if (isMissingRelation(error)) return [];
      throw storeError(error, 'cannot read monitor results');
    }
  }

  async windows(q: WindowQuery): Promise<DriftEvent[]> {
    const where = ['model = $1'];
    const values: unknown[] = [q.model];
    if (q.from !== undefined) where.push(`window_end >= $${values.push(q.from)}`);
    if (q.to !== undefined) where.push(`window_end < $${values.push(q.to)}`);
    if (q.modelVersion !== undefined) where.push(`model_version = $${values.push(q.modelVersion)}`);
    if (q.onlyDrifted) where.push('dataset_drifted');
    const rows = await this.read<{ event: DriftEvent }>(
      `SELECT event FROM ${this.s}.drift_windows WHERE ${where.join(' AND ')}
        ORDER BY window_end DESC, closed_at DESC LIMIT $${values.push(q.limit)}`,
      values,
    );
    return rows.map((r) => r.event);
  }

  async retrains(q: { model: string; from?: number; to?: number; limit: number }): Promise<RetrainEvent[]> {
    const where = ['model = $1'];
    const values: unknown[] = [q.model];
    if (q.from !== undefined) where.push(`requested_at >= $${values.push(q.from)}`);
    if (q.to !== undefined) where.push(`requested_at < $${values.push(q.to)}`);
    const rows = await this.read<{ event: RetrainEvent }>(
      `SELECT event FROM ${this.s}.retrain_requests WHERE ${where.join(' AND ')}
        ORDER BY requested_at DESC LIMIT $${values.push(q.limit)}`,
      values,
    );
    return rows.map((r) => r.event);
  }

  async models(): Promise<{ model: string; windows: number; lastWindowEnd: number }[]> {
    const rows = await this.read<{ model: string; n: string; last_end: string }>(
      `SELECT model, count(*) AS n, max(window_end) AS last_end FROM ${this.s}.drift_windows GROUP BY model ORDER BY model`,
    );
    return rows.map((r) => ({ model: r.model, windows: Number(r.n), lastWindowEnd: Number(r.last_end) }));
  }

  async window(
    model: string,
    id: string,
  ): Promise<{ event: DriftEvent; detail: WindowDetail | null } | null> {
    const rows = await this.read<{ event: DriftEvent }>(
      `SELECT event FROM ${this.s}.drift_windows WHERE model = $1 AND id = $2`,
      [model, id],
    );
    const event = rows[0]?.event;
    if (!event) return null;
    const details = await this.read<{ detail: WindowDetail }>(
      `SELECT detail FROM ${this.s}.drift_window_details WHERE window_id = $1`,
      [id],
    );
    return { event, detail: details[0]?.detail ?? null };
  }

  async webhookHealth(): Promise<WebhookHealth[]> {
    // Only undelivered rows are looked at (delivered ones are kept for inspection and may be many);
    // the outbox knows the event id, the events know the model.
    const rows = await this.read<{
      model: string;
      pending: string;
      failed: string;
      oldest_ms: number | null;
    }>(
      `SELECT e.model,
              count(*) FILTER (WHERE o.failed_at IS NULL) AS pending,
              count(*) FILTER (WHERE o.failed_at IS NOT NULL) AS failed,
              (EXTRACT(EPOCH FROM (now() - min(o.created_at) FILTER (WHERE o.failed_at IS NULL))) * 1000)::float8 AS oldest_ms
         FROM ${this.s}.outbox o
         JOIN (SELECT id, model FROM ${this.s}.drift_windows
               UNION ALL SELECT id, model FROM ${this.s}.retrain_requests) e ON e.id = o.event_id
        WHERE o.delivered_at IS NULL AND o.kind = 'webhook'
        GROUP BY e.model ORDER BY e.model`,
    );
    return rows.map((r) => ({
      model: r.model,
      pending: Number(r.pending),
      failed: Number(r.failed),
      oldestPendingMs: r.oldest_ms === null ? null : Math.round(r.oldest_ms),
    }));
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}
