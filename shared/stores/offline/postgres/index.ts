/**
 * The offline store on Postgres, both ports on one pool: `PostgresOfflineStore` writes the
 * materializer's rows (`OfflineStore`) and answers point-in-time retrievals
 * (`HistoricalFeatureSource`, through `PostgresHistoricalReader`).
 *
 * Files: store.ts (tables, partitions, idempotent writes), sql.ts (DDL and DML text),
 * copy-binary.ts (the COPY encoder of feature rows), historical.ts (the reader: ranges and
 * lanes), point-in-time-sql.ts (the probe query), entity-copy.ts (entity rows into COPY),
 * lane.ts (one connection of a retrieval), copy-out.ts and copy-tuples.ts (the COPY answer off
 * the socket, framed into tuples), range-answer.ts (the reorder buffer), probe-order.ts (probe
 * order for one int64 key), arrow-columns.ts (Postgres binary values into Arrow columns), aggregate.ts (stream views' aggregated features: events streamed per
 * entity and swept, see docs/aggregations.md).
 */
export { quoteIdent } from '../../../postgres/index.ts';
export {
  type HistoricalPool,
  type PostgresHistoricalOptions,
  PostgresHistoricalReader,
  pointInTimeSql,
} from './historical.ts';
export {
  offlineError,
  PostgresOfflineStore,
  type PostgresOfflineStoreOptions,
  requireIndexSupport,
} from './store.ts';
