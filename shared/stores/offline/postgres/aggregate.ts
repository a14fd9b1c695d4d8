/**
 * Historical retrieval of a stream view's aggregated features (docs/aggregations.md, "Offline").
 *
 * The offline table of a stream view holds its raw events. For one range of entity rows:
 * - the rows are grouped by the view's join keys here, each group in time order, and each group
 *   goes into a temp table `(g, keys…, lo, hi)` with the span of events its rows need: from the
 *   earliest row's tail `floor(t/r)·r − W` (the widest of the requested windows) to the latest
 *   row's `t`;
 * - one query per connection streams those events with binary COPY, ordered by (group, event
 *   time): a `LATERAL` range scan of the table's row index per group, in group order, so
 *   Postgres sorts only each group's own events;
 * - `GroupSweep` folds the events as they come off the socket and answers each row as the
 *   events pass its time. Nothing holds more than one group's windows and the range's answer.
 * The values are those of `aggregateEvents` bit for bit (exact sums, `shared/aggregations`).
 */
import type { Data } from 'apache-arrow';
import { type AggregateValue, type EventValue, floorTo } from '../../../aggregations/index.ts';
import { GroupSweep, groupRows, type RowGroups, sortGroupsByTime } from '../../../aggregations/sweep.ts';
import type { AggregationSpec, ValueType } from '../../../definitions/types.ts';
import { TributaryError } from '../../../errors.ts';
import type { ColumnLayout } from '../../../model/layout.ts';
import { PG_TYPES, quoteIdent } from '../../../postgres/index.ts';
import type { EntityFrame, KeyColumn } from '../../../retrieval/entities.ts';
import type { PlannedView, RetrievalPlan } from '../../../retrieval/plan.ts';
import { columnWriter, numberColumn } from './arrow-columns.ts';
import { copyHeader, copyTrailer, PG_EPOCH_US, setTimestampField, TWO_32 } from './copy-binary.ts';
import { int32At, type TupleSink } from './copy-tuples.ts';
import { writeKey } from './entity-copy.ts';
import { sortedByKey } from './probe-order.ts';

/** The offline store's times are microseconds; aggregations are declared in milliseconds. */
const US_PER_MS = 1000;

/** One stream view of a request: its requested aggregations and the source columns they read. */
export interface StreamPart {
  /** Index of the view among the plan's stream views (names its temp table). */
  index: number;
  view: PlannedView;
  aggregations: AggregationSpec[];
  /** Source columns read, each once, in the order they are selected. */
  columns: ColumnLayout[];
  /** Per aggregation, the slot of its column in `columns`. */
  columnOf: number[];
  /** Per aggregation, its column in the range answer (`AggregateAnswer`). */
  answerColumn: number[];
}

/** The stream views of a plan, with each aggregated feature's place among the answer's columns. */
export function streamParts(plan: RetrievalPlan): { parts: StreamPart[]; features: AnswerFeature[] } {
  const parts: StreamPart[] = [];
  const features: AnswerFeature[] = [];
  for (const view of plan.views) {
    if (view.spec.kind !== 'streamFeatureView') continue;
    const columns: ColumnLayout[] = [];
    const part: StreamPart = {
      index: parts.length,
      view,
      aggregations: [],
      columns,
      columnOf: [],
      answerColumn: [],
    };
    for (const feature of view.features) {
      const aggregation = feature.aggregation;
      if (aggregation === undefined) {
        throw new TributaryError(
          'TRIB_INTERNAL',
          `feature '${feature.ref}' of a stream view has no aggregation`,
        );
      }
      let slot = columns.findIndex((c) => c.name === aggregation.column);
      if (slot < 0) {
        const column = view.layout.features.find((c) => c.name === aggregation.column);
        if (column === undefined) {
          throw new TributaryError(
            'TRIB_INTERNAL',
            `aggregation '${feature.ref}' reads '${aggregation.column}', not a column of its view`,
          );
        }
        slot = columns.push(column) - 1;
      }
      part.aggregations.push(aggregation);
      part.columnOf.push(slot);
      part.answerColumn.push(features.length);
      features.push({ ref: feature.ref, type: feature.type, fn: aggregation.function });
    }
    parts.push(part);
  }
  return { parts, features };
}

/** The temp table a lane loads a stream view's groups into. */
export function groupTableName(part: StreamPart): string {
  return `trib_groups_${part.index}`;
}

/** `CREATE TEMP TABLE` of the groups of `part`: (g, k0…, lo, hi), dropped at commit. */
export function createGroupTableSql(part: StreamPart): string {
  const keys = part.view.layout.joinKeys.map((k, i) => `k${i} ${PG_TYPES[k.type]} NOT NULL`);
  return (
    `CREATE TEMP TABLE ${groupTableName(part)} (g int4 NOT NULL, ${keys.join(', ')}${keys.length > 0 ? ', ' : ''}` +
    'lo timestamptz NOT NULL, hi timestamptz NOT NULL) ON COMMIT DROP'
  );
}

