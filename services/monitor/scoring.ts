/**
 * Scores a closed window: every monitored column against the reference with its declared method
 * (or the default policy of shared/stats), then the dataset verdict. Pure: the statistics all
 * come from shared/stats.
 */

import type { DriftMethod, MonitorSpec } from '../../shared/definitions/types.ts';
import type { ColumnDrift, DriftEvent } from '../../shared/monitoring/events.ts';
import { PREDICTION_COLUMN } from '../../shared/profiles/types.ts';
import { categoricalDrift, type DriftResult, numericDriftFromGrid } from '../../shared/stats/index.ts';
import type { ColumnWindow, WindowState } from './window.ts';

export interface ScoredWindow {
  features: ColumnDrift[];
  prediction: ColumnDrift | null;
  dataset: DriftEvent['dataset'];
  /** Per column, what the statistics said when a method could not be computed (empty window, all missing…). */
  notes: Record<string, string>;
}

function scoreColumn(
  column: ColumnWindow,
  override: { method?: DriftMethod; threshold?: number } | undefined,
): DriftResult {
  const options = {
    ...(override?.method === undefined ? {} : { method: override.method }),
    ...(override?.threshold === undefined ? {} : { threshold: override.threshold }),
  };
  if (column.kind === 'numeric') return numericDriftFromGrid(column.profile.grid, column.hist, options);
  return categoricalDrift(column.referenceCounts(), column.counts, { ...options, missing: column.missing });
}

function toColumnDrift(name: string, r: DriftResult): ColumnDrift {
  // Not measured: no method is named, so nobody reads the column as measured and found stable.
  if (!r.applicable)
    return {
      name,
      kind: r.kind,
      method: null,
      score: null,
      threshold: null,
      drifted: false,
      missing_share: r.missingShare,
      measured: false,
      reason: r.reason ?? 'not measurable',
    };
  return {
    name,
    kind: r.kind,
    method: r.method,
    score: r.score,
    threshold: r.threshold,
    drifted: r.drifted,
    missing_share: r.missingShare,
    measured: true,
  };
}

/** The verdicts of a window. Columns that could not be measured count as not drifted but stay in the denominator. */
export function scoreWindow(
  window: WindowState,
  spec: Pick<MonitorSpec, 'overrides' | 'datasetDriftThreshold'>,
): ScoredWindow {
  const features: ColumnDrift[] = [];
  let prediction: ColumnDrift | null = null;
  const notes: Record<string, string> = {};
  for (const [name, column] of window.columns) {
    const result = scoreColumn(column, spec.overrides[name]);
    if (!result.applicable && result.reason) notes[name] = result.reason;
    const drift = toColumnDrift(name, result);
    if (name === PREDICTION_COLUMN) prediction = drift;
    else features.push(drift);
  }
  const all = prediction ? [...features, prediction] : features;
  const drifted = all.filter((c) => c.drifted).length;
  const share = all.length === 0 ? 0 : drifted / all.length;
  return {
    features,
    prediction,
    dataset: {
      drifted_share: share,
      threshold: spec.datasetDriftThreshold,
      drifted: all.length > 0 && share >= spec.datasetDriftThreshold,
    },
    notes,
  };
}
