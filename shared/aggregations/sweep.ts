/**
 * Aggregations as of many instants, in one pass over an entity's events: what historical
 * retrieval computes for every entity row (docs/aggregations.md, "Offline").
 *
 * An entity's events are read once, in event-time order, and its entity rows are visited in
 * time order; each aggregation keeps the events of its current window and moves both ends
 * forward. Moving the tail needs no recomputation, because every state here is exact:
 * - count, sum, mean, stddev subtract a leaving value. Their partial sums (`exact.ts`) are
 *   exact, so adding −x (and −x² as TwoProduct's two doubles) leaves the exact sum of the
 *   events still in the window, and `finalize` rounds that once, as for any tile grouping;
 * - min and max keep a monotonic deque (each event enters and leaves it once);
 * - last keeps the latest event seen: a later one replaces it, and when it leaves the window
 *   every other event seen left before or with it (they are not later, so not newer in time).
 * The values are those of `aggregateEvents` bit for bit; the unit tests hold them to it.
 *
 * Time may be in any integer unit: `unitsPerMs` scales the window and resolution (1 for
 * epoch ms, 1000 for the offline store's microseconds). The tail `floor(t/r)·r − W` is the same
 * instant in either unit, because floor(t_µs / (r·1000)) = floor(floor(t_µs / 1000) / r).
 */
import type { AggregationFunction, AggregationSpec } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import { growPartials, twoProduct } from './exact.ts';
import {
  type AggregateValue,
  type EventValue,
  finalize,
  type MeanState,
  numericValue,
  STDDEV_MAX,
  STDDEV_MIN,
  type StddevState,
  SUM_BIG,
  SUM_BIG_SCALE,
  type SumState,
} from './state.ts';
import { floorTo } from './window.ts';

/** What a sweep needs of an aggregation. */
export type SweepAggregation = Pick<AggregationSpec, 'function' | 'windowMs' | 'resolutionMs'>;

/**
 * One aggregation's window over one entity's events, moved forward in time.
 *
 * Contract: after `reset`, events come by `add` in non-decreasing `ts`; `valueAt(t)` is asked
 * at non-decreasing `t`, each time after every event with `ts ≤ t` was added and none later.
 */
export interface WindowSweep {
  reset(): void;
  add(ts: number, created: number | null, offset: number, value: EventValue): void;
  valueAt(t: number): AggregateValue;
}

/** Growable (time, value) queue: pushed at the back, dropped from the front. */
class EventQueue {
  ts = new Float64Array(64);
  xs = new Float64Array(64);
  head = 0;
  tail = 0;

  get size(): number {
    return this.tail - this.head;
  }

  clear(): void {
    this.head = 0;
    this.tail = 0;
  }

  push(ts: number, x: number): void {
    if (this.tail === this.ts.length) this.makeRoom();
    this.ts[this.tail] = ts;
    this.xs[this.tail] = x;
    this.tail++;
  }

  /** Moves the live part to the front, or doubles the buffers when it fills more than half. */
  private makeRoom(): void {
    const live = this.size;
    if (live * 2 > this.ts.length) {
      const ts = new Float64Array(this.ts.length * 2);
      const xs = new Float64Array(this.ts.length * 2);
      ts.set(this.ts.subarray(this.head, this.tail));
      xs.set(this.xs.subarray(this.head, this.tail));
      this.ts = ts;
      this.xs = xs;
    } else {
      this.ts.copyWithin(0, this.head, this.tail);
      this.xs.copyWithin(0, this.head, this.tail);
    }
    this.head = 0;
    this.tail = live;
  }
}

abstract class BaseSweep implements WindowSweep {
  protected readonly window: number;
  protected readonly resolution: number;

  constructor(aggregation: SweepAggregation, unitsPerMs: number) {
    this.window = aggregation.windowMs * unitsPerMs;
    this.resolution = aggregation.resolutionMs * unitsPerMs;
  }

  /** The window's exclusive tail at `t`: floor(t/r)·r − W. */
  protected tail(t: number): number {
    return floorTo(t, this.resolution) - this.window;
  }

