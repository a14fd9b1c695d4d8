/**
 * Tributary's Postgres layer, the one place that imports `pg` (in the manner of kysely's
 * dialect folder): the pool and connection slice, `transaction`, the SQLSTATE mapping, SQL text
 * helpers and credential redaction. Every Postgres adapter is built on it.
 */
export { copyFrom } from './copy.ts';
export { isRetriableSqlState, type PostgresErrorOptions, postgresError, sqlState } from './errors.ts';
export {
  createListener,
  createPool,
  type PgClient,
  type PgListener,
  type PgPool,
  type PgResult,
  type PgSubmittable,
  type PoolOptions,
  transaction,
} from './pool.ts';
export { redactSecrets, redactUrl } from './redact.ts';
export {
  DEFAULT_OFFLINE_SCHEMA,
  loadSql,
  MAX_IDENTIFIER_BYTES,
  PG_TYPES,
  qualified,
  quoteIdent,
  quoteLiteral,
  quoteSchema,
} from './sql.ts';
