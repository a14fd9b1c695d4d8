import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, outboxEntries, retryDelay } from '../../../services/monitor/outbox.ts';
import type { RetrainEvent } from '../../../shared/monitoring/events.ts';
import { verifySignature } from '../../../shared/monitoring/signature.ts';

const event: RetrainEvent = {
  type: 'retrain',
  id: 'evt-1',
  model: 'm',
  model_version: '1',
  reason: 'drift',
  windows: ['a', 'b'],
  requested_at: 1,
};

describe('outbox backoff', () => {
  it('doubles the delay per attempt, with jitter between half and all of it', () => {
    const policy = { baseMs: 1_000, maxMs: 60_000, maxAttempts: 10 };
    expect(retryDelay(1, policy, () => 0)).toBe(500);
    expect(retryDelay(1, policy, () => 1)).toBe(1_000);
    expect(retryDelay(2, policy, () => 1)).toBe(2_000);
    expect(retryDelay(4, policy, () => 1)).toBe(8_000);
    for (let i = 0; i < 100; i++) {
      const d = retryDelay(3, policy)!;
      expect(d).toBeGreaterThanOrEqual(2_000);
      expect(d).toBeLessThanOrEqual(4_000);
    }
  });

  it('caps the delay and gives up after the last attempt', () => {
    const policy = { baseMs: 1_000, maxMs: 60_000, maxAttempts: 10 };
    expect(retryDelay(9, policy, () => 1)).toBe(60_000);
    expect(retryDelay(10, policy)).toBeNull();
    expect(retryDelay(DEFAULT_RETRY.maxAttempts - 1)).not.toBeNull();
  });
});

describe('outboxEntries', () => {
  it('writes one Kafka row and one signed row per webhook, each with its own delivery id', () => {
    let n = 0;
    const entries = outboxEntries(
      event,
      [{ url: 'http://127.0.0.1:1/a', secret: 'k1' }, { url: 'http://127.0.0.1:1/b' }],
      () => `d${n++}`,
    );
    expect(entries.map((e) => [e.kind, e.destination, e.deliveryId])).toEqual([
      ['kafka', 'tributary.retrain', 'd0'],
      ['webhook', 'http://127.0.0.1:1/a', 'd1'],
      ['webhook', 'http://127.0.0.1:1/b', 'd2'],
    ]);
    expect(JSON.parse(entries[1]!.body)).toEqual(event);
    expect(entries[1]!.headers['x-tributary-delivery']).toBe('d1');
    expect(verifySignature(entries[1]!.body, 'k1', entries[1]!.headers['x-tributary-signature'])).toBe(true);
    expect(entries[2]!.headers['x-tributary-signature']).toBeUndefined();
    expect(entries[0]!.key).toBe('m');
  });
});
