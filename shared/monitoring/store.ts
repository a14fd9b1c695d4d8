/**
 * The drift monitor's persistence port: checkpoints (open-window state + processed offsets +
 * closed windows + outbox rows, all in one transaction), the delivery outbox, and the read side
 * the query API uses. `postgres.ts` is the adapter.
 */

import type { WindowDetail } from './detail.ts';
import type { DriftEvent, RetrainEvent } from './events.ts';

/** A processed position: every message of `topic`/`partition` at or below `offset` is reflected in the state. */
export interface PartitionOffset {
  topic: string;
  partition: number;
  /** Decimal int64. */
  offset: string;
}

/** One delivery to write: a Kafka message or a webhook request. */
export interface OutboxEntry {
  /** Unique per (event, destination); the X-Tributary-Delivery header, stable across retries. */
  deliveryId: string;
  eventId: string;
  eventType: 'drift' | 'retrain';
  kind: 'kafka' | 'webhook';
  /** A topic name or a URL. */
  destination: string;
  key: string | null;
  headers: Record<string, string>;
  body: string;
}

/** A claimed outbox row. */
export interface OutboxRow extends OutboxEntry {
  id: string;
  /** Attempts including the current one. */
  attempts: number;
}

/** Everything one processed batch changes, written atomically. */
export interface Checkpoint {
  monitor: string;
  /** The serialized state of the monitor's open windows and policy. */
  state: unknown;
  offsets: PartitionOffset[];
  closedWindows: DriftEvent[];
  /**
   * The closed windows' histograms and shares (by drift event id), kept for the last N windows
   * of each model and pruned beyond that in the same transaction.
   */
  windowDetails?: WindowDetail[];
  retrains: RetrainEvent[];
  outbox: OutboxEntry[];
}

export interface LoadedState {
  state: unknown | null;
  /** `${topic}:${partition}` → last processed offset. */
  offsets: Map<string, bigint>;
}

export interface MonitorStateStore {
  ensureSchema(): Promise<void>;
  /**
   * Takes the monitor's exclusive lease (one active instance per monitor): resolves with a release
   * function, or null when another process holds it.
   */
  tryLock(monitor: string): Promise<(() => Promise<void>) | null>;
  load(monitor: string): Promise<LoadedState>;
  /** Writes the checkpoint in one transaction. */
  checkpoint(checkpoint: Checkpoint): Promise<void>;
}

export interface OutboxStore {
  /**
   * Claims up to `limit` due rows (FOR UPDATE SKIP LOCKED), counting an attempt and pushing their
   * due time `leaseMs` ahead so no other dispatcher takes them while this one works.
   */
  claimDue(limit: number, leaseMs: number): Promise<OutboxRow[]>;
  markDelivered(id: string): Promise<void>;
  /** Records a failed attempt: due again after `retryInMs`, or given up for good when null. */
  markFailed(id: string, error: string, retryInMs: number | null): Promise<void>;
  /** Rows not yet delivered nor given up. */
  depth(): Promise<number>;
  /** Milliseconds until the next row is due (0 when one is due now), or null when none is pending. */
  nextDueInMs(): Promise<number | null>;
}

export interface WindowQuery {
  model: string;
  /** Window end at or after, epoch ms. */
  from?: number;
  /** Window end before, epoch ms. */
  to?: number;
  modelVersion?: string;
  onlyDrifted?: boolean;
  limit: number;
}

export interface MonitorQueryStore {
  /** Closed windows of a model, newest first. */
  windows(query: WindowQuery): Promise<DriftEvent[]>;
  /** Retraining requests of a model, newest first. */
  retrains(query: { model: string; from?: number; to?: number; limit: number }): Promise<RetrainEvent[]>;
  /** Models that have closed windows. */
  models(): Promise<{ model: string; windows: number; lastWindowEnd: number }[]>;
  /** One closed window of a model by its id, with its detail when still kept; null when unknown. */
  window(model: string, id: string): Promise<{ event: DriftEvent; detail: WindowDetail | null } | null>;
  /** Webhook deliveries not yet delivered, per model: pending, given up, the oldest pending's age. */
  webhookHealth(): Promise<WebhookHealth[]>;
}

export interface WebhookHealth {
  model: string;
  pending: number;
  failed: number;
  /** Milliseconds the oldest pending delivery has waited; null when none is pending. */
  oldestPendingMs: number | null;
}
