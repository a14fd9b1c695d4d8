/**
 * The drift monitor's event bodies, identical on the topics `tributary.drift` / `tributary.retrain`
 * and in webhook requests (docs/monitor.md, "Events").
 */

import type { ColumnKind } from '../profiles/types.ts';

/** Topics Tributary owns: the monitor's events, and the topics `apply` creates for them. */
export const DRIFT_TOPIC = 'tributary.drift';
export const RETRAIN_TOPIC = 'tributary.retrain';

/**
 * One column's verdict in a window. A column that could not be measured — the window has no value
 * for it (empty, or every value missing), or its statistic is undefined for these data — says so
 * with `measured: false` and a `reason`, and names no method, score or threshold.
 */
export interface ColumnDrift {
  name: string;
  kind: ColumnKind;
  /** The method that measured the column; null when it was not measured. */
  method: string | null;
  /**
   * The method's score: a p-value for ks, chisquare and z (drift when below the threshold), else a
   * distance (drift at or above it). Null when the column was not measured.
   */
  score: number | null;
  /** Null when the column was not measured. */
  threshold: number | null;
  /** Always false when the column was not measured. */
  drifted: boolean;
  missing_share: number;
  /** False when no method could measure the column in this window (see `reason`). */
  measured: boolean;
  /** Why the column was not measured, e.g. `every value missing`; only when `measured` is false. */
  reason?: string;
}

export interface DriftEvent {
  type: 'drift';
  id: string;
  model: string;
  model_version: string;
  /** Event-time bounds (epoch ms) and the number of predictions in the window. */
  window: { start: number; end: number; rows: number };
  features: ColumnDrift[];
  prediction: ColumnDrift | null;
  dataset: { drifted_share: number; threshold: number; drifted: boolean };
}

export interface RetrainEvent {
  type: 'retrain';
  id: string;
  model: string;
  model_version: string;
  reason: string;
  /** Ids of the drift events (windows) that led to the request. */
  windows: string[];
  /** Epoch ms. */
  requested_at: number;
}

export type MonitorEvent = DriftEvent | RetrainEvent;
