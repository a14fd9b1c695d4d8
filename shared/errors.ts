/**
 * Every error Tributary raises on purpose carries a `TRIB_*` code from this list.
 * `retriable` decides what a consumer does with it: retry with backoff (the store is down)
 * or dead-letter the message (the message itself is bad). HTTP statuses are mapped in
 * one place, `httpStatusOf`. `docs/errors.md` documents each code; a unit test keeps both in step.
 */

export const ERROR_CODES = {
  // configuration and start-up
  TRIB_CONFIG_INVALID: { retriable: false, http: 500 },
  TRIB_SERVICE_UNAVAILABLE: { retriable: true, http: 503 },
  TRIB_SHUTTING_DOWN: { retriable: true, http: 503 },
  // feature definitions and registry
  TRIB_DEFINITION_INVALID: { retriable: false, http: 400 },
  TRIB_DEFINITION_LOAD_FAILED: { retriable: false, http: 400 },
  TRIB_REGISTRY_EMPTY: { retriable: false, http: 503 },
  TRIB_REGISTRY_CONFLICT: { retriable: true, http: 409 },
  TRIB_BREAKING_CHANGE: { retriable: false, http: 409 },
  // decoding and validating events
  TRIB_DECODE_FAILED: { retriable: false, http: 400 },
  TRIB_MESSAGE_EMPTY: { retriable: false, http: 400 },
  TRIB_MESSAGE_TOO_LARGE: { retriable: false, http: 413 },
  TRIB_NOT_AN_OBJECT: { retriable: false, http: 400 },
  TRIB_MISSING_FIELD: { retriable: false, http: 400 },
  TRIB_WRONG_TYPE: { retriable: false, http: 400 },
  TRIB_NOT_FINITE: { retriable: false, http: 400 },
  TRIB_BAD_TIMESTAMP: { retriable: false, http: 400 },
  // stores and stream
  TRIB_OFFLINE_STORE_UNAVAILABLE: { retriable: true, http: 503 },
  /** Postgres refused a statement that running again cannot fix (SQLSTATE in details). */
  TRIB_STORE_QUERY_FAILED: { retriable: false, http: 500 },
  TRIB_ONLINE_STORE_UNAVAILABLE: { retriable: true, http: 503 },
  TRIB_STREAM_UNAVAILABLE: { retriable: true, http: 503 },
  /** Kafka refused records for a reason that sending again cannot fix (its error type in details). */
  TRIB_STREAM_REFUSED: { retriable: false, http: 502 },
  // HTTP API
  TRIB_BAD_REQUEST: { retriable: false, http: 400 },
  TRIB_UNAUTHORIZED: { retriable: false, http: 401 },
  TRIB_NOT_FOUND: { retriable: false, http: 404 },
  TRIB_UNKNOWN_FEATURE: { retriable: false, http: 400 },
  TRIB_UNKNOWN_FEATURE_VIEW: { retriable: false, http: 400 },
  TRIB_UNKNOWN_FEATURE_SERVICE: { retriable: false, http: 400 },
  TRIB_UNKNOWN_PUSH_SOURCE: { retriable: false, http: 400 },
  TRIB_MISSING_ENTITY: { retriable: false, http: 400 },
  TRIB_BODY_TOO_LARGE: { retriable: false, http: 413 },
  TRIB_HEADERS_TOO_LARGE: { retriable: false, http: 431 },
  TRIB_UNSUPPORTED_MEDIA_TYPE: { retriable: false, http: 415 },
  // drift monitor
  TRIB_PROFILE_NOT_FOUND: { retriable: false, http: 404 },
  TRIB_PROFILE_INPUT_INVALID: { retriable: false, http: 400 },
  TRIB_WEBHOOK_FAILED: { retriable: true, http: 502 },
  // anything unexpected: a bug, reported as such
  TRIB_INTERNAL: { retriable: false, http: 500 },
} as const satisfies Record<string, { retriable: boolean; http: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface TributaryErrorOptions {
  cause?: unknown;
  /** Structured context (file, object, field, topic…) for logs and dead-letter headers. */
  details?: Record<string, unknown>;
}

/** The one error type Tributary throws on purpose; anything else is a bug. */
export class TributaryError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TributaryError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.details = options.details ?? {};
  }
}

/** True when `error` is a TributaryError, optionally with the given code. */
export function isTributaryError(error: unknown, code?: ErrorCode): error is TributaryError {
  return error instanceof TributaryError && (code === undefined || error.code === code);
}

/** The HTTP status a code maps to. */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].http;
}

/** Wraps anything thrown into a TributaryError, keeping TributaryErrors as they are. */
export function toTributaryError(error: unknown, fallback: ErrorCode = 'TRIB_INTERNAL'): TributaryError {
  if (error instanceof TributaryError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TributaryError(fallback, message, { cause: error });
}
