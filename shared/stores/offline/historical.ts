/**
 * Point-in-time historical retrieval from the Postgres offline store.
 *
 * Strategy (measured in `bench/historical.ts`, see docs/serving.md):
 * - The entity rows go into a temp table with binary COPY, each with its row number, in join-key
 *   order (sorted here for one int64 key, `probe-order.ts`; by Postgres otherwise).
 * - The query probes every view with a `LEFT JOIN LATERAL (… ORDER BY event_timestamp DESC,
 *   created DESC NULLS LAST LIMIT 1)` over the table's one index, `UNIQUE (keys,
 *   event_timestamp, created NULLS FIRST, _partition, _offset) INCLUDE (features)`
 *   (`sql.createRowIndexSql`): a backward index-only scan whose first entry is the answer, so
 *   each probe is one descent into pages the previous probe just touched.
 * - The answer leaves in probe order with binary `COPY (query) TO STDOUT`, read off the socket
 *   (`copy-out.ts`) and put back in input order here by row number (`RangeAnswer`): cheaper than
 *   a sort by row number in Postgres, which also holds the whole answer before its first row.
 * - Large requests are cut into ranges of rows within a memory budget. Each range is split over
 *   `parallelism` connections (one backend per core; by key with an int64 key), which file
 *   their answers into the range's one `RangeAnswer`; the next range is probed while one is
 *   delivered, so memory is bounded by two ranges whatever the request's size.
 *
 * Alternatives measured and rejected: probing in input order (random index access, ~1.3× slower),
 * Feast's union of entity and feature rows with window functions (sorts every feature row in range),
 * DECLARE/FETCH text cursors (per-value parsing dominates), `ORDER BY` row number in Postgres
 * (a sort of the whole answer, about 15% of the query).
 */
import type { Writable } from 'node:stream';
import type { Data } from 'apache-arrow';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ValueType } from '../../definitions/types.ts';
import { TributaryError } from '../../errors.ts';
import { columnWriter } from '../../retrieval/columns.ts';
import type { EntityFrame, KeyColumn } from '../../retrieval/entities.ts';
import type {
  FeatureChunk,
  HistoricalFeatureSource,
  HistoricalReadOptions,
} from '../../retrieval/historical.ts';
import type { RetrievalPlan } from '../../retrieval/plan.ts';
import { copyHeader, copyTrailer, setTimestampField } from './copy-binary.ts';
import { CopyOutQuery } from './copy-out.ts';
import { byWindowMonth, encodeRecords, sortedByKey, splitRecords } from './probe-order.ts';

/** The slice of `pg.Pool` this module uses. */
export type HistoricalPool = Pick<Pool, 'connect'>;

export interface PostgresHistoricalOptions {
  /** Schema holding the feature view tables; default `tributary_offline`. */
  schema?: string;
  /** `work_mem` for the retrieval's sorts; default `256MB`. */
  workMem?: string;
  /**
   * Replaces the point-in-time query (reading `pg_temp.trib_entities (rn, k0…, ts)`, returning
   * `rn` then the features in plan order, in any row order): how the benchmark runs other
   * strategies through the same load and delivery path.
   */
  querySql?: typeof pointInTimeSql;
  /** Connections a large retrieval is split over; default 2. */
  parallelism?: number;
  /** Entity rows per query; default: what fits `RANGE_BUDGET_BYTES` of decoded features. */
  rangeRows?: number;
}

/**
 * Feature bytes a range may hold while it waits to be put in input order, counted at their
 * decoded size (a range keeps them in COPY form, about 1.5× that for numeric features). A
 * retrieval holds at most two ranges: the one being delivered and the one being probed.
 */
const RANGE_BUDGET_BYTES = 32 * 1024 * 1024;
/** Bytes of a decoded value, for the budget (a string's is a guess). */
const DECODED_BYTES: Record<ValueType, number> = { int64: 8, float64: 8, timestamp: 8, bool: 1, string: 32 };

const PG_TYPE: Record<ValueType, string> = {
  int64: 'int8',
  float64: 'float8',
  string: 'text',
  bool: 'bool',
  timestamp: 'timestamptz',
};

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Builds the point-in-time query: `(rn, features in plan order)` for every row of
 * `pg_temp.trib_entities`, in probe order. `loadedInProbeOrder`: the rows were copied in key
 * order (`sortedByKey`), and a scan of the fresh temp table meets them in that order, so Postgres
 * need not sort them (only speed depends on it; the answer is put in order by `rn`). `month`:
 * every row's window, for every view with a ttl, lies in this UTC month (`byWindowMonth`).
 * Exported for the benchmark and for EXPLAIN in tests.
 */