  abstract reset(): void;
  abstract add(ts: number, created: number | null, offset: number, value: EventValue): void;
  abstract valueAt(t: number): AggregateValue;
}

class CountSweep extends BaseSweep {
  private readonly queue = new EventQueue();

  reset(): void {
    this.queue.clear();
  }

  add(ts: number, _created: number | null, _offset: number, value: EventValue): void {
    if (value === null || value === undefined) return;
    this.queue.push(ts, 0);
  }

  valueAt(t: number): AggregateValue {
    const q = this.queue;
    const tail = this.tail(t);
    while (q.head < q.tail && q.ts[q.head]! <= tail) q.head++;
    return q.size;
  }
}

/** sum, mean and stddev: the state of `state.ts`, kept in place, values added and taken away exactly. */
class SumSweep extends BaseSweep {
  private readonly queue = new EventQueue();
  private state: SumState | MeanState | StddevState;

  constructor(
    private readonly fn: 'sum' | 'mean' | 'stddev',
    aggregation: SweepAggregation,
    unitsPerMs: number,
  ) {
    super(aggregation, unitsPerMs);
    this.state = this.empty();
  }

  private empty(): SumState | MeanState | StddevState {
    if (this.fn === 'sum') return { fn: 'sum', p: [], b: [] };
    if (this.fn === 'mean') return { fn: 'mean', n: 0, p: [], b: [] };
    return { fn: 'stddev', n: 0, over: 0, p: [], q: [] };
  }

  reset(): void {
    this.queue.clear();
    this.state = this.empty();
  }

  /** Adds `x` (sign +1) or takes it away (sign −1), exactly as `addValue` adds it. */
  private apply(x: number, sign: 1 | -1): void {
    const s = this.state;
    if (s.fn === 'stddev') {
      s.n += sign;
      const m = Math.abs(x);
      if (m > STDDEV_MAX) s.over += sign;
      else if (m >= STDDEV_MIN) {
        growPartials(s.p, sign * x);
        const [hi, lo] = twoProduct(x, x);
        growPartials(s.q, sign * hi);
        growPartials(s.q, sign * lo);
      }
      return;
    }
    if (s.fn === 'mean') s.n += sign;
    if (Math.abs(x) >= SUM_BIG) growPartials(s.b, sign * x * SUM_BIG_SCALE);
    else growPartials(s.p, sign * x);
  }

  add(ts: number, _created: number | null, _offset: number, value: EventValue): void {
    if (value === null || value === undefined) return;
    const x = numericValue(value);
    this.queue.push(ts, x);
    this.apply(x, 1);
  }

  valueAt(t: number): AggregateValue {
    const q = this.queue;
    const tail = this.tail(t);
    while (q.head < q.tail && q.ts[q.head]! <= tail) {
      this.apply(q.xs[q.head]!, -1);
      q.head++;
    }
    // An empty window restarts from the empty state: the partials of a sum that cancelled to
    // zero are exact either way, but need not be carried.
    if (q.size === 0) this.state = this.empty();
    return finalize(this.state);
  }
}

/**
 * min and max: a deque of the events that can still be the extreme, their values strictly
 * monotonic from the front (the extreme of the window) to the back (the newest).
 */
class ExtremeSweep extends BaseSweep {
  private readonly queue = new EventQueue();

  constructor(
    private readonly max: boolean,
    aggregation: SweepAggregation,
    unitsPerMs: number,
  ) {
    super(aggregation, unitsPerMs);
  }

  reset(): void {
    this.queue.clear();
  }

  add(ts: number, _created: number | null, _offset: number, value: EventValue): void {
    if (value === null || value === undefined) return;
    const x = numericValue(value);
    const q = this.queue;
    // An older value no more extreme than x leaves the window first and is never the answer.
    if (this.max) while (q.tail > q.head && q.xs[q.tail - 1]! <= x) q.tail--;
    else while (q.tail > q.head && q.xs[q.tail - 1]! >= x) q.tail--;
    q.push(ts, x);
  }

