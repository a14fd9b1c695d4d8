import { describe, expect, it } from 'vitest';
import type { EntitySpec, FeatureViewSpec } from '../../../shared/definitions/types.ts';
import { deadLetterMessage, dlqTopicOf } from '../../../shared/events/dead-letter.ts';
import { createDecoder } from '../../../shared/events/decode.ts';
import type { IncomingMessage } from '../../../shared/stream/port.ts';

const FAILED_AT = Date.UTC(2026, 10, 26, 10, 30, 0, 123);

function incoming(extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return {
    topic: 'driver_stats',
    partition: 5,
    offset: '9223372036854775000',
    key: Buffer.from('1001'),
    value: Buffer.from('{"driver_id": 1001, "conv_rate": "0.5"}'),
    headers: { 'trace-id': 'abc', 'content-type': 'application/json' },
    timestamp: FAILED_AT - 1000,
    ...extra,
  };
}

describe('dlqTopicOf', () => {
  it('appends .dlq', () => {
    expect(dlqTopicOf('driver_stats')).toBe('driver_stats.dlq');
  });
});

describe('deadLetterMessage', () => {
  it('keeps key, value and headers, and adds the reason headers', () => {
    const message = incoming();
    const letter = deadLetterMessage(
      message,
      { code: 'TRIB_WRONG_TYPE', reason: 'feature "conv_rate" must be a float64', field: 'conv_rate' },
      FAILED_AT,
    );
    expect(letter.key).toBe(message.key);
    expect(letter.value).toBe(message.value);
    expect(letter.partition).toBeUndefined();
    expect(letter.headers).toEqual({
      'trace-id': 'abc',
      'content-type': 'application/json',
      'x-tributary-reason': 'feature "conv_rate" must be a float64',
      'x-tributary-error-code': 'TRIB_WRONG_TYPE',
      'x-tributary-source-topic': 'driver_stats',
      'x-tributary-source-partition': '5',
      'x-tributary-source-offset': '9223372036854775000',
      'x-tributary-field': 'conv_rate',
      'x-tributary-failed-at': '2026-11-26T10:30:00.123Z',
    });
  });

  it('omits the field header when no field is known, and keeps a null key and value', () => {
    const letter = deadLetterMessage(
      incoming({ key: null, value: null }),
      { code: 'TRIB_MESSAGE_EMPTY', reason: 'message has no value' },
      new Date(FAILED_AT),
    );
    expect(letter.key).toBeNull();
    expect(letter.value).toBeNull();
    expect(letter.headers).not.toHaveProperty('x-tributary-field');
    expect(letter.headers?.['x-tributary-failed-at']).toBe('2026-11-26T10:30:00.123Z');
  });

  it('replaces the headers of an earlier dead-lettering instead of keeping them stale', () => {
    const replayed = incoming({
      topic: 'driver_stats',
      headers: {
        'trace-id': 'abc',
        'x-tributary-reason': 'old',
        'x-tributary-error-code': 'TRIB_WRONG_TYPE',
        'x-tributary-field': 'conv_rate',
        'x-tributary-source-offset': '1',
      },
    });
    const letter = deadLetterMessage(replayed, { code: 'TRIB_DECODE_FAILED', reason: 'not JSON' }, FAILED_AT);
    expect(letter.headers?.['x-tributary-reason']).toBe('not JSON');
    expect(letter.headers?.['x-tributary-error-code']).toBe('TRIB_DECODE_FAILED');
    expect(letter.headers?.['x-tributary-source-offset']).toBe('9223372036854775000');
    expect(letter.headers).not.toHaveProperty('x-tributary-field');
    expect(letter.headers?.['trace-id']).toBe('abc');
  });

  it('defaults failed-at to now and caps a runaway reason', () => {
    const before = Date.now();
    const letter = deadLetterMessage(incoming(), { code: 'TRIB_INTERNAL', reason: 'r'.repeat(5000) });
    const failedAt = Date.parse(letter.headers?.['x-tributary-failed-at'] ?? '');
    expect(failedAt).toBeGreaterThanOrEqual(before);
    expect(failedAt).toBeLessThanOrEqual(Date.now());
    expect(letter.headers?.['x-tributary-reason']).toHaveLength(1001);
  });

  it('takes a decoder rejection as it is', () => {
    const driver: EntitySpec = { kind: 'entity', name: 'driver', joinKey: 'driver_id', valueType: 'int64' };
    const view: FeatureViewSpec = {
      kind: 'featureView',
      name: 'driver_hourly_stats',
      entities: ['driver'],
      source: 'driver_stats_source',
      schema: [{ name: 'conv_rate', type: 'float64' }],
      ttlMs: 0,
      online: true,
      offline: true,
    };
    const decoder = createDecoder(view, [driver], {
      timestampField: 'event_timestamp',
      createdField: 'created',
    });
    const message = incoming({
      value: Buffer.from('{"driver_id": 1001, "event_timestamp": 0, "conv_rate": "0.5"}'),
    });
    const result = decoder.decode(message);
    if (result.ok) throw new Error('expected a rejection');
    const letter = deadLetterMessage(message, result, FAILED_AT);
    expect(letter.headers).toMatchObject({
      'x-tributary-error-code': 'TRIB_WRONG_TYPE',
      'x-tributary-field': 'conv_rate',
      'x-tributary-reason': result.reason,
    });
  });
});
