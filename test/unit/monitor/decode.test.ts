import { describe, expect, it } from 'vitest';
import { checkKinds, decodePrediction } from '../../../services/monitor/decode.ts';

const columns = ['x', 'color', 'prediction'];
const good = {
  prediction_id: 'p1',
  model: 'm',
  model_version: 3,
  event_timestamp: '2026-01-02T03:04:05Z',
  features: { x: 0.5, color: 'red', other: 1 },
  prediction: 0.7,
};
const decode = (value: unknown) =>
  decodePrediction(
    value === undefined ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    columns,
  );

describe('decodePrediction', () => {
  it('decodes the monitored columns of a prediction event', () => {
    expect(decode(good)).toEqual({
      ok: true,
      prediction: {
        predictionId: 'p1',
        model: 'm',
        modelVersion: '3',
        eventTime: Date.UTC(2026, 0, 2, 3, 4, 5),
        values: [0.5, 'red', 0.7],
      },
    });
  });

  it('takes absent and null features as missing values', () => {
    const r = decode({ ...good, features: { x: null }, prediction: null });
    expect(r.ok && r.prediction.values).toEqual([null, null, null]);
  });

  it.each([
    [undefined, 'TRIB_MESSAGE_EMPTY', undefined],
    ['{not json', 'TRIB_DECODE_FAILED', undefined],
    ['[1]', 'TRIB_NOT_AN_OBJECT', undefined],
    [{ ...good, prediction_id: undefined }, 'TRIB_MISSING_FIELD', 'prediction_id'],
    [{ ...good, model: 7 }, 'TRIB_WRONG_TYPE', 'model'],
    [{ ...good, event_timestamp: 'yesterday' }, 'TRIB_BAD_TIMESTAMP', 'event_timestamp'],
    [{ ...good, features: [1, 2] }, 'TRIB_WRONG_TYPE', 'features'],
    [{ ...good, features: { x: { nested: 1 } } }, 'TRIB_WRONG_TYPE', 'features.x'],
    [{ ...good, prediction: undefined }, 'TRIB_MISSING_FIELD', 'prediction'],
  ])('rejects %j with %s', (value, code, field) => {
    const r = decode(value);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.field).toBe(field);
    }
  });

  it('rejects a non-number in a numeric reference column', () => {
    const r = decode({ ...good, features: { x: '0.5', color: 3 } });
    if (!r.ok) throw new Error('should decode');
    const kinds = new Map([
      ['x', 'numeric' as const],
      ['color', 'categorical' as const],
    ]);
    expect(checkKinds(r.prediction, kinds, columns)).toMatchObject({
      code: 'TRIB_WRONG_TYPE',
      field: 'features.x',
    });
    const ok = decode({ ...good, features: { x: 1, color: 3 } });
    if (!ok.ok) throw new Error('should decode');
    expect(checkKinds(ok.prediction, kinds, columns)).toBeNull();
  });
});
