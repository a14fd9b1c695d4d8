/**
 * Historical retrieval, store-independent: an offline store adapter finds the point-in-time
 * feature values (`HistoricalFeatureSource`), and this module zips them with the entity rows into
 * Arrow record batches, in input order, chunk by chunk, so a result of any size streams with
 * flat memory.
 */
import { type Data, Field, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import { TributaryError } from '../errors.ts';
import { arrowTypeOf } from './arrow-types.ts';
import { type EntityFrame, sliceColumn } from './entities.ts';
import type { RetrievalPlan } from './plan.ts';

/** Feature values for entity rows `[start, start + length)`, one Arrow column per `plan.features` entry. */
export interface FeatureChunk {
  start: number;
  length: number;
  columns: Data[];
}

export interface HistoricalReadOptions {
  /** Rows per chunk; default 65,536. */
  chunkRows?: number;
  /** Aborts the read (the client went away); the store stops its query. */
  signal?: AbortSignal;
  /** Called with the number of entity rows done so far. */
  onProgress?: (rowsDone: number) => void;
}

/**
 * The offline store's side of historical retrieval. For every entity row, in input order and
 * without gaps, each feature view contributes the row with the greatest `event_timestamp <= t`
 * (and `> t - ttl` when the view has one), ties going to the greatest `created`; no match is null.
 */
export interface HistoricalFeatureSource {
  readFeatures(
    plan: RetrievalPlan,
    entities: EntityFrame,
    options?: HistoricalReadOptions,
  ): AsyncIterable<FeatureChunk>;
}

/** The output schema: the entity columns as given, then the features in request order. */
export function historicalSchema(plan: RetrievalPlan, entities: EntityFrame): Schema {
  // An entity column named like a feature would give the row two values under one name.
  const features = new Set(plan.features.map((f) => f.outputName));
  const clashes = entities.columns.map((c) => c.name).filter((name) => features.has(name));
  if (clashes.length > 0) {
    const full = plan.features.some((f) => f.outputName !== f.name);
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `entity column(s) ${clashes.map((c) => `'${c}'`).join(', ')} have the name of a requested feature's ` +
        `output column: rename them${full ? '' : ', or set full_feature_names to name features <view>__<feature>'}`,
      { details: { columns: clashes } },
    );
  }
  return new Schema([
    ...entities.columns.map((c) => new Field(c.name, c.vector.type, true)),
    ...plan.features.map((f) => new Field(f.outputName, arrowTypeOf(f.type), true)),
  ]);
}

/** Entity columns and feature columns of one chunk as a record batch of `schema`. */
export function assembleBatch(schema: Schema, entities: EntityFrame, chunk: FeatureChunk): RecordBatch {
  const children: Data[] = [
    ...entities.columns.map((c) => sliceColumn(c.vector, chunk.start, chunk.start + chunk.length)),
    ...chunk.columns,
  ];
  const data = makeData({
    type: new Struct(schema.fields),
    length: chunk.length,
    nullCount: 0,
    children,
  });
  return new RecordBatch(schema, data);
}

/** Streams the result of a historical retrieval as Arrow record batches of `schema`. */
export async function* historicalBatches(
  source: HistoricalFeatureSource,
  plan: RetrievalPlan,
  entities: EntityFrame,
  options: HistoricalReadOptions = {},
): AsyncGenerator<RecordBatch> {
  const schema = historicalSchema(plan, entities);
  for await (const chunk of source.readFeatures(plan, entities, options)) {
    yield assembleBatch(schema, entities, chunk);
  }
}
