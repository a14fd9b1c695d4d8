/**
 * Point-in-time historical retrieval from the Postgres offline store.
 *
 * Strategy (measured in `bench/historical.ts`, see docs/serving.md): the entity rows go into a
 * temp table with binary COPY, each with its row number; the query walks them sorted by join key
 * and time and probes every view with a `LEFT JOIN LATERAL (… ORDER BY event_timestamp DESC,
 * created DESC NULLS LAST LIMIT 1)` over the table's one index, `UNIQUE (keys, event_timestamp,
 * _partition, _offset) INCLUDE (created, features)` (made by `PostgresOfflineStore.ensureTable`):
 * a backward index-only scan on (keys, event_timestamp) with an Incremental Sort that orders only
 * the rows tied on event_timestamp by created, so each probe is one descent into pages the
 * previous probe just touched; a final sort by row number restores input order.
 * The result leaves with binary `COPY (query) TO STDOUT`, which streams with TCP backpressure
 * (memory stays flat however large the result), and is decoded straight into Arrow buffers.
 *
 * Alternatives measured and rejected: probing in input order (random index access, ~1.5× slower),
 * Feast's union of entity and feature rows with window functions (sorts every feature row in range),
 * and DECLARE/FETCH text cursors (per-value parsing dominates).
 */
import type { Readable, Writable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { ValueType } from '../../definitions/types.ts';
import { TributaryError } from '../../errors.ts';
import { type ColumnWriter, columnWriter } from '../../retrieval/columns.ts';
import type { EntityFrame, KeyColumn } from '../../retrieval/entities.ts';
import type {
  FeatureChunk,
  HistoricalFeatureSource,
  HistoricalReadOptions,
} from '../../retrieval/historical.ts';
import type { RetrievalPlan } from '../../retrieval/plan.ts';

/** The slice of `pg.Pool` this module uses. */
export type HistoricalPool = Pick<Pool, 'connect'>;

export interface PostgresHistoricalOptions {
  /** Schema holding the feature view tables; default `tributary_offline`. */
  schema?: string;
  /** `work_mem` for the retrieval's sorts; default `256MB`. */
  workMem?: string;
  /**
   * Replaces the point-in-time query (reading `pg_temp.trib_entities (rn, k0…, ts)`, returning the
   * features in plan order, sorted by `rn`): how the benchmark runs other strategies through the
   * same load and delivery path.
   */
  querySql?: typeof pointInTimeSql;
  /** Connections a large retrieval is split over; default 2. */
  parallelism?: number;
}

const PG_TYPE: Record<ValueType, string> = {
  int64: 'int8',
  float64: 'float8',
  string: 'text',
  bool: 'bool',
  timestamp: 'timestamptz',
};

/** Unix epoch minus Postgres epoch (2000-01-01), microseconds. */
const PG_EPOCH_US = 946_684_800_000_000;
const TWO_32 = 4_294_967_296;

/** A double-quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Builds the point-in-time query; exported for the benchmark and for EXPLAIN in tests. */
export function pointInTimeSql(plan: RetrievalPlan, schema: string, existing: ReadonlySet<string>): string {
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
    }
    joins.push(
      `LEFT JOIN LATERAL (SELECT ${columns.join(', ')} FROM ${quoteIdent(schema)}.${quoteIdent(view.layout.name)} d` +
        ` WHERE ${conditions.join(' AND ')}` +
        ` ORDER BY d.event_timestamp DESC, d.created DESC NULLS LAST LIMIT 1) ${alias} ON true`,
    );
  });
  // Probing in key order keeps consecutive probes on the same index pages.
  const probeOrder = (plan.views[0]?.layout.joinKeys ?? []).map((k) => keyColumn.get(k.name)).concat('ts');
  return (
    `SELECT ${select.join(', ')} FROM (SELECT * FROM pg_temp.trib_entities ORDER BY ${probeOrder.join(', ')}) e ` +
    `${joins.join(' ')} ORDER BY e.rn`
  );
}