export function pointInTimeSql(
  plan: RetrievalPlan,
  schema: string,
  existing: ReadonlySet<string>,
  loadedInProbeOrder = false,
  month: [from: number, to: number] | null = null,
): string {
  const keyColumn = new Map(plan.joinKeys.map((k, i) => [k.name, `k${i}`]));
  const select: string[] = [];
  const joins: string[] = [];
  plan.views.forEach((view, v) => {
    const alias = `v${v}`;
    const columns = view.features.map((f, i) => `d.${quoteIdent(f.name)}::${PG_TYPE[f.type]} AS f${i}`);
    view.features.forEach((_, i) => {
      select.push(`${alias}.f${i}`);
    });
    if (!existing.has(view.layout.name)) {
      // No table yet means no rows yet: every entity row gets nulls.
      const nulls = view.features.map((f, i) => `NULL::${PG_TYPE[f.type]} AS f${i}`);
      joins.push(`LEFT JOIN LATERAL (SELECT ${nulls.join(', ')}) ${alias} ON false`);
      return;
    }
    const conditions = view.layout.joinKeys.map(
      (k) => `d.${quoteIdent(k.name)} = e.${keyColumn.get(k.name)}`,
    );
    conditions.push('d.event_timestamp <= e.ts');
    if (view.layout.ttlMs > 0) {
      // Milliseconds, not days: a day-valued interval would follow DST in the session's zone.
      conditions.push(`d.event_timestamp > e.ts - interval '${Math.trunc(view.layout.ttlMs)} milliseconds'`);
      if (month !== null) {
        // Implied by the window for these rows; as constants they let the planner keep one partition.
        const [from, to] = month.map((us) => new Date(us / 1000).toISOString());
        conditions.push(
          `d.event_timestamp >= '${from}'::timestamptz AND d.event_timestamp < '${to}'::timestamptz`,
        );
      }
    }
    joins.push(
      `LEFT JOIN LATERAL (SELECT ${columns.join(', ')} FROM ${quoteIdent(schema)}.${quoteIdent(view.layout.name)} d` +
        ` WHERE ${conditions.join(' AND ')}` +
        ` ORDER BY d.event_timestamp DESC, d.created DESC NULLS LAST LIMIT 1) ${alias} ON true`,
    );
  });
  // Probing in key order keeps consecutive probes on the same index pages.
  const probeOrder = (plan.views[0]?.layout.joinKeys ?? []).map((k) => keyColumn.get(k.name)).concat('ts');
  const entityRows = loadedInProbeOrder
    ? 'pg_temp.trib_entities'
    : `(SELECT * FROM pg_temp.trib_entities ORDER BY ${probeOrder.join(', ')})`;
  return `SELECT ${['e.rn', ...select].join(', ')} FROM ${entityRows} e ${joins.join(' ')}`;
}

/** Writes entity rows `from…to-1` in Postgres binary COPY format: (rn int4, k0…, ts timestamptz). */
function* encodeEntities(
  plan: RetrievalPlan,
  entities: EntityFrame,
  from: number,
  to: number,
  rowsPerBuffer = 65_536,
): Generator<Buffer> {
  const keys = plan.joinKeys.map((k) => entities.keys.get(k.name)!);
  // int64 keys as little-endian 32-bit word pairs, aligned with `keys`.
  const int64Words = keys.map((k) =>
    k.type === 'int64'
      ? new Uint32Array(k.values.buffer, k.values.byteOffset, k.values.length * 2)
      : undefined,
  );
  yield copyHeader();
  const encoder = new TextEncoder();
  for (let start = from; start < to; start += rowsPerBuffer) {
    const end = Math.min(to, start + rowsPerBuffer);
    let size = 0;
    // Encoded strings per key column (undefined for other types), aligned with `keys`.
    const strings: (Uint8Array[] | undefined)[] = [];
    const fixed = 2 + 8 + 12; // field count, rn, ts
    for (const key of keys) {
      if (key.type === 'string') {
        const encoded = key.values.slice(start, end).map((value) => encoder.encode(value));
        strings.push(encoded);
        for (const e of encoded) size += 4 + e.length;
      } else {
        strings.push(undefined);
        size += (4 + (key.type === 'bool' ? 1 : 8)) * (end - start);
      }
    }
    size += fixed * (end - start);
    const buf = Buffer.alloc(size);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    for (let row = start; row < end; row++) {
      view.setInt16(at, keys.length + 2);
      view.setInt32(at + 2, 4);
      view.setInt32(at + 6, row);
      at += 10;
      for (let k = 0; k < keys.length; k++) {
        at = writeKey(buf, view, at, keys[k]!, row, row - start, strings[k], int64Words[k]);
      }
      setTimestampField(view, at, entities.timestamps[row]!);
      at += 12;
    }
    yield buf;
  }
  yield copyTrailer();
}