/**
 * The events of every group, `(g, event_timestamp, created, _offset, columns…)`, ordered by
 * group (the temp table's scan order, which the groups were loaded in) and within a group by
 * event time: an index range scan per group and partition, and a sort of that group's few
 * events. Ties of event time may come in any order: `last` breaks them itself (created, then
 * offset), the other functions do not depend on order. `GroupSweep` checks the order and
 * refuses another.
 */
export function aggregateEventsSql(part: StreamPart, schema: string): string {
  const layout = part.view.layout;
  const conditions = layout.joinKeys.map((k, i) => `d.${quoteIdent(k.name)} = g.k${i}`);
  conditions.push('d.event_timestamp > g.lo', 'd.event_timestamp <= g.hi');
  const columns = part.columns.map((c, i) => `d.${quoteIdent(c.name)}::${PG_TYPES[c.type]} AS c${i}`);
  const inner =
    `SELECT d.event_timestamp, d.created, d._offset${columns.length > 0 ? ', ' : ''}${columns.join(', ')}` +
    ` FROM ${quoteIdent(schema)}.${quoteIdent(layout.name)} d WHERE ${conditions.join(' AND ')}` +
    ' ORDER BY d.event_timestamp';
  const selected = part.columns.map((_, i) => `e.c${i}`);
  return (
    `SELECT ${['g.g', 'e.event_timestamp', 'e.created', 'e._offset', ...selected].join(', ')}` +
    ` FROM pg_temp.${groupTableName(part)} g JOIN LATERAL (${inner}) e ON true`
  );
}

/** One connection's share of a stream view's groups in a range. */
export interface AggregateBatch {
  part: StreamPart;
  /** The groups, numbered from 0: rows are absolute entity row numbers. */
  groups: RowGroups;
  /** The first row of each group (its keys) and the span of events the group needs. */
  firstRow: Int32Array;
  lo: Float64Array;
  hi: Float64Array;
}

/** The key of a row as a string, equal exactly for equal keys (the generic grouping's map key). */
function keyText(columns: readonly KeyColumn[], row: number): string {
  let out = '';
  for (const key of columns) {
    const v = key.values[row];
    out += `${typeof v === 'string' ? JSON.stringify(v) : String(v)}\u0000`;
  }
  return out;
}

/**
 * Groups entity rows `from…to-1` by the view's join keys, each group in time order. One int64 key
 * (the common case) is radix-sorted (`sortedByKey`), so groups come in key order and each
 * connection's probes walk the index forward; other keys group by first appearance.
 */
function groupRange(
  part: StreamPart,
  entities: EntityFrame,
  from: number,
  to: number,
): RowGroups & { first: Int32Array } {
  const keys = part.view.layout.joinKeys.map((k) => entities.keys.get(k.name)!);
  const times = entities.timestamps;
  const only = keys[0];
  if (keys.length === 1 && only?.type === 'int64') {
    const records = sortedByKey(only.values, times, from, to);
    const n = to - from;
    const order = new Int32Array(n);
    const starts: number[] = [];
    let prevLow = 0;
    let prevHigh = 0;
    for (let i = 0; i < n; i++) {
      const low = records[i * 6]!;
      const high = records[i * 6 + 1]!;
      if (i === 0 || low !== prevLow || high !== prevHigh) starts.push(i);
      prevLow = low;
      prevHigh = high;
      order[i] = records[i * 6 + 4]!;
    }
    starts.push(n);
    const groupStart = Int32Array.from(starts);
    sortGroupsByTime(order, groupStart, times);
    const first = new Int32Array(starts.length - 1);
    for (let g = 0; g < first.length; g++) first[g] = order[groupStart[g]!]!;
    return { order, groupStart, times, first };
  }
  const grouped = groupRows(
    to - from,
    (row) => keyText(keys, row),
    times,
    (i) => from + i,
  );
  return { ...grouped, first: Int32Array.from(grouped.keys) };
}

