/**
 * The drift monitor's event bodies, identical on the topics `tributary.drift` / `tributary.retrain`
 * and in webhook requests (docs/monitor.md, "Events").
 */

import type { ColumnKind } from '../profiles/types.ts';

export const DRIFT_TOPIC = 'tributary.drift';
export const RETRAIN_TOPIC = 'tributary.retrain';

/** One column's verdict in a window. */
export interface ColumnDrift {
  name: string;
  kind: ColumnKind;
  method: string;
  /**
   * The method's score: a p-value for ks, chisquare and z (drift when below the threshold), else a
   * distance (drift at or above it). Null when it cannot be computed (empty window, every value missing).
   */
  score: number | null;
  threshold: number;
  drifted: boolean;
  missing_share: number;
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
