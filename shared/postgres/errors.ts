/**
 * The one mapping from a Postgres failure to a coded error. Whether a failure is retriable is
 * decided here, once, from its SQLSTATE (or its socket error): the materializer and the monitor
 * retry what is retriable and hold the partition on the rest (`shared/retry.ts`).
 *
 * - Retriable: the server is unreachable or went away (connection refused, reset, timed out,
 *   class 08), it is shutting down or starting (57P01-57P03), out of resources (53), or the
 *   statement lost a race that running it again wins (40 serialization/deadlock, 55P03 lock
 *   timeout, 57014 cancelled).
 * - Not retriable: everything Postgres understood and refused — a statement it cannot parse, a
 *   missing table or column, a constraint violation. Running it again fails the same way, so
 *   it is TRIB_STORE_QUERY_FAILED; a value it refused (class 22) is TRIB_WRONG_TYPE; a bad
 *   password or database name in DATABASE_URL is TRIB_CONFIG_INVALID.
 *
 * Messages carry the SQLSTATE and its condition name, never the statement or Postgres's own
 * message (which quotes SQL): they reach HTTP clients. The driver's error stays as `cause`,
 * for the logs.
 */
import pg from 'pg';
import { type ErrorCode, TributaryError } from '../errors.ts';
import { redactSecrets } from './redact.ts';

/** The SQLSTATE of a server error, or the errno (`ECONNREFUSED`) of a socket error. */
export function sqlState(error: unknown): string | undefined {
  const cause = error instanceof TributaryError ? error.cause : error;
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** SQLSTATEs whose statement may succeed when run again (see the module comment). */
export function isRetriableSqlState(code: string): boolean {
  return (
    /^(08|53|40)/.test(code) || ['57P01', '57P02', '57P03', '55P03', '57014', '58000', '58030'].includes(code)
  );
}

/** Node's socket errors: the server is unreachable or the connection broke. */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

/** Condition names of the SQLSTATEs an operator meets most, for messages. */
const CONDITIONS: Record<string, string> = {
  '0A000': 'feature_not_supported',
  '23502': 'not_null_violation',
  '23503': 'foreign_key_violation',
  '23505': 'unique_violation',
  '23514': 'check_violation',
  '25P02': 'in_failed_sql_transaction',
  '28000': 'invalid_authorization_specification',
  '28P01': 'invalid_password',
  '3D000': 'invalid_catalog_name',
  '3F000': 'invalid_schema_name',
  '42501': 'insufficient_privilege',
  '42601': 'syntax_error',
  '42703': 'undefined_column',
  '42804': 'datatype_mismatch',
  '42883': 'undefined_function',
  '42P01': 'undefined_table',
  '42P07': 'duplicate_table',
  XX000: 'internal_error',
};

/** SQLSTATEs of a table, column or schema that is not there: undefined_table, undefined_column, invalid_schema_name. */
const MISSING_OBJECT = new Set(['42P01', '42703', '3F000']);

function condition(code: string): string {
  const name = CONDITIONS[code];
  return name ? `SQLSTATE ${code}, ${name}` : `SQLSTATE ${code}`;
}

export interface PostgresErrorOptions {
  /** The code for "Postgres is not there right now"; default TRIB_OFFLINE_STORE_UNAVAILABLE. */
  unavailable?: ErrorCode;
}

const HINT = "check DATABASE_URL, or start local services with 'npm run services:up'";

/**
 * `error` (anything a pg call threw) as a TributaryError whose `retriable` says whether running
 * the statement again can succeed; `what` says what was being done ("cannot checkpoint the
 * monitor"). TributaryErrors pass through unchanged.
 */
export function postgresError(
  error: unknown,
  what: string,
  options: PostgresErrorOptions = {},
): TributaryError {
  if (error instanceof TributaryError) return error;
  const unavailable = options.unavailable ?? 'TRIB_OFFLINE_STORE_UNAVAILABLE';
  const code = sqlState(error);
  const fail = (trib: ErrorCode, text: string) =>
    new TributaryError(trib, redactSecrets(text), { cause: error, details: code ? { sqlState: code } : {} });
  if (!(error instanceof pg.DatabaseError)) {
    // Not an answer from the server: a socket error (ECONNREFUSED, an AggregateError of them,
    // "Connection terminated", a connect timeout) unless it is plainly a bug in our own code.
    const isBug = error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError;
    if (isBug && !(code !== undefined && CONNECTION_ERRNOS.has(code))) {
      return fail('TRIB_INTERNAL', `${what}: ${(error as Error).message}`);
    }
    const reason = socketReason(error);
    return fail(unavailable, `${what}: Postgres is unreachable (${reason}): ${HINT}`);
  }
  const c = code ?? '';
  if (isRetriableSqlState(c)) {
    return fail(unavailable, `${what}: Postgres is unavailable (${condition(c)}): retrying`);
  }
  if (c.startsWith('28') || c === '3D000') {
    return fail('TRIB_CONFIG_INVALID', `${what}: Postgres refused the connection (${condition(c)}): ${HINT}`);
  }
  // Class 22 messages name the value and the type ('value "x" is out of range for type
  // integer'), never the statement: the one server text that is useful and safe to pass on.
  if (c.startsWith('22'))
    return fail('TRIB_WRONG_TYPE', `${what}: Postgres refused a value: ${error.message}`);
  // A missing table or schema is almost always one `tributary apply` never created, or one
  // dropped by hand since: say so, rather than leave the operator to look up the SQLSTATE.
  const todo = MISSING_OBJECT.has(c)
    ? "run 'tributary apply' against this DATABASE_URL (it creates what is missing), then restart"
    : 'see docs/errors.md';
  return fail(
    'TRIB_STORE_QUERY_FAILED',
    `${what}: Postgres refused the statement (${condition(c)}); retrying cannot fix it: ${todo}`,
  );
}

/** A short reason for a failure below the SQL level: the errno, or the driver's message. */
function socketReason(error: unknown): string {
  if (error instanceof AggregateError) {
    const codes = [...new Set(error.errors.map((e) => sqlState(e) ?? String((e as Error)?.message)))];
    return codes.join(', ') || 'connection failed';
  }
  const code = sqlState(error);
  if (code !== undefined) return code;
  const message = error instanceof Error ? error.message : String(error);
  return message || 'connection failed';
}