/** The batches of `part` for rows `from…to-1`: its groups cut into `count` runs of about equal rows. */
export function aggregateBatches(
  part: StreamPart,
  entities: EntityFrame,
  from: number,
  to: number,
  count: number,
): AggregateBatch[] {
  const all = groupRange(part, entities, from, to);
  const groups = all.groupStart.length - 1;
  const batches: AggregateBatch[] = [];
  const rows = to - from;
  let g0 = 0;
  for (let b = 0; b < count; b++) {
    // Up to the first group boundary at or past this batch's share of the rows.
    const target = Math.ceil(((b + 1) * rows) / count);
    let g1 = g0;
    while (g1 < groups && (b === count - 1 || all.groupStart[g1]! < target)) g1++;
    const groupStart = all.groupStart.subarray(g0, g1 + 1);
    const firstRow = all.first.subarray(g0, g1);
    const lo = new Float64Array(g1 - g0);
    const hi = new Float64Array(g1 - g0);
    for (let g = 0; g < g1 - g0; g++) {
      const earliest = all.times[all.order[groupStart[g]!]!]!;
      const latest = all.times[all.order[groupStart[g + 1]! - 1]!]!;
      let tail = Number.POSITIVE_INFINITY;
      for (const a of part.aggregations) {
        tail = Math.min(tail, floorTo(earliest, a.resolutionMs * US_PER_MS) - a.windowMs * US_PER_MS);
      }
      lo[g] = tail;
      hi[g] = latest;
    }
    batches.push({ part, groups: { order: all.order, groupStart, times: all.times }, firstRow, lo, hi });
    g0 = g1;
  }
  return batches;
}

/** The groups of a batch in binary COPY format: (g int4, k0…, lo timestamptz, hi timestamptz). */
export function* encodeGroups(
  batch: AggregateBatch,
  entities: EntityFrame,
  groupsPerBuffer = 16_384,
): Generator<Buffer> {
  const keys = batch.part.view.layout.joinKeys.map((k) => entities.keys.get(k.name)!);
  const words = keys.map((k) =>
    k.type === 'int64'
      ? new Uint32Array(k.values.buffer, k.values.byteOffset, k.values.length * 2)
      : undefined,
  );
  const encoder = new TextEncoder();
  yield copyHeader();
  const n = batch.firstRow.length;
  for (let start = 0; start < n; start += groupsPerBuffer) {
    const end = Math.min(n, start + groupsPerBuffer);
    const strings = keys.map((k) =>
      k.type === 'string'
        ? Array.from(batch.firstRow.subarray(start, end), (row) => encoder.encode(k.values[row]!))
        : undefined,
    );
    let size = (2 + 8 + 12 + 12) * (end - start);
    keys.forEach((k, i) => {
      if (k.type === 'string') for (const s of strings[i]!) size += 4 + s.length;
      else size += (4 + (k.type === 'bool' ? 1 : 8)) * (end - start);
    });
    const buf = Buffer.alloc(size);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    for (let g = start; g < end; g++) {
      const row = batch.firstRow[g]!;
      view.setInt16(at, keys.length + 3);
      view.setInt32(at + 2, 4);
      view.setInt32(at + 6, g);
      at += 10;
      for (let k = 0; k < keys.length; k++) {
        at = writeKey(buf, view, at, keys[k]!, row, g - start, strings[k], words[k]);
      }
      setTimestampField(view, at, batch.lo[g]!);
      setTimestampField(view, at + 12, batch.hi[g]!);
      at += 24;
    }
    yield buf;
  }
  yield copyTrailer();
}

/** An aggregated feature of the answer. */
export interface AnswerFeature {
  ref: string;
  type: ValueType;
  fn: AggregationSpec['function'];
}

/** The aggregated features of one range of entity rows, filled by the sweeps, read in input order. */
export class AggregateAnswer {
  /** Numeric functions: the value, and whether it is not null. */
  private readonly numbers: (Float64Array | undefined)[];
  private readonly valid: (Uint8Array | undefined)[];
  /** `last`: the column's values as JS values (int64 beyond 2^53 as bigint). */
  private readonly values: (AggregateValue[] | undefined)[];
  private readonly answered: Uint8Array[];

  constructor(
    private readonly features: readonly AnswerFeature[],
    readonly from: number,
    readonly length: number,
  ) {
    this.numbers = features.map((f) => (f.fn === 'last' ? undefined : new Float64Array(length)));
    this.valid = features.map((f) => (f.fn === 'last' ? undefined : new Uint8Array(length)));
    this.values = features.map((f) =>
      f.fn === 'last' ? new Array<AggregateValue>(length).fill(null) : undefined,
    );
    this.answered = features.map(() => new Uint8Array(length));
  }

  /** Sets feature `column` of absolute entity row `row`. */
  set(row: number, column: number, value: AggregateValue): void {
    const i = row - this.from;
    this.answered[column]![i] = 1;
    const numbers = this.numbers[column];
    if (numbers === undefined) {
      this.values[column]![i] = value;
    } else if (value !== null) {
      numbers[i] = value as number;
      this.valid[column]![i] = 1;
    }
  }

