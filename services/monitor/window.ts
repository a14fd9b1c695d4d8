/**
 * The state of one open window: per monitored column, counts on the reference's bins — a
 * histogram on the reference grid for numeric columns, category counts for categorical ones —
 * so memory is bounded by columns × bins, whatever the number of predictions. Pure.
 */

import type {
  CategoricalColumnProfile,
  NumericColumnProfile,
  ReferenceProfile,
} from '../../shared/profiles/types.ts';
import { categoryKey, WindowHistogram } from '../../shared/stats/index.ts';

/** Reference-side bucket for categories beyond the profile's top-K. */
export const OTHER_CATEGORY = '\u0000other';
/** Window-side bucket for unseen categories beyond `MAX_UNSEEN_CATEGORIES`. */
export const UNSEEN_OVERFLOW = '\u0000unseen';
/** Unseen categories a window keeps apart before lumping the rest together. */
export const MAX_UNSEEN_CATEGORIES = 100;

export type ColumnValue = number | string | boolean | null | undefined;

/** A prediction's column values: in the order of the window's column names, or by name. */
export type ColumnValues = readonly ColumnValue[] | Readonly<Record<string, ColumnValue>>;

export class NumericWindow {
  readonly kind = 'numeric';
  readonly hist: WindowHistogram;

  constructor(readonly profile: NumericColumnProfile) {
    this.hist = new WindowHistogram(profile.grid.edges);
  }

  add(value: ColumnValue): void {
    // A non-number in a numeric column is refused by the decoder; anything else is missing here.
    this.hist.add(typeof value === 'number' ? value : null);
  }
}

export class CategoricalWindow {
  readonly kind = 'categorical';
  readonly counts = new Map<string, number>();
  missing = 0;
  private readonly known: Set<string>;
  /** True when the profile's top-K covers every reference value: then an unknown value is truly unseen. */
  private readonly complete: boolean;
  private unseen = 0;

  constructor(readonly profile: CategoricalColumnProfile) {
    // Through categoryKey: a profile stored before booleans had one spelling may hold `True`.
    this.known = new Set(profile.categories.map((c) => categoryKey(c.value)));
    this.complete = profile.otherCount === 0;
  }

  add(value: ColumnValue): void {
    if (value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value))) {
      this.missing++;
      return;
    }
    // JSON true and the reference's `True` (pandas CSV) are one category.
    let key = categoryKey(value);
    if (!this.known.has(key)) {
      if (!this.complete) key = OTHER_CATEGORY;
      else if (!this.counts.has(key)) {
        if (this.unseen >= MAX_UNSEEN_CATEGORIES) key = UNSEEN_OVERFLOW;
        else this.unseen++;
      }
    }
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Puts back a checkpointed count. */
  restoreCount(saved: string, count: number): void {
    const key = categoryKey(saved); // leaves OTHER_CATEGORY and UNSEEN_OVERFLOW as they are
    const had = this.counts.get(key);
    this.counts.set(key, (had ?? 0) + count);
    if (had === undefined && !this.known.has(key) && key !== OTHER_CATEGORY && key !== UNSEEN_OVERFLOW)
      this.unseen++;
  }

  /** The reference's counts in the same keys the window uses. */
  referenceCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.profile.categories) {
      const key = categoryKey(c.value);
      counts.set(key, (counts.get(key) ?? 0) + c.count);
    }
    if (this.profile.otherCount > 0) counts.set(OTHER_CATEGORY, this.profile.otherCount);
    return counts;
  }
}

export type ColumnWindow = NumericWindow | CategoricalWindow;

/** How a window is bounded. */
export type WindowBound = { rows: number } | { durationMs: number };

/** A serialized window, as checkpoints store it. */
export interface WindowSnapshot {
  modelVersion: string;
  /** The profile it counts against: model version and build time (a rebuilt profile starts a new window). */
  reference: { modelVersion: string; createdAt: string };
  rows: number;
  minTime: number | null;
  maxTime: number | null;
  /** Time windows: the start of the bucket. */
  bucketStart: number | null;
  columns: Record<string, SnapshotColumn>;
}

type SnapshotColumn =
  | { kind: 'numeric'; n: number; missing: number; min: number | null; max: number | null; cells: number[] }
  | { kind: 'categorical'; missing: number; counts: [string, number][] };

/** The open window of one model version. */
export class WindowState {
  rows = 0;
  minTime = Number.POSITIVE_INFINITY;
  maxTime = Number.NEGATIVE_INFINITY;
  bucketStart: number | null = null;
  /** Every column sees every row: a prediction without a value for a column counts as missing there. */
  readonly columns = new Map<string, ColumnWindow>();
  /** Per position of `columnNames`: its window, or null when the profile lacks the column. */
  private readonly slots: (ColumnWindow | null)[];
  private readonly names: readonly string[];