function writeKey(
  buf: Buffer,
  view: DataView,
  at: number,
  key: KeyColumn,
  row: number,
  local: number,
  strings: Uint8Array[] | undefined,
  words: Uint32Array | undefined,
): number {
  switch (key.type) {
    case 'int64':
      // Copied as its two 32-bit words: reading a BigInt64Array makes a BigInt per value.
      view.setInt32(at, 8);
      view.setUint32(at + 4, words![row * 2 + 1]!);
      view.setUint32(at + 8, words![row * 2]!);
      return at + 12;
    case 'float64':
      view.setInt32(at, 8);
      view.setFloat64(at + 4, key.values[row]!);
      return at + 12;
    case 'timestamp':
      setTimestampField(view, at, key.values[row]!);
      return at + 12;
    case 'bool':
      view.setInt32(at, 1);
      view.setUint8(at + 4, key.values[row]!);
      return at + 5;
    case 'string': {
      const bytes = strings![local]!;
      view.setInt32(at, bytes.length);
      buf.set(bytes, at + 4);
      return at + 4 + bytes.length;
    }
  }
}

function unavailable(error: unknown): TributaryError {
  if (error instanceof TributaryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TributaryError('TRIB_OFFLINE_STORE_UNAVAILABLE', `historical retrieval failed: ${message}`, {
    cause: error,
  });
}

async function writeAll(stream: Writable, buffers: Iterable<Buffer>): Promise<void> {
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onError = (error: Error) => {
    failure = error;
    wake?.();
  };
  stream.on('error', onError);
  const finished = new Promise<void>((resolve) => stream.once('finish', resolve));
  try {
    for (const buf of buffers) {
      if (failure) throw failure;
      if (!stream.write(buf)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          stream.once('drain', resolve);
        });
        stream.removeAllListeners('drain');
      }
    }
    if (failure) throw failure;
    stream.end();
    await Promise.race([finished, new Promise<void>((resolve) => (wake = resolve))]);
    if (failure) throw failure;
  } finally {
    stream.off('error', onError);
  }
}

/** Point-in-time retrieval over the offline tables `"<schema>"."<view>"`. */
export class PostgresHistoricalReader implements HistoricalFeatureSource {
  private readonly schema: string;
  private readonly workMem: string;
  private readonly querySql: typeof pointInTimeSql;
  private readonly parallelism: number;
  private readonly rangeRows: number | undefined;

  constructor(
    private readonly pool: HistoricalPool,
    options: PostgresHistoricalOptions = {},
  ) {
    this.schema = options.schema ?? 'tributary_offline';
    this.workMem = options.workMem ?? '256MB';
    this.querySql = options.querySql ?? pointInTimeSql;
    this.parallelism = Math.max(1, Math.trunc(options.parallelism ?? 2));
    this.rangeRows = options.rangeRows === undefined ? undefined : Math.max(1, Math.trunc(options.rangeRows));
    if (!/^\d+(kB|MB|GB)$/.test(this.workMem)) {
      throw new TributaryError('TRIB_CONFIG_INVALID', `workMem '${this.workMem}' is not like '256MB'`);
    }
  }