  /** Throws unless every row got every feature (a group left out would read as an empty window). */
  finish(): void {
    for (const answered of this.answered) {
      if (answered.indexOf(0) >= 0) {
        throw new TributaryError(
          'TRIB_INTERNAL',
          'historical retrieval left an aggregated feature unanswered',
        );
      }
    }
  }

  /** Rows `from + begin … from + end − 1` of every aggregated feature, as Arrow columns. */
  decode(begin: number, end: number): Data[] {
    return this.features.map((feature, c) => {
      const numbers = this.numbers[c];
      if (numbers !== undefined) {
        return numberColumn(feature.type, numbers.subarray(begin, end), this.valid[c]!.subarray(begin, end));
      }
      const writer = columnWriter(feature.type, end - begin);
      const values = this.values[c]!;
      for (let i = begin; i < end; i++) writer.appendValue(values[i]);
      return writer.finish();
    });
  }
}

/** A big-endian int64 at `at` as a number when it is safe, else a bigint. */
function int64At(buf: Uint8Array, at: number): number | bigint {
  const high = int32At(buf, at);
  const low = int32At(buf, at + 4) >>> 0;
  if (high >= -0x20_0000 && high < 0x20_0000) return high * TWO_32 + low;
  return (BigInt(high) << 32n) | BigInt(low);
}

/** A timestamptz value at `at` as Unix epoch microseconds. */
function timestampAt(buf: Uint8Array, at: number): number {
  return Number(int64At(buf, at)) + PG_EPOCH_US;
}

const decoder = new TextDecoder();
/** Scratch for a float8: its bytes reversed into a little-endian double, no DataView per value. */
const scratchBytes = new Uint8Array(8);
const scratchDouble = new Float64Array(scratchBytes.buffer);

function float64At(buf: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) scratchBytes[i] = buf[at + 7 - i]!;
  return scratchDouble[0]!;
}

/**
 * The tuples of one batch's event query, decoded and folded into its `GroupSweep`: the COPY
 * framing (`CopyTuples`) files each tuple's group number and the bytes of the rest.
 */
export class EventSink implements TupleSink {
  private readonly sweep: GroupSweep;
  private readonly types: ValueType[];
  private readonly values: EventValue[];

  constructor(batch: AggregateBatch, answer: AggregateAnswer) {
    const part = batch.part;
    this.types = part.columns.map((c) => c.type);
    this.values = part.columns.map(() => null);
    const answerColumn = part.answerColumn;
    this.sweep = new GroupSweep(
      part.aggregations,
      part.columnOf,
      batch.groups,
      (row, a, value) => answer.set(row, answerColumn[a]!, value),
      US_PER_MS,
    );
  }

  /**
   * Fields of the tuple after `g`: event_timestamp, created, _offset, then the columns. Written
   * without a helper closure: one made per tuple (and named by the bundler) cost more than the
   * rest of the decoding.
   */
  file(group: number, buf: Uint8Array, begin: number, end: number): void {
    // event_timestamp and _offset are NOT NULL columns: 8 bytes each; created 8 bytes or null.
    if (int32At(buf, begin) !== 8) {
      throw new TributaryError('TRIB_INTERNAL', 'an aggregation event came without its time');
    }
    const ts = timestampAt(buf, begin + 4);
    let p = begin + 12;
    const createdLength = int32At(buf, p);
    const created = createdLength < 0 ? null : timestampAt(buf, p + 4);
    p += 4 + Math.max(createdLength, 0);
    if (int32At(buf, p) !== 8) {
      throw new TributaryError('TRIB_INTERNAL', 'an aggregation event came without its offset');
    }
    const offset = Number(int64At(buf, p + 4));
    p += 12;
    for (let c = 0; c < this.types.length; c++) {
      const len = int32At(buf, p);
      p += 4;
      if (len < 0) this.values[c] = null;
      else {
        this.values[c] = this.decodeValue(this.types[c]!, buf, p, len);
        p += len;
      }
    }
    if (p !== end)
      throw new TributaryError('TRIB_INTERNAL', 'an aggregation event tuple has the wrong length');
    this.sweep.event(group, ts, created, offset, this.values);
  }

  private decodeValue(type: ValueType, buf: Uint8Array, at: number, len: number): EventValue {
    switch (type) {
      case 'float64':
        return float64At(buf, at);
      case 'int64':
        return int64At(buf, at);
      case 'timestamp':
        return timestampAt(buf, at);
      case 'bool':
        return buf[at] !== 0;
      case 'string':
        return decoder.decode(buf.subarray(at, at + len));
    }
  }

  /** Answers the rows the events did not reach (and every row of groups without events). */
  finish(): void {
    this.sweep.finish();
  }
}
