/**
 * The monitor's core: predictions in, open windows per model version, closed windows scored and
 * turned into drift events and (by policy) retraining requests. Pure and synchronous; the service
 * around it does the I/O and checkpoints `snapshot()` together with the offsets it reflects.
 */

import { randomUUID } from 'node:crypto';
import type { MonitorSpec } from '../../shared/definitions/types.ts';
import type { WindowDetail } from '../../shared/monitoring/detail.ts';
import type { DriftEvent, RetrainEvent } from '../../shared/monitoring/events.ts';
import { monitoredColumns } from '../../shared/monitoring/prediction-decode.ts';
import type { ReferenceProfile } from '../../shared/profiles/types.ts';
import type { Prediction } from './decode.ts';
import { windowDetail } from './detail.ts';
import { decideRetrain, INITIAL_POLICY_STATE, type PolicyState } from './policy.ts';
import { scoreWindow } from './scoring.ts';
import { type WindowSnapshot, WindowState } from './window.ts';

export const STATE_FORMAT = 1;

/** What a checkpoint stores for a monitor. */
export interface ProcessorSnapshot {
  format: typeof STATE_FORMAT;
  windows: WindowSnapshot[];
  policy: Record<string, PolicyState>;
}

export interface ClosedWindow {
  drift: DriftEvent;
  retrain: RetrainEvent | null;
  /** Columns that could not be scored, and why. */
  notes: Record<string, string>;
  /** What the dashboard's window page draws: histograms and shares on the reference's bins. */
  detail: WindowDetail;
  /** Milliseconds spent scoring. */
  scoringMs: number;
}

export interface ProcessorOptions {
  newId?: () => string;
  /** Wall clock for `requested_at`. */
  now?: () => number;
}

// In shared/ with the decoder: serving's POST /predictions decodes the same columns.
export { monitoredColumns };

export class WindowProcessor {
  readonly columns: string[];
  private readonly windows = new Map<string, WindowState>();
  private readonly policy = new Map<string, PolicyState>();
  private readonly newId: () => string;
  private readonly now: () => number;

  constructor(
    readonly spec: MonitorSpec,
    options: ProcessorOptions = {},
  ) {
    this.columns = monitoredColumns(spec);
    this.newId = options.newId ?? randomUUID;
    this.now = options.now ?? Date.now;
  }

  /** Adds a prediction counted against `profile`; returns the window it closed, if any. */
  add(prediction: Prediction, profile: ReferenceProfile): ClosedWindow | null {
    const version = prediction.modelVersion;
    let window = this.windows.get(version);
    let closed: ClosedWindow | null = null;
    const bound = this.spec.window;
    if ('durationMs' in bound) {
      const bucket = Math.floor(prediction.eventTime / bound.durationMs) * bound.durationMs;
      // A window restored from a row-bounded declaration has no bucket yet: give it the one it started in.
      if (window && window.bucketStart === null) {
        const first = Number.isFinite(window.minTime) ? window.minTime : prediction.eventTime;
        window.bucketStart = Math.floor(first / bound.durationMs) * bound.durationMs;
      }
      // Event time past the window's end closes it; a late event joins the open window.
      if (
        window &&
        window.bucketStart !== null &&
        prediction.eventTime >= window.bucketStart + bound.durationMs
      ) {
        closed = this.close(window);
        window = undefined;
      }
      if (!window) {
        window = this.open(version, profile);
        window.bucketStart = bucket;
      }
      window.add(prediction.eventTime, prediction.values);
      return closed;
    }
    if (!window) window = this.open(version, profile);
    window.add(prediction.eventTime, prediction.values);
    if (window.rows >= bound.rows) closed = this.close(window);
    return closed;
  }

  private open(version: string, profile: ReferenceProfile): WindowState {
    const window = new WindowState(version, profile, this.columns);
    this.windows.set(version, window);
    return window;
  }

  /** Scores and removes a window. */
  private close(window: WindowState): ClosedWindow {
    this.windows.delete(window.modelVersion);
    const started = performance.now();
    const scored = scoreWindow(window, this.spec);
    const scoringMs = performance.now() - started;
    const bound = this.spec.window;
    const start = 'durationMs' in bound ? window.bucketStart! : window.minTime;
    const end = 'durationMs' in bound ? window.bucketStart! + bound.durationMs : window.maxTime;
    const drift: DriftEvent = {
      type: 'drift',
      id: this.newId(),
      model: this.spec.model,
      model_version: window.modelVersion,
      window: { start, end, rows: window.rows },
      features: scored.features,
      prediction: scored.prediction,
      dataset: scored.dataset,
    };
    const state = this.policy.get(window.modelVersion) ?? INITIAL_POLICY_STATE;
    const decision = decideRetrain(this.spec.retrain, state, {
      id: drift.id,
      drifted: drift.dataset.drifted,
      end,
      driftedShare: drift.dataset.drifted_share,
    });
    this.policy.set(window.modelVersion, decision.state);
    const retrain: RetrainEvent | null = decision.request
      ? {
          type: 'retrain',
          id: this.newId(),
          model: this.spec.model,
          model_version: window.modelVersion,
          reason: decision.request.reason,
          windows: decision.request.windows,
          requested_at: this.now(),
        }
      : null;
    return { drift, retrain, notes: scored.notes, scoringMs, detail: windowDetail(drift.id, window) };
  }

  /** Open windows' row counts per model version (for metrics and tests). */
  openRows(): Record<string, number> {
    return Object.fromEntries([...this.windows].map(([v, w]) => [v, w.rows]));
  }

  snapshot(): ProcessorSnapshot {
    return {
      format: STATE_FORMAT,
      windows: [...this.windows.values()].map((w) => w.snapshot()),
      policy: Object.fromEntries(this.policy),
    };
  }

  /**
   * Puts back a checkpointed state. `profileOf` gives the profile each window was counted against;
   * a window whose profile was rebuilt since is dropped (returned), as its bins no longer line up.
   */
  restore(
    snapshot: ProcessorSnapshot,
    profileOf: (reference: WindowSnapshot['reference']) => ReferenceProfile | null,
  ): WindowSnapshot[] {
    this.windows.clear();
    this.policy.clear();
    const dropped: WindowSnapshot[] = [];
    if (snapshot.format !== STATE_FORMAT) return snapshot.windows ?? [];
    for (const saved of snapshot.windows) {
      const profile = profileOf(saved.reference);
      const window = profile ? WindowState.restore(saved, profile, this.columns) : null;
      if (window) this.windows.set(saved.modelVersion, window);
      else dropped.push(saved);
    }
    for (const [version, state] of Object.entries(snapshot.policy)) this.policy.set(version, state);
    return dropped;
  }
}