  /**
   * Cuts the entity rows into ranges and probes each on up to `parallelism` connections (one for
   * requests under four chunks); the next range starts as soon as the reader takes the current
   * one, so the backends work while the caller consumes.
   */
  async *readFeatures(
    plan: RetrievalPlan,
    entities: EntityFrame,
    options: HistoricalReadOptions = {},
  ): AsyncGenerator<FeatureChunk> {
    const chunkRows = options.chunkRows ?? 65_536;
    const ranges = this.ranges(plan, entities.length, chunkRows);
    const lanes: ProbeLane[] = [];
    const laneCount = entities.length < 4 * chunkRows ? 1 : this.parallelism;
    for (let l = 0; l < (ranges.length === 0 ? 0 : laneCount); l++) {
      lanes.push(new ProbeLane(this.pool, this.settings, plan, options.signal));
    }
    const probed: Promise<RangeAnswer>[] = [];
    const start = (k: number) => {
      const [from, to] = ranges[k]!;
      const answer = new RangeAnswer(plan, from, to);
      const batches = probeBatches(plan, entities, from, to, lanes.length);
      probed[k] = Promise.all(batches.map((mine, l) => lanes[l]!.probeAll(mine, answer))).then(() => {
        answer.finish();
        return answer;
      });
      // Awaited in turn below; until then a failure must not count as unhandled.
      probed[k].catch(() => undefined);
    };
    try {
      if (ranges.length > 0) start(0);
      for (let k = 0; k < ranges.length; k++) {
        const range = await probed[k]!;
        // The connections probe the next range while this one is delivered.
        if (k + 1 < ranges.length) start(k + 1);
        for (let begin = 0; begin < range.length; begin += chunkRows) {
          // Ranges already probed are not delivered to a client that has gone.
          options.signal?.throwIfAborted();
          const end = Math.min(range.length, begin + chunkRows);
          yield { start: range.from + begin, length: end - begin, columns: range.decode(begin, end) };
          options.onProgress?.(range.from + end);
        }
      }
      for (const lane of lanes) await lane.commit();
    } catch (error) {
      if (options.signal?.aborted)
        throw new TributaryError('TRIB_BAD_REQUEST', 'retrieval aborted by client');
      throw unavailable(error);
    } finally {
      await Promise.all(lanes.map((lane) => lane.close()));
    }
  }

  /** `[from, to)` ranges of entity rows, each within the memory budget. */
  private ranges(plan: RetrievalPlan, rows: number, chunkRows: number): [number, number][] {
    const rowBytes = plan.features.reduce((sum, f) => sum + DECODED_BYTES[f.type], 4);
    const size = this.rangeRows ?? Math.max(chunkRows, Math.floor(RANGE_BUDGET_BYTES / rowBytes));
    const ranges: [number, number][] = [];
    for (let from = 0; from < rows; from += size) ranges.push([from, Math.min(rows, from + size)]);
    return ranges;
  }

  private get settings(): LaneSettings {
    return { schema: this.schema, workMem: this.workMem, querySql: this.querySql };
  }
}

/** Entity rows one connection probes in one query: how to encode them for COPY. */
interface ProbeBatch {
  /** The rows are encoded in probe order, so Postgres need not sort them. */
  inProbeOrder: boolean;
  /** Every row's probe window lies in this UTC month (epoch µs): the query may say so. */
  month: [from: number, to: number] | null;
  encode(): Generator<Buffer>;
}

/**
 * Splits entity rows `from…to-1` over `count` connections, as a list of query batches for
 * each. With one int64 key the rows are sorted by key here and cut into key ranges: each backend
 * probes every row of its keys, so consecutive probes share index pages more often (measured:
 * about an eighth less time than giving each backend half the rows of every key); and when every
 * view with a ttl bounds the windows, rows are grouped by the month their windows lie in
 * (`byWindowMonth`). Other keys are cut into runs of input rows that Postgres sorts.
 */
function probeBatches(
  plan: RetrievalPlan,
  entities: EntityFrame,
  from: number,
  to: number,
  count: number,
): ProbeBatch[][] {
  const [onlyKey] = plan.joinKeys;
  const keys = plan.joinKeys.length === 1 ? entities.keys.get(onlyKey!.name) : undefined;
  if (keys?.type === 'int64') {
    const ttls = plan.views.map((v) => v.layout.ttlMs);
    // Month bounds only help views with a ttl, and are only right when the longest ttl's window fits.
    const windowUs = ttls.some((ttl) => ttl > 0) ? Math.max(...ttls) * 1000 : null;
    return splitRecords(sortedByKey(keys.values, entities.timestamps, from, to), count).map((records) =>
      (windowUs === null ? [{ month: null, records }] : byWindowMonth(records, windowUs)).map((group) => ({
        inProbeOrder: true,
        month: group.month,
        encode: () => encodeRecords(group.records),
      })),
    );
  }
  const size = Math.ceil((to - from) / count);
  return Array.from({ length: count }, (_, p) => {
    const begin = Math.min(to, from + p * size);
    const end = Math.min(to, begin + size);
    return [{ inProbeOrder: false, month: null, encode: () => encodeEntities(plan, entities, begin, end) }];
  });
}