  constructor(
    readonly modelVersion: string,
    readonly profile: ReferenceProfile,
    columnNames: readonly string[],
  ) {
    this.names = columnNames;
    this.slots = columnNames.map((name) => {
      const column = profile.columns.find((c) => c.name === name);
      if (!column || this.columns.has(name)) return null;
      const window = column.kind === 'numeric' ? new NumericWindow(column) : new CategoricalWindow(column);
      this.columns.set(name, window);
      return window;
    });
  }

  /** Adds one prediction: its event time and its column values (the prediction as `prediction`). */
  add(eventTime: number, values: ColumnValues): void {
    this.rows++;
    if (eventTime < this.minTime) this.minTime = eventTime;
    if (eventTime > this.maxTime) this.maxTime = eventTime;
    const slots = this.slots;
    if (Array.isArray(values)) {
      const array = values as readonly ColumnValue[];
      for (let i = 0; i < slots.length; i++) slots[i]?.add(array[i]);
    } else {
      const record = values as Readonly<Record<string, ColumnValue>>;
      for (let i = 0; i < slots.length; i++) slots[i]?.add(record[this.names[i]!]);
    }
  }

  snapshot(): WindowSnapshot {
    const columns: Record<string, SnapshotColumn> = {};
    for (const [name, column] of this.columns) {
      if (column.kind === 'numeric') {
        const h = column.hist;
        // Sparse: [cell, count, sum, cell, count, sum…]; most cells of a small window are empty.
        const cells: number[] = [];
        for (let i = 0; i < h.counts.length; i++)
          if (h.counts[i] !== 0) cells.push(i, h.counts[i]!, h.sums[i]!);
        columns[name] = {
          kind: 'numeric',
          n: h.n,
          missing: h.missing,
          min: Number.isFinite(h.min) ? h.min : null,
          max: Number.isFinite(h.max) ? h.max : null,
          cells,
        };
      } else {
        columns[name] = { kind: 'categorical', missing: column.missing, counts: [...column.counts] };
      }
    }
    return {
      modelVersion: this.modelVersion,
      reference: { modelVersion: this.profile.modelVersion, createdAt: this.profile.createdAt },
      rows: this.rows,
      minTime: Number.isFinite(this.minTime) ? this.minTime : null,
      maxTime: Number.isFinite(this.maxTime) ? this.maxTime : null,
      bucketStart: this.bucketStart,
      columns,
    };
  }

  /**
   * Rebuilds a window from a snapshot against `profile`; null when the snapshot was counted against a
   * different profile (rebuilt since), since its bins would not line up.
   */
  static restore(
    snapshot: WindowSnapshot,
    profile: ReferenceProfile,
    columnNames: readonly string[],
  ): WindowState | null {
    if (
      snapshot.reference.modelVersion !== profile.modelVersion ||
      snapshot.reference.createdAt !== profile.createdAt
    ) {
      return null;
    }
    const state = new WindowState(snapshot.modelVersion, profile, columnNames);
    state.rows = snapshot.rows;
    state.minTime = snapshot.minTime ?? Number.POSITIVE_INFINITY;
    state.maxTime = snapshot.maxTime ?? Number.NEGATIVE_INFINITY;
    state.bucketStart = snapshot.bucketStart;
    for (const [name, column] of state.columns) {
      const saved = snapshot.columns[name];
      if (saved === undefined) {
        // A column added to the monitor mid-window: it saw none of the rows so far.
        if (column.kind === 'numeric') column.hist.missing = state.rows;
        else column.missing = state.rows;
        continue;
      }
      if (column.kind === 'numeric' && saved.kind === 'numeric') {
        const h = column.hist;
        h.n = saved.n;
        h.missing = saved.missing;
        h.min = saved.min ?? Number.POSITIVE_INFINITY;
        h.max = saved.max ?? Number.NEGATIVE_INFINITY;
        for (let i = 0; i + 2 < saved.cells.length; i += 3) {
          h.counts[saved.cells[i]!] = saved.cells[i + 1]!;
          // JSON stores an overflowed (∞) sum as null: NaN keeps it unknown, as ∞ was, instead of 0.
          h.sums[saved.cells[i]!] = saved.cells[i + 2] ?? Number.NaN;
        }
      } else if (column.kind === 'categorical' && saved.kind === 'categorical') {
        column.missing = saved.missing;
        for (const [k, v] of saved.counts) column.restoreCount(k, v);
      }
    }
    return state;
  }
}