  valueAt(t: number): AggregateValue {
    const q = this.queue;
    const tail = this.tail(t);
    while (q.head < q.tail && q.ts[q.head]! <= tail) q.head++;
    return q.size === 0 ? null : q.xs[q.head]!;
  }
}

/** last: the latest non-null event seen, by (ts, created with null first, offset). */
class LastSweep extends BaseSweep {
  private has = false;
  private ts = 0;
  private created = Number.NEGATIVE_INFINITY;
  private offset = 0;
  private value: AggregateValue = null;

  reset(): void {
    this.has = false;
    this.value = null;
  }

  add(ts: number, created: number | null, offset: number, value: EventValue): void {
    if (value === null || value === undefined) return;
    const c = created ?? Number.NEGATIVE_INFINITY;
    if (this.has) {
      // The order of `isLater`: event time, then created (none first), then offset.
      const later =
        ts !== this.ts ? ts > this.ts : c !== this.created ? c > this.created : offset > this.offset;
      if (!later) return;
    }
    this.has = true;
    this.ts = ts;
    this.created = c;
    this.offset = offset;
    // -0 as +0, as `addValue` keeps it.
    this.value = typeof value === 'number' ? value + 0 : value;
  }

  valueAt(t: number): AggregateValue {
    // Events come in time order, so every event seen is at or before the latest's time: when
    // the latest has left the window, so has every other.
    return this.has && this.ts > this.tail(t) ? this.value : null;
  }
}

/** A sweep of `aggregation` with timestamps in units of 1/`unitsPerMs` ms (1: ms, 1000: µs). */
export function windowSweep(aggregation: SweepAggregation, unitsPerMs = 1): WindowSweep {
  const fn: AggregationFunction = aggregation.function;
  switch (fn) {
    case 'count':
      return new CountSweep(aggregation, unitsPerMs);
    case 'sum':
    case 'mean':
    case 'stddev':
      return new SumSweep(fn, aggregation, unitsPerMs);
    case 'min':
    case 'max':
      return new ExtremeSweep(fn === 'max', aggregation, unitsPerMs);
    case 'last':
      return new LastSweep(aggregation, unitsPerMs);
  }
}

/** Entity rows grouped by entity: `order[groupStart[g] … groupStart[g+1])` are group g's rows by time. */
export interface RowGroups {
  /** Row indices (into `times`), grouped by entity, each group in non-decreasing time. */
  order: Int32Array;
  /** Where each group starts in `order`; one more entry than there are groups. */
  groupStart: Int32Array;
  /** Each row's instant. */
  times: Float64Array;
}

/** Receives the value of aggregation `aggregation` at entity row `row`. */
export type SweepSink = (row: number, aggregation: number, value: AggregateValue) => void;

/**
 * Folds a stream of events, ordered by (group, ts), into the values of several aggregations
 * at every row of `rows`: each group's rows are answered as its events go by, and groups
 * without events (or rows before a group's first event) get the empty window's values.
 * `columns[a]` is the slot of aggregation `a`'s column in each event's `values`.
 *
 * Events out of order (a group number going back, a time going back within a group) are a
 * bug in the store's query and throw TRIB_INTERNAL rather than give a wrong value.
 */
export class GroupSweep {
  private readonly sweeps: WindowSweep[];
  private group = 0;
  /** The next row of the current group to answer, as a position in `rows.order`. */
  private next: number;
  private lastTs = Number.NEGATIVE_INFINITY;

  constructor(
    aggregations: readonly SweepAggregation[],
    private readonly columns: readonly number[],
    private readonly rows: RowGroups,
    private readonly sink: SweepSink,
    unitsPerMs = 1,
  ) {
    this.sweeps = aggregations.map((a) => windowSweep(a, unitsPerMs));
    this.next = rows.groupStart[0] ?? 0;
  }

  private get groups(): number {
    return this.rows.groupStart.length - 1;
  }