/** What a lane needs of the reader's settings. */
interface LaneSettings {
  schema: string;
  workMem: string;
  querySql: typeof pointInTimeSql;
}

/**
 * One connection of a retrieval: a transaction holding the entity temp table, probing the batches
 * given to it one after another. A lane left before `commit` (an error, an abort, a consumer that
 * stopped) destroys its connection, so no query keeps running.
 */
class ProbeLane {
  private client: Promise<PoolClient> | undefined;
  private existing: Set<string> | undefined;
  /** The COPY in flight: entity rows going in, or the answer coming out. */
  private stream: Writable | undefined;
  private copy: CopyOutQuery | undefined;
  private committed = false;
  private closed = false;

  constructor(
    private readonly pool: HistoricalPool,
    private readonly settings: LaneSettings,
    private readonly plan: RetrievalPlan,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Probes the rows of `batches`, one query after another, and files their answers in `answer`. */
  async probeAll(batches: ProbeBatch[], answer: RangeAnswer): Promise<void> {
    for (const batch of batches) await this.probe(batch, answer);
  }

  private async probe(batch: ProbeBatch, answer: RangeAnswer): Promise<void> {
    const { schema, workMem, querySql } = this.settings;
    const first = this.client === undefined;
    const client = await this.connect();
    if (first) {
      await client.query('BEGIN');
      await client.query(`SET LOCAL work_mem = '${workMem}'`);
      // JIT compiles this query for hundreds of ms and buys nothing for index probes.
      await client.query('SET LOCAL jit = off');
      await client.query(`SET LOCAL TimeZone = 'UTC'`);
      const tables = await client.query<{ name: string }>(
        'SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2)',
        [schema, this.plan.views.map((v) => v.layout.name)],
      );
      this.existing = new Set(tables.rows.map((r) => r.name));
      const keyColumns = this.plan.joinKeys.map((k, i) => `k${i} ${PG_TYPE[k.type]} NOT NULL`);
      await client.query(
        `CREATE TEMP TABLE trib_entities (rn int4 NOT NULL, ${keyColumns.join(', ')}${keyColumns.length > 0 ? ', ' : ''}ts timestamptz NOT NULL) ON COMMIT DROP`,
      );
    } else {
      await client.query('TRUNCATE pg_temp.trib_entities');
    }
    const input = client.query(copyFrom('COPY pg_temp.trib_entities FROM STDIN (FORMAT binary)'));
    // writeAll reports the stream's errors; one after it (the connection closed under a COPY
    // that had not yet completed) must not be an uncaught 'error' event.
    input.on('error', () => undefined);
    this.stream = input;
    await writeAll(input, batch.encode());
    this.stream = undefined;
    // No ANALYZE: each LATERAL … LIMIT 1 makes the plan a nested loop over the entity rows
    // whatever their statistics, and it took a tenth of a second per half-million rows.

    const sql = querySql(this.plan, schema, this.existing!, batch.inProbeOrder, batch.month);
    const tuples = new CopyTuples(this.plan.features.length + 1, answer);
    // A tuple Postgres sent wrong must fail the read, not throw inside the socket's handler.
    let decodeError: unknown;
    const copy = new CopyOutQuery(`COPY (${sql}) TO STDOUT (FORMAT binary)`, (buf, start, end) => {
      if (decodeError !== undefined) return;
      try {
        tuples.add(buf, start, end);
      } catch (error) {
        decodeError = error;
        copy.cancel(error as Error);
      }
    });
    this.copy = copy;
    if (this.closed) copy.cancel(new Error('retrieval stopped'));
    client.query(copy as never);
    await copy.done;
    this.copy = undefined;
    tuples.finish();
  }

  async commit(): Promise<void> {
    if (this.client === undefined) return;
    await (await this.client).query('COMMIT');
    this.committed = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.client === undefined) return;
    this.stream?.destroy();
    this.copy?.cancel(new Error('retrieval stopped'));
    const client = await this.client.catch(() => undefined);
    // A connection left mid-COPY or mid-transaction is not reusable.
    client?.release(this.committed ? undefined : true);
  }

