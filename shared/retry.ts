import { type ErrorCode, TributaryError, toTributaryError } from './errors.ts';

/** Exponential backoff with "equal jitter" (half fixed, half random): the delay before attempt `attempt` (0-based). */
export function backoffDelay(
  attempt: number,
  baseMs = 100,
  maxMs = 5_000,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Whether running again may succeed: a coded error says so; anything uncoded is a bug, and a bug does not heal. */
export function isRetriable(error: unknown): boolean {
  return error instanceof TributaryError && error.retriable;
}

/** Why a partition is held: the failure that retrying cannot fix, for /health, a metric and the log. */
export interface HeldFailure {
  /** What failed ("offline", "checkpoint"…). */
  what: string;
  code: ErrorCode;
  message: string;
  since: number;
}

export interface RetryOptions {
  /** What is being done, for the log and `HeldFailure.what`. */
  what: string;
  /** First delay and ceiling of the backoff (`backoffDelay`). */
  baseMs: number;
  maxMs: number;
  /** True once the caller stops (the consumer lost the partition, the service stops): the helper then throws. */
  isStopping: () => boolean;
  /** Aborts a backoff sleep early. */
  signal?: AbortSignal;
  /** Keeps the consumer's group membership alive between attempts. */
  heartbeat?: () => Promise<void>;
  /** After each retriable failure, before its backoff. */
  onRetry?: (error: TributaryError, attempt: number, delayMs: number) => void;
  /** Once, when a failure that retrying cannot fix holds the work until the caller stops. */
  onHold?: (failure: HeldFailure, error: TributaryError) => void;
  /** When work that failed (held or retried) succeeded, or the hold ended because the caller stops. */
  onRecovered?: () => void;
  /** How often a held caller heartbeats and checks `isStopping`; default 1,000 ms. */
  holdPollMs?: number;
}

/** Thrown when the caller stops before the work succeeded: nothing of it may be committed. */
export class RetryStopped extends Error {
  constructor(
    readonly what: string,
    readonly lastError: unknown,
  ) {
    super(`${what}: stopped before it succeeded; nothing committed`);
  }
}

/**
 * The one retry policy of the consumers (materializer and monitor): runs `work` until it succeeds.
 * A retriable failure (a store or the stream is down) is retried with backoff, heartbeating
 * between attempts, forever: an outage pauses the partition and it resumes by itself. A failure
 * that retrying cannot fix (a SQL statement Postgres refuses, a bug) is not retried: the
 * partition is *held* — `onHold` reports it once (for /health, a metric and an error log), and
 * the helper heartbeats until the caller stops, then throws `RetryStopped`. Nothing is committed
 * either way, so the operator fixes the cause and restarts (docs/errors.md), and the batch is
 * redelivered: no event is lost or counted twice.
 */
export async function retryUntilDone<T>(work: () => Promise<T>, options: RetryOptions): Promise<T> {
  let failed = false;
  for (let attempt = 0; ; attempt++) {
    if (options.isStopping()) throw new RetryStopped(options.what, undefined);
    let error: TributaryError;
    try {
      const result = await work();
      if (failed) options.onRecovered?.();
      return result;
    } catch (thrown) {
      error = toTributaryError(thrown);
    }
    failed = true;
    if (options.isStopping()) throw new RetryStopped(options.what, error);
    if (!error.retriable) {
      options.onHold?.(
        { what: options.what, code: error.code, message: error.message, since: Date.now() },
        error,
      );
      while (!options.isStopping() && !options.signal?.aborted) {
        await sleep(options.holdPollMs ?? 1_000, options.signal);
        await options.heartbeat?.().catch(() => undefined);
      }
      options.onRecovered?.();
      throw new RetryStopped(options.what, error);
    }
    const delay = backoffDelay(attempt, options.baseMs, options.maxMs);
    options.onRetry?.(error, attempt, delay);
    await sleep(delay, options.signal);
    await options.heartbeat?.().catch(() => undefined);
  }
}
