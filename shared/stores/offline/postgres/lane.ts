/** One connection of a historical retrieval. */
import type { Writable } from 'node:stream';
import { copyFrom, PG_TYPES, type PgClient, type PgPool } from '../../../postgres/index.ts';
import type { EntityFrame } from '../../../retrieval/entities.ts';
import type { RetrievalPlan } from '../../../retrieval/plan.ts';
import {
  type AggregateAnswer,
  type AggregateBatch,
  aggregateEventsSql,
  createGroupTableSql,
  EventSink,
  encodeGroups,
  groupTableName,
} from './aggregate.ts';
import { CopyOutQuery } from './copy-out.ts';
import { CopyTuples } from './copy-tuples.ts';
import { writeAll } from './entity-copy.ts';
import { pointInTimeSql } from './point-in-time-sql.ts';
import type { RangeAnswer } from './range-answer.ts';

/** The slice of the pool a retrieval uses. */
export type HistoricalPool = Pick<PgPool, 'connect'>;

/** Entity rows one connection probes in one query: how to encode them for COPY. */
export interface ProbeBatch {
  /** The rows are encoded in probe order, so Postgres need not sort them. */
  inProbeOrder: boolean;
  /** Every row's probe window lies in this UTC month (epoch µs): the query may say so. */
  month: [from: number, to: number] | null;
  encode(): Generator<Buffer>;
}

/** What a lane needs of the reader's settings. */
export interface LaneSettings {
  schema: string;
  workMem: string;
}

/**
 * One connection of a retrieval: a transaction holding the entity temp table, probing the batches
 * given to it one after another, then folding the events of the stream views' batches
 * (`aggregate.ts`). A lane left before `commit` (an error, an abort, a consumer that stopped)
 * destroys its connection, so no query keeps running.
 *
 * `plan` is the plain views' part of the request (what the probes answer), `all` the whole plan
 * (whose tables are looked up once).
 */
export class ProbeLane {
  private client: Promise<PgClient> | undefined;
  private existing: Set<string> | undefined;
  private entityTable = false;
  /** Stream views whose group temp table this transaction has made. */
  private readonly groupTables = new Set<number>();
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
    private readonly all: RetrievalPlan = plan,
  ) {}

  /** Probes the rows of `batches`, one query after another, and files their answers in `answer`. */
  async probeAll(batches: ProbeBatch[], answer: RangeAnswer): Promise<void> {
    for (const batch of batches) await this.probe(batch, answer);
  }

  /** Folds the events of each stream view batch into `answer`, one query after another. */
  async aggregateAll(
    batches: AggregateBatch[],
    entities: EntityFrame,
    answer: AggregateAnswer,
  ): Promise<void> {
    for (const batch of batches) await this.aggregate(batch, entities, answer);
  }

  /** The transaction, begun on first use, and the set of the request's tables that exist. */
  private async begin(): Promise<PgClient> {
    const { schema, workMem } = this.settings;
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
        [schema, this.all.views.map((v) => v.layout.name)],
      );
      this.existing = new Set(tables.rows.map((r) => r.name));
    }
    return client;
  }

  private async aggregate(
    batch: AggregateBatch,
    entities: EntityFrame,
    answer: AggregateAnswer,
  ): Promise<void> {
    const sink = new EventSink(batch, answer);
    const groups = batch.firstRow.length;
    if (groups === 0) return;
    const client = await this.begin();
    // No table yet means no events yet: every row gets the empty window.
    if (!this.existing!.has(batch.part.view.layout.name)) {
      sink.finish();
      return;
    }
    const table = groupTableName(batch.part);
    if (this.groupTables.has(batch.part.index)) await client.query(`TRUNCATE pg_temp.${table}`);
    else {
      await client.query(createGroupTableSql(batch.part));
      this.groupTables.add(batch.part.index);
    }
    await this.copyIn(
      client,
      `COPY pg_temp.${table} FROM STDIN (FORMAT binary)`,
      encodeGroups(batch, entities),
    );
    const sql = aggregateEventsSql(batch.part, this.settings.schema);
    await this.copyOut(client, sql, new CopyTuples(4 + batch.part.columns.length, sink));
    sink.finish();
  }

  private async copyIn(client: PgClient, text: string, buffers: Iterable<Buffer>): Promise<void> {
    const input = client.query(copyFrom(text));
    // writeAll reports the stream's errors; one after it (the connection closed under a COPY
    // that had not yet completed) must not be an uncaught 'error' event.
    input.on('error', () => undefined);
    this.stream = input;
    await writeAll(input, buffers);
    this.stream = undefined;
  }

  private async copyOut(client: PgClient, sql: string, tuples: CopyTuples): Promise<void> {
    // A tuple Postgres sent wrong (or a value the sweep refuses) must fail the read, not throw
    // inside the socket's handler.
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

  private async probe(batch: ProbeBatch, answer: RangeAnswer): Promise<void> {
    const { schema } = this.settings;
    const client = await this.begin();
    if (!this.entityTable) {
      this.entityTable = true;
      const keyColumns = this.plan.joinKeys.map((k, i) => `k${i} ${PG_TYPES[k.type]} NOT NULL`);
      await client.query(
        `CREATE TEMP TABLE trib_entities (rn int4 NOT NULL, ${keyColumns.join(', ')}${keyColumns.length > 0 ? ', ' : ''}ts timestamptz NOT NULL) ON COMMIT DROP`,
      );
    } else {
      await client.query('TRUNCATE pg_temp.trib_entities');
    }
    await this.copyIn(client, 'COPY pg_temp.trib_entities FROM STDIN (FORMAT binary)', batch.encode());
    // No ANALYZE: each LATERAL … LIMIT 1 makes the plan a nested loop over the entity rows
    // whatever their statistics, and it took a tenth of a second per half-million rows.

    const sql = pointInTimeSql(this.plan, schema, this.existing!, batch.inProbeOrder, batch.month);
    await this.copyOut(client, sql, new CopyTuples(this.plan.features.length + 1, answer));
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

  private connect(): Promise<PgClient> {
    if (this.closed) return Promise.reject(new Error('retrieval stopped'));
    if (this.client === undefined) {
      this.signal?.addEventListener('abort', this.onAbort, { once: true });
      this.client = this.pool.connect();
    }
    return this.client;
  }
}
