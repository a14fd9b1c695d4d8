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
 * - Stream views' aggregated features are computed from their raw events on the same connections,
 *   after the range's probes (`aggregate.ts`): each connection streams the events of its share of
 *   the range's entities in (entity, time) order and sweeps them into every row's windows. The
 *   plain and aggregated columns are put back in request order as each chunk is delivered.
 *
 * Alternatives measured and rejected: probing in input order (random index access, ~1.3× slower),
 * Feast's union of entity and feature rows with window functions (sorts every feature row in range),
 * DECLARE/FETCH text cursors (per-value parsing dominates), `ORDER BY` row number in Postgres
 * (a sort of the whole answer, about 15% of the query).
 */
import type { Data } from 'apache-arrow';
import { TributaryError } from '../../../errors.ts';
import { DEFAULT_OFFLINE_SCHEMA, postgresError } from '../../../postgres/index.ts';
import type { EntityFrame } from '../../../retrieval/entities.ts';
import type {
  FeatureChunk,
  HistoricalFeatureSource,
  HistoricalReadOptions,
} from '../../../retrieval/historical.ts';
import type { RetrievalPlan } from '../../../retrieval/plan.ts';
import {
  AggregateAnswer,
  type AggregateBatch,
  aggregateBatches,
  type StreamPart,
  streamParts,
} from './aggregate.ts';
import { encodeEntities } from './entity-copy.ts';
import { type HistoricalPool, type LaneSettings, type ProbeBatch, ProbeLane } from './lane.ts';
import { byWindowMonth, encodeRecords, sortedByKey, splitRecords } from './probe-order.ts';
import { DECODED_BYTES, RangeAnswer } from './range-answer.ts';

export type { HistoricalPool } from './lane.ts';
export { pointInTimeSql } from './point-in-time-sql.ts';

export interface PostgresHistoricalOptions {
  /** Schema holding the feature view tables; default `tributary_offline`. */
  schema?: string;
  /** `work_mem` for the retrieval's sorts; default `256MB`. */
  workMem?: string;
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

function unavailable(error: unknown): TributaryError {
  return postgresError(error, 'historical retrieval failed');
}

/** Point-in-time retrieval over the offline tables `"<schema>"."<view>"`. */
export class PostgresHistoricalReader implements HistoricalFeatureSource {
  private readonly schema: string;
  private readonly workMem: string;
  private readonly parallelism: number;
  private readonly rangeRows: number | undefined;

  constructor(
    private readonly pool: HistoricalPool,
    options: PostgresHistoricalOptions = {},
  ) {
    this.schema = options.schema ?? DEFAULT_OFFLINE_SCHEMA;
    this.workMem = options.workMem ?? '256MB';
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
    const parts = splitPlan(plan);
    const ranges = this.ranges(plan, entities.length, chunkRows);
    const lanes: ProbeLane[] = [];
    const laneCount = entities.length < 4 * chunkRows ? 1 : this.parallelism;
    for (let l = 0; l < (ranges.length === 0 ? 0 : laneCount); l++) {
      lanes.push(new ProbeLane(this.pool, this.settings, parts.plain, options.signal, plan));
    }
    const probed: Promise<RangeAnswers>[] = [];
    const start = (k: number) => {
      const [from, to] = ranges[k]!;
      const answer = parts.plain.features.length > 0 ? new RangeAnswer(parts.plain, from, to) : undefined;
      const aggregated =
        parts.streams.length > 0 ? new AggregateAnswer(parts.aggregated, from, to - from) : undefined;
      const batches = answer ? probeBatches(parts.plain, entities, from, to, lanes.length) : [];
      // Each stream view's groups of this range, cut over the lanes.
      const perLane: AggregateBatch[][] = lanes.map(() => []);
      for (const part of parts.streams) {
        const cut = aggregateBatches(part, entities, from, to, lanes.length);
        cut.forEach((batch, l) => {
          perLane[l]!.push(batch);
        });
      }
      probed[k] = Promise.all(
        lanes.map(async (lane, l) => {
          if (answer) await lane.probeAll(batches[l]!, answer);
          if (aggregated) await lane.aggregateAll(perLane[l]!, entities, aggregated);
        }),
      ).then(() => {
        answer?.finish();
        aggregated?.finish();
        return { from, length: to - from, answer, aggregated };
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
          const columns = new Array<Data>(plan.features.length);
          range.answer?.decode(begin, end).forEach((column, i) => {
            columns[parts.plainAt[i]!] = column;
          });
          range.aggregated?.decode(begin, end).forEach((column, i) => {
            columns[parts.aggregatedAt[i]!] = column;
          });
          yield { start: range.from + begin, length: end - begin, columns };
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
    return { schema: this.schema, workMem: this.workMem };
  }
}

/** One range's answers: the plain views' probes and the stream views' aggregates. */
interface RangeAnswers {
  from: number;
  length: number;
  answer: RangeAnswer | undefined;
  aggregated: AggregateAnswer | undefined;
}

/** A request cut into what the probes answer and what the sweeps compute, with each column's place. */
interface PlanParts {
  /**
   * The plain views, with their join keys and their features in the order the point-in-time
   * query selects them (view by view), which is the order `RangeAnswer` decodes in.
   */
  plain: RetrievalPlan;
  /** Per column of `plain.features`, its index in the request's features. */
  plainAt: number[];
  streams: StreamPart[];
  aggregated: ReturnType<typeof streamParts>['features'];
  /** Per aggregated column, its index in the request's features. */
  aggregatedAt: number[];
}

function splitPlan(plan: RetrievalPlan): PlanParts {
  const index = new Map(plan.features.map((f, i) => [`${f.view}\u0000${f.name}`, i]));
  const at = (view: string, name: string) => index.get(`${view}\u0000${name}`)!;
  const views = plan.views.filter((v) => v.spec.kind !== 'streamFeatureView');
  const keys = new Set(views.flatMap((v) => v.layout.joinKeys.map((k) => k.name)));
  const plainAt: number[] = [];
  const features: RetrievalPlan['features'] = [];
  for (const view of views) {
    for (const feature of view.features) {
      const i = at(view.layout.name, feature.name);
      plainAt.push(i);
      features.push(plan.features[i]!);
    }
  }
  const plain: RetrievalPlan = { views, joinKeys: plan.joinKeys.filter((k) => keys.has(k.name)), features };
  const { parts, features: aggregated } = streamParts(plan);
  const aggregatedAt = parts.flatMap((part) =>
    part.view.features.map((f) => at(part.view.layout.name, f.name)),
  );
  return { plain, plainAt, streams: parts, aggregated, aggregatedAt };
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
