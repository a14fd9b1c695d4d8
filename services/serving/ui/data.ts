/**
 * What the dashboard pages and `tributary report` draw, as plain JSON built from the monitor's
 * queries: one builder per page, so the page served at /ui and the report file show the same
 * series from the same numbers. Pure apart from the queries it is given.
 */

import type { WindowDetail } from '../../../shared/monitoring/detail.ts';
import type { DriftEvent, RetrainEvent } from '../../../shared/monitoring/events.ts';
import type { MonitorQueries } from '../../../shared/monitoring/queries.ts';
import type { WebhookHealth } from '../../../shared/monitoring/store.ts';

/** One row of the models page. */
export interface ModelSummary {
  model: string;
  windows: number;
  lastWindowEnd: number;
  /** The model version of the latest window: the one the live stream predicts with. */
  modelVersion: string | null;
  latest: { id: string; end: number; drifted: boolean; share: number; threshold: number } | null;
  lastRetrain: { at: number; modelVersion: string; reason: string } | null;
  webhooks: WebhookHealth | null;
}

export async function modelsData(queries: MonitorQueries): Promise<ModelSummary[]> {
  const [models, health] = await Promise.all([queries.models(), queries.webhookHealth()]);
  return Promise.all(
    models.map(async (m) => {
      const [[latest], [retrain]] = await Promise.all([
        queries.windows(m.model, { limit: 1 }),
        queries.retrains(m.model, { limit: 1 }),
      ]);
      return {
        model: m.model,
        windows: m.windows,
        lastWindowEnd: m.lastWindowEnd,
        modelVersion: latest?.model_version ?? null,
        latest: latest
          ? {
              id: latest.id,
              end: latest.window.end,
              drifted: latest.dataset.drifted,
              share: latest.dataset.drifted_share,
              threshold: latest.dataset.threshold,
            }
          : null,
        lastRetrain: retrain
          ? { at: retrain.requested_at, modelVersion: retrain.model_version, reason: retrain.reason }
          : null,
        webhooks: health.find((h) => h.model === m.model) ?? null,
      };
    }),
  );
}

/** One column over the windows, aligned with `ModelData.windows` (null where a window lacks it). */
export interface ColumnSeries {
  name: string;
  kind: string;
  /** The methods that measured it in these windows (usually one). */
  methods: string[];
  score: (number | null)[];
  threshold: (number | null)[];
  drifted: boolean[];
  driftedWindows: number;
}

export interface ModelData {
  page: 'model';
  model: string;
  range: { from: number | null; to: number | null; limit: number };
  /** Oldest first. */
  windows: {
    id: string;
    start: number;
    end: number;
    rows: number;
    modelVersion: string;
    drifted: boolean;
    share: number;
    threshold: number;
  }[];
  /** Features first (in the windows' order), then the prediction. */
  columns: ColumnSeries[];
  retrains: { id: string; at: number; modelVersion: string; reason: string; windowEnd: number | null }[];
}

export interface RangeOptions {
  from?: number;
  to?: number;
  modelVersion?: string;
  /** Newest windows to show, 1–1000. */
  limit: number;
}

/** The model page's series: every window in range (newest `limit`), oldest first. */
export function modelSeries(
  model: string,
  newestFirst: DriftEvent[],
  retrains: RetrainEvent[],
  range: RangeOptions,
): ModelData {
  const windows = [...newestFirst].reverse();
  const columns = new Map<string, ColumnSeries>();
  const n = windows.length;
  windows.forEach((w, i) => {
    for (const c of w.prediction ? [...w.features, w.prediction] : w.features) {
      let s = columns.get(c.name);
      if (!s) {
        s = {
          name: c.name,
          kind: c.kind,
          methods: [],
          score: new Array(n).fill(null),
          threshold: new Array(n).fill(null),
          drifted: new Array(n).fill(false),
          driftedWindows: 0,
        };
        columns.set(c.name, s);
      }
      s.score[i] = c.score;
      s.threshold[i] = c.threshold;
      s.drifted[i] = c.drifted;
      if (c.drifted) s.driftedWindows++;
      if (c.method !== null && !s.methods.includes(c.method)) s.methods.push(c.method);
    }
  });
  const byId = new Map(windows.map((w) => [w.id, w]));
  return {
    page: 'model',
    model,
    range: { from: range.from ?? null, to: range.to ?? null, limit: range.limit },
    windows: windows.map((w) => ({
      id: w.id,
      start: w.window.start,
      end: w.window.end,
      rows: w.window.rows,
      modelVersion: w.model_version,
      drifted: w.dataset.drifted,
      share: w.dataset.drifted_share,
      threshold: w.dataset.threshold,
    })),
    // The prediction last, whatever order the first window listed it in.
    columns: [...columns.values()].sort(
      (a, b) => Number(a.name === 'prediction') - Number(b.name === 'prediction'),
    ),
    retrains: [...retrains].reverse().map((r) => {
      // Marked at the end of the window that triggered it (its last listed), in event time like the windows.
      const last = byId.get(r.windows[r.windows.length - 1] ?? '');
      return {
        id: r.id,
        at: r.requested_at,
        modelVersion: r.model_version,
        reason: r.reason,
        windowEnd: last ? last.window.end : null,
      };
    }),
  };
}

export async function modelData(
  queries: MonitorQueries,
  model: string,
  range: RangeOptions,
): Promise<ModelData> {
  const params = {
    ...(range.from === undefined ? {} : { from: range.from }),
    ...(range.to === undefined ? {} : { to: range.to }),
    ...(range.modelVersion === undefined ? {} : { model_version: range.modelVersion }),
    limit: range.limit,
  };
  const windows = await queries.windows(model, params);
  // Retrains refer to windows by id; a request made after the newest window still belongs to it.
  const retrains = await queries.retrains(model, { limit: 1000 });
  const ids = new Set(windows.map((w) => w.id));
  const inRange = retrains.filter(
    (r) =>
      r.windows.some((id) => ids.has(id)) &&
      (range.modelVersion === undefined || r.model_version === range.modelVersion),
  );
  return modelSeries(model, windows, inRange, range);
}

export interface WindowData {
  page: 'window';
  model: string;
  window: DriftEvent;
  /** Null when the window is older than the newest N whose detail the monitor keeps. */
  detail: WindowDetail | null;
}

export async function windowData(queries: MonitorQueries, model: string, id: string): Promise<WindowData> {
  const { window, detail } = await queries.window(model, id);
  return { page: 'window', model, window, detail };
}