  private readonly onAbort = () => {
    this.stream?.destroy(new Error('retrieval aborted'));
    this.copy?.cancel(new Error('retrieval aborted'));
  };

  private connect(): Promise<PoolClient> {
    if (this.closed) return Promise.reject(new Error('retrieval stopped'));
    if (this.client === undefined) {
      this.signal?.addEventListener('abort', this.onAbort, { once: true });
      this.client = this.pool.connect();
    }
    return this.client;
  }
}

/**
 * The tuples of one `COPY … TO STDOUT (FORMAT binary)` answer, `(rn, features…)`, read from
 * its parts as they arrive (a tuple may be cut between two) and filed in a `RangeAnswer`.
 */
class CopyTuples {
  private headerDone = false;
  private ended = false;
  private rest: Buffer | undefined;

  constructor(
    private readonly fields: number,
    private readonly answer: RangeAnswer,
  ) {}

  /**
   * Files the complete tuples in `buf[start…end)`, a part of the COPY data; a tuple cut at its
   * end is kept until the next part completes it.
   */
  add(buf: Buffer, start: number, end: number): void {
    if (this.rest === undefined) {
      this.fileTuples(buf, start, end);
      return;
    }
    const joined = Buffer.concat([this.rest, buf.subarray(start, end)]);
    this.rest = undefined;
    this.fileTuples(joined, 0, joined.length);
  }

  private fileTuples(buf: Buffer, start: number, end: number): void {
    const fields = this.fields;
    let at = start;
    if (!this.headerDone) {
      if (end - at < 19 || end - at < 19 + buf.readInt32BE(at + 15)) {
        this.rest = Buffer.from(buf.subarray(at, end));
        return;
      }
      at += 19 + buf.readInt32BE(at + 15);
      this.headerDone = true;
    }
    while (!this.ended && end - at >= 2) {
      const count = (buf[at]! << 8) | buf[at + 1]!;
      if (count === 0xffff) {
        this.ended = true;
        at += 2;
        break;
      }
      if (count !== fields) {
        throw new TributaryError('TRIB_INTERNAL', `COPY row has ${count} fields, expected ${fields}`);
      }
      // The whole tuple must be here before it is filed.
      let p = at + 2;
      let complete = true;
      for (let f = 0; f < fields && complete; f++) {
        complete = end - p >= 4;
        if (complete) p += 4 + Math.max(int32At(buf, p), 0);
        complete &&= p <= end;
      }
      if (!complete) break;
      if (int32At(buf, at + 2) !== 4) {
        throw new TributaryError(
          'TRIB_INTERNAL',
          'historical retrieval returned a row without its row number',
        );
      }
      this.answer.file(int32At(buf, at + 6), buf, at + 10, p);
      at = p;
    }
    if (at < end && !this.ended) this.rest = Buffer.from(buf.subarray(at, end));
  }

  /** Throws unless the answer ended where a tuple ended. */
  finish(): void {
    if (!this.ended || this.rest !== undefined) {
      throw new TributaryError('TRIB_INTERNAL', 'historical retrieval answer ended partway through a row');
    }
  }
}

/** Entity rows per bucket of a range answer: a bucket's tuples fit in the CPU's cache. */
const BUCKET_SHIFT = 11;
const BUCKET_ROWS = 1 << BUCKET_SHIFT;

/** A big-endian int32 at `at`, without `Buffer.readInt32BE`'s checks (the caller has checked the length). */
function int32At(buf: Uint8Array, at: number): number {
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
}

/**
 * One range's answer, filed by the connections that probed it (`CopyTuples`) in probe order, put
 * back in input order.
 *
 * Probe order is a random permutation of input order, and reading a tuple at a random place in
 * a large buffer is a cache and TLB miss (measured: three times the cost of decoding it). So as
 * tuples arrive, their feature bytes are copied into buckets of 2,048 consecutive row numbers
 * (a few hundred write streams, each in cache); `decode` then visits one bucket at a time, whose
 * tuples fit in cache, and reads them in input order straight into Arrow column writers. Each
 * value is decoded once and the writers fill in order.
 */
