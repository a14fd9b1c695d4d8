import { describe, expect, it } from 'vitest';
import { TributaryError } from '../../../shared/errors.ts';
import { isRetriable, RetryStopped, retryUntilDone } from '../../../shared/retry.ts';

const fast = { baseMs: 1, maxMs: 2, holdPollMs: 5 };

describe('retryUntilDone: the one retry policy', () => {
  it('retries a retriable failure until the work succeeds', async () => {
    let calls = 0;
    const retried: number[] = [];
    let recovered = 0;
    const result = await retryUntilDone(
      async () => {
        if (++calls < 4) throw new TributaryError('TRIB_OFFLINE_STORE_UNAVAILABLE', 'down');
        return 'ok';
      },
      {
        what: 'write',
        ...fast,
        isStopping: () => false,
        onRetry: (_, attempt) => retried.push(attempt),
        onRecovered: () => recovered++,
      },
    );
    expect(result).toBe('ok');
    expect(retried).toEqual([0, 1, 2]);
    expect(recovered).toBe(1);
  });

  it.each([
    ['a coded error that is not retriable', new TributaryError('TRIB_STORE_QUERY_FAILED', 'refused')],
    ['an uncoded error (a bug)', new TypeError('x is undefined')],
  ])(
    'holds on %s: reported once, heartbeating, never run again, until the caller stops',
    async (_, thrown) => {
      let calls = 0;
      let heartbeats = 0;
      let stopping = false;
      const holds: { what: string; code: string }[] = [];
      const done = retryUntilDone(
        async () => {
          calls++;
          throw thrown;
        },
        {
          what: 'checkpoint',
          ...fast,
          isStopping: () => stopping,
          heartbeat: async () => {
            heartbeats++;
          },
          onHold: (failure) => holds.push({ what: failure.what, code: failure.code }),
          onRetry: () => {
            throw new Error('a failure retrying cannot fix must not be retried');
          },
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(calls).toBe(1);
      expect(holds).toEqual([
        { what: 'checkpoint', code: thrown instanceof TributaryError ? thrown.code : 'TRIB_INTERNAL' },
      ]);
      expect(heartbeats).toBeGreaterThan(2);
      stopping = true;
      const error = await done.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryStopped);
      expect(calls).toBe(1);
    },
  );

  it('stops retrying a retriable failure once the caller stops, without running the work again', async () => {
    let calls = 0;
    let stopping = false;
    const error = await retryUntilDone(
      async () => {
        calls++;
        stopping = true;
        throw new TributaryError('TRIB_STREAM_UNAVAILABLE', 'down');
      },
      { what: 'dlq', ...fast, isStopping: () => stopping },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryStopped);
    expect(calls).toBe(1);
  });

  it('isRetriable honours the flag, and treats uncoded errors as bugs', () => {
    expect(isRetriable(new TributaryError('TRIB_OFFLINE_STORE_UNAVAILABLE', 'x'))).toBe(true);
    expect(isRetriable(new TributaryError('TRIB_STORE_QUERY_FAILED', 'x'))).toBe(false);
    expect(isRetriable(new Error('x'))).toBe(false);
  });
});