  /** Answers rows of the current group with time < `before` (all of them for +Infinity). */
  private answer(before: number): void {
    const { order, groupStart, times } = this.rows;
    const end = groupStart[this.group + 1]!;
    while (this.next < end) {
      const row = order[this.next]!;
      const t = times[row]!;
      if (t >= before) return;
      for (let a = 0; a < this.sweeps.length; a++) this.sink(row, a, this.sweeps[a]!.valueAt(t));
      this.next++;
    }
  }

  /** Finishes groups up to (not including) `group`. */
  private advanceTo(group: number): void {
    while (this.group < group) {
      this.answer(Number.POSITIVE_INFINITY);
      this.group++;
      this.next = this.rows.groupStart[this.group]!;
      for (const s of this.sweeps) s.reset();
      this.lastTs = Number.NEGATIVE_INFINITY;
    }
  }

  /** One event of group `group`; `values` is read now, not kept. */
  event(
    group: number,
    ts: number,
    created: number | null,
    offset: number,
    values: readonly EventValue[],
  ): void {
    if (group < this.group || group >= this.groups || (group === this.group && ts < this.lastTs)) {
      throw new TributaryError(
        'TRIB_INTERNAL',
        `aggregation events arrived out of order (group ${group} at ${ts} after group ${this.group} at ${this.lastTs})`,
      );
    }
    this.advanceTo(group);
    this.lastTs = ts;
    // Rows before this event see only the events before it.
    this.answer(ts);
    for (let a = 0; a < this.sweeps.length; a++) {
      this.sweeps[a]!.add(ts, created, offset, values[this.columns[a]!]);
    }
  }

  /** Answers every row not answered yet (the rest of the last group, and groups without events). */
  finish(): void {
    if (this.groups === 0) return;
    this.advanceTo(this.groups - 1);
    this.answer(Number.POSITIVE_INFINITY);
  }
}

/**
 * Groups rows by entity and orders each group by time: `keyOf(row)` names the entity (a string
 * equal exactly for equal keys), `rowAt(i)` is the i-th of the `count` rows. Groups come in order
 * of first appearance; `keys` holds each group's first row.
 */
export function groupRows(
  count: number,
  keyOf: (row: number) => string,
  times: Float64Array,
  rowAt: (i: number) => number = (i) => i,
): RowGroups & { keys: number[] } {
  const groupOf = new Int32Array(count);
  const byKey = new Map<string, number>();
  const firstRow: number[] = [];
  for (let i = 0; i < count; i++) {
    const row = rowAt(i);
    const key = keyOf(row);
    let g = byKey.get(key);
    if (g === undefined) {
      g = firstRow.length;
      byKey.set(key, g);
      firstRow.push(row);
    }
    groupOf[i] = g;
  }
  const groups = firstRow.length;
  const groupStart = new Int32Array(groups + 1);
  for (let i = 0; i < count; i++) groupStart[groupOf[i]! + 1]!++;
  for (let g = 0; g < groups; g++) groupStart[g + 1]! += groupStart[g]!;
  const order = new Int32Array(count);
  const fill = groupStart.slice(0, groups);
  for (let i = 0; i < count; i++) order[fill[groupOf[i]!]!++] = rowAt(i);
  sortGroupsByTime(order, groupStart, times);
  return { order, groupStart, times, keys: firstRow };
}

/** Sorts each group's rows by time (stable), in place: groups are short, so insertion sort unless long. */
export function sortGroupsByTime(order: Int32Array, groupStart: Int32Array, times: Float64Array): void {
  for (let g = 0; g + 1 < groupStart.length; g++) {
    const from = groupStart[g]!;
    const to = groupStart[g + 1]!;
    if (to - from <= 32) {
      for (let i = from + 1; i < to; i++) {
        const row = order[i]!;
        const t = times[row]!;
        let j = i - 1;
        while (j >= from && times[order[j]!]! > t) {
          order[j + 1] = order[j]!;
          j--;
        }
        order[j + 1] = row;
      }
    } else {
      const sorted = Array.from(order.subarray(from, to)).sort((a, b) => times[a]! - times[b]! || a - b);
      order.set(sorted, from);
    }
  }
}