class RangeAnswer {
  readonly length: number;
  /** Per bucket: its tuples' feature bytes, in arrival order, and how many bytes are used. */
  private readonly bucketData: Uint8Array[] = [];
  private readonly bucketBytes: Int32Array;
  /** Per bucket, in arrival order (slot `b * BUCKET_ROWS + k`): the row (`rn - from`) and where its bytes start. */
  private readonly arrivedRow: Int32Array;
  private readonly arrivedAt: Int32Array;
  private readonly arrived: Int32Array;
  private filed = 0;

  constructor(
    private readonly plan: RetrievalPlan,
    readonly from: number,
    to: number,
  ) {
    this.length = to - from;
    const buckets = Math.ceil(this.length / BUCKET_ROWS);
    this.bucketBytes = new Int32Array(buckets);
    this.arrived = new Int32Array(buckets);
    this.arrivedRow = new Int32Array(buckets * BUCKET_ROWS);
    this.arrivedAt = new Int32Array(buckets * BUCKET_ROWS);
    const rowBytes = plan.features.reduce((sum, f) => sum + 4 + DECODED_BYTES[f.type], 0);
    for (let b = 0; b < buckets; b++) {
      this.bucketData.push(new Uint8Array(Math.min(BUCKET_ROWS, this.length - b * BUCKET_ROWS) * rowBytes));
    }
  }

  private bucketRows(bucket: number): number {
    return Math.min(BUCKET_ROWS, this.length - bucket * BUCKET_ROWS);
  }

  /** Files the features of entity row `rn` (absolute), at `buf[begin…end)`. */
  file(rn: number, buf: Uint8Array, begin: number, end: number): void {
    const row = rn - this.from;
    const bucket = row >> BUCKET_SHIFT;
    if (row < 0 || row >= this.length || this.arrived[bucket]! === this.bucketRows(bucket)) {
      throw new TributaryError('TRIB_INTERNAL', `historical retrieval returned row ${rn} out of place`);
    }
    const used = this.bucketBytes[bucket]!;
    let data = this.bucketData[bucket]!;
    if (used + end - begin > data.length) {
      const grown = new Uint8Array(Math.max(data.length * 2, used + end - begin));
      grown.set(data.subarray(0, used));
      this.bucketData[bucket] = data = grown;
    }
    // Tuples are a few dozen bytes: a byte loop beats creating a subarray for each.
    for (let i = begin, o = used; i < end; i++, o++) data[o] = buf[i]!;
    const slot = bucket * BUCKET_ROWS + this.arrived[bucket]!++;
    this.arrivedRow[slot] = row;
    this.arrivedAt[slot] = used;
    this.bucketBytes[bucket] = used + end - begin;
    this.filed++;
  }

  /** Throws unless every entity row of the range came back. */
  finish(): void {
    if (this.filed !== this.length) {
      throw new TributaryError(
        'TRIB_INTERNAL',
        `historical retrieval returned ${this.filed} rows for ${this.length} entity rows`,
      );
    }
  }

  /** The features of entity rows `from + begin … from + end - 1`, one Arrow column per feature. */
  decode(begin: number, end: number): Data[] {
    const writers = this.plan.features.map((f) => columnWriter(f.type, end - begin));
    const fields = writers.length;
    const startOf = new Int32Array(BUCKET_ROWS);
    for (let bucket = begin >> BUCKET_SHIFT; bucket << BUCKET_SHIFT < end; bucket++) {
      // Where each row of the bucket starts in its data; every row exactly once.
      startOf.fill(-1);
      const base = bucket << BUCKET_SHIFT;
      for (let k = 0; k < this.arrived[bucket]!; k++) {
        const local = this.arrivedRow[base + k]! - base;
        if (startOf[local] !== -1) {
          throw new TributaryError(
            'TRIB_INTERNAL',
            `historical retrieval returned row ${this.from + base + local} twice`,
          );
        }
        startOf[local] = this.arrivedAt[base + k]!;
      }
      const data = this.bucketData[bucket]!;
      for (let row = Math.max(begin, base); row < Math.min(end, base + BUCKET_ROWS); row++) {
        let p = startOf[row - base]!;
        for (let f = 0; f < fields; f++) {
          const len = int32At(data, p);
          p += 4;
          if (len < 0) writers[f]!.appendNull();
          else {
            writers[f]!.appendPgBinary(data, p, len);
            p += len;
          }
        }
      }
    }
    return writers.map((w) => w.finish());
  }
}