/** Writes entity rows in Postgres binary COPY format: (rn int4, k0…, ts timestamptz). */
function* encodeEntities(
  plan: RetrievalPlan,
  entities: EntityFrame,
  from: number,
  to: number,
  rowsPerBuffer = 65_536,
): Generator<Buffer> {
  const keys = plan.joinKeys.map((k) => entities.keys.get(k.name)!);
  const header = Buffer.alloc(19);
  header.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
  yield header;
  const encoder = new TextEncoder();
  for (let start = from; start < to; start += rowsPerBuffer) {
    const end = Math.min(to, start + rowsPerBuffer);
    let size = 0;
    // Encoded strings per key column (undefined for other types), aligned with `keys`.
    const strings: (Uint8Array[] | undefined)[] = [];
    const fixed = 2 + 8 + 12; // field count, rn, ts
    for (const key of keys) {
      if (key.type === 'string') {
        const encoded = key.values.slice(start, end).map((s) => encoder.encode(s));
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
      for (let k = 0; k < keys.length; k++)
        at = writeKey(buf, view, at, keys[k]!, row, row - start, strings[k]);
      writeTimestamp(view, at, entities.timestamps[row]!);
      at += 12;
    }
    yield buf;
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  yield trailer;
}

function writeTimestamp(view: DataView, at: number, unixMicros: number): void {
  const us = unixMicros - PG_EPOCH_US;
  const hi = Math.floor(us / TWO_32);
  view.setInt32(at, 8);
  view.setInt32(at + 4, hi);
  view.setUint32(at + 8, us - hi * TWO_32);
}

function writeKey(
  buf: Buffer,
  view: DataView,
  at: number,
  key: KeyColumn,
  row: number,
  local: number,
  strings: Uint8Array[] | undefined,
): number {
  switch (key.type) {
    case 'int64':
      view.setInt32(at, 8);
      view.setBigInt64(at + 4, key.values[row]!);
      return at + 12;
    case 'float64':
      view.setInt32(at, 8);
      view.setFloat64(at + 4, key.values[row]!);
      return at + 12;
    case 'timestamp':
      writeTimestamp(view, at, key.values[row]!);
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

  constructor(
    private readonly pool: HistoricalPool,
    options: PostgresHistoricalOptions = {},
  ) {
    this.schema = options.schema ?? 'tributary_offline';
    this.workMem = options.workMem ?? '256MB';
    this.querySql = options.querySql ?? pointInTimeSql;
    this.parallelism = Math.max(1, Math.trunc(options.parallelism ?? 2));
    if (!/^\d+(kB|MB|GB)$/.test(this.workMem)) {
      throw new TributaryError('TRIB_CONFIG_INVALID', `workMem '${this.workMem}' is not like '256MB'`);
    }
  }

  /**
   * Splits large requests into `parallelism` contiguous ranges of entity rows, each probed on its
   * own connection (one Postgres backend per core), all started at once and streamed in order.
   */
  async *readFeatures(
    plan: RetrievalPlan,
    entities: EntityFrame,
    options: HistoricalReadOptions = {},
  ): AsyncGenerator<FeatureChunk> {
    const chunkRows = options.chunkRows ?? 65_536;
    const parts = entities.length >= 4 * chunkRows ? this.parallelism : 1;
    const size = Math.ceil(entities.length / parts);
    const generators: AsyncGenerator<FeatureChunk>[] = [];
    const firsts: Promise<IteratorResult<FeatureChunk>>[] = [];
    try {
      for (let p = 0; p < parts; p++) {
        const from = p * size;
        const to = Math.min(entities.length, from + size);
        const generator = this.readRange(plan, entities, from, to, {
          ...options,
          chunkRows,
          onProgress: undefined,
        });
        generators.push(generator);
        // Run every range up to its first chunk now, so all backends work at once.
        const first = generator.next();
        first.catch(() => undefined);
        firsts.push(first);
      }
      for (let p = 0; p < parts; p++) {
        let next = firsts[p]!;
        for (;;) {
          const result = await next;
          if (result.done) break;
          yield result.value;
          options.onProgress?.(result.value.start + result.value.length);
          next = generators[p]!.next();
        }
      }
    } finally {
      await Promise.allSettled(generators.map((g) => g.return(undefined)));
    }
  }

  private async *readRange(
    plan: RetrievalPlan,
    entities: EntityFrame,
    from: number,
    to: number,
    options: HistoricalReadOptions & { chunkRows: number },
  ): AsyncGenerator<FeatureChunk> {
    const chunkRows = options.chunkRows;
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    let failed: unknown;
    let out: Readable | undefined;
    const onAbort = () => out?.destroy(new Error('retrieval aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL work_mem = '${this.workMem}'`);
      // JIT compiles this query for hundreds of ms and buys nothing for index probes.
      await client.query('SET LOCAL jit = off');
      await client.query(`SET LOCAL TimeZone = 'UTC'`);
      const tables = await client.query<{ name: string }>(
        'SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = ANY($2)',
        [this.schema, plan.views.map((v) => v.layout.name)],
      );
      const existing = new Set(tables.rows.map((r) => r.name));
      const keyColumns = plan.joinKeys.map((k, i) => `k${i} ${PG_TYPE[k.type]} NOT NULL`);
      await client.query(
        `CREATE TEMP TABLE trib_entities (rn int4 NOT NULL, ${keyColumns.join(', ')}${keyColumns.length > 0 ? ', ' : ''}ts timestamptz NOT NULL) ON COMMIT DROP`,
      );
      const input = client.query(copyFrom('COPY pg_temp.trib_entities FROM STDIN (FORMAT binary)'));
      await writeAll(input, encodeEntities(plan, entities, from, to));
      await client.query('ANALYZE pg_temp.trib_entities');

      const sql = this.querySql(plan, this.schema, existing);
      out = client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`));
      const decoder = new BinaryCopyDecoder(plan.features.length);
      const newWriters = () => plan.features.map((f) => columnWriter(f.type, chunkRows));
      let writers = newWriters();
      let start = from;
      let filled = 0;
      for await (const piece of out as AsyncIterable<Buffer>) {
        decoder.feed(piece);
        for (;;) {
          filled += decoder.decode(writers, chunkRows - filled);
          if (filled < chunkRows) break;
          yield { start, length: filled, columns: writers.map((w) => w.finish()) };
          start += filled;
          writers = newWriters();
          filled = 0;
        }
      }
      if (filled > 0) {
        yield { start, length: filled, columns: writers.map((w) => w.finish()) };
        start += filled;
      }
      if (start !== to) {
        throw new TributaryError(
          'TRIB_INTERNAL',
          `historical retrieval returned ${start - from} rows for ${to - from} entity rows`,
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      failed = error;
      if (options.signal?.aborted)
        throw new TributaryError('TRIB_BAD_REQUEST', 'retrieval aborted by client');
      throw unavailable(error);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      // A connection left mid-COPY or mid-transaction (error, or the consumer stopped early) is not reusable.
      const clean = failed === undefined && out?.readableEnded === true;
      if (!clean) out?.destroy();
      client.release(clean ? undefined : true);
    }
  }
}

/**
 * Incremental decoder of `COPY … TO STDOUT (FORMAT binary)`: takes the stream's pieces as they
 * come, keeps a partial tuple across pieces, and appends each field to its column writer.
 */
class BinaryCopyDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  private headerDone = false;
  private ended = false;

  constructor(private readonly fields: number) {}

  feed(piece: Buffer): void {
    if (this.at >= this.buf.length) this.buf = piece;
    else this.buf = Buffer.concat([this.buf.subarray(this.at), piece]);
    this.at = 0;
  }

  /** Decodes up to `limit` complete tuples into `writers`; returns how many. */
  decode(writers: ColumnWriter[], limit: number): number {
    const buf = this.buf;
    let at = this.at;
    if (!this.headerDone) {
      if (buf.length - at < 19) return 0;
      const extension = buf.readInt32BE(at + 15);
      if (buf.length - at < 19 + extension) return 0;
      at += 19 + extension;
      this.headerDone = true;
    }
    let added = 0;
    while (added < limit && !this.ended && buf.length - at >= 2) {
      const fields = buf.readInt16BE(at);
      if (fields === -1) {
        this.ended = true;
        at += 2;
        break;
      }
      if (fields !== this.fields) {
        throw new TributaryError('TRIB_INTERNAL', `COPY row has ${fields} fields, expected ${this.fields}`);
      }
      // The whole tuple must be here before any writer is touched.
      let p = at + 2;
      let complete = true;
      for (let f = 0; f < fields; f++) {
        if (buf.length - p < 4) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(p);
        p += 4 + Math.max(len, 0);
        if (p > buf.length) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      p = at + 2;
      for (let f = 0; f < fields; f++) {
        const len = buf.readInt32BE(p);
        p += 4;
        if (len < 0) writers[f]!.appendNull();
        else {
          writers[f]!.appendPgBinary(buf, p, len);
          p += len;
        }
      }
      at = p;
      added++;
    }
    this.at = at;
    return added;
  }
}
