import { describe, expect, it } from 'vitest';
import type { Prediction } from '../../../services/monitor/decode.ts';
import { type ClosedWindow, monitoredColumns, WindowProcessor } from '../../../services/monitor/processor.ts';
import { normal, referenceProfile, rng, spec } from './helpers.ts';

const profile = referenceProfile();

function predictions(count: number, seed: number, shift = 0, t0 = 0, stepMs = 1): Prediction[] {
  const random = rng(seed);
  const gauss = normal(random);
  return Array.from({ length: count }, (_, i) => {
    const u = random();
    return {
      predictionId: String(i),
      model: 'test_model',
      modelVersion: '1',
      eventTime: t0 + i * stepMs,
      values: {
        x: gauss() + shift,
        color: u < 0.5 ? 'red' : u < 0.8 ? 'green' : 'blue',
        prediction: random(),
      },
    };
  });
}

function feed(processor: WindowProcessor, list: Prediction[]): ClosedWindow[] {
  const out: ClosedWindow[] = [];
  for (const p of list) {
    const c = processor.add(p, profile);
    if (c) out.push(c);
  }
  return out;
}

describe('WindowProcessor', () => {
  it('monitors bare feature names and the prediction', () => {
    expect(monitoredColumns({ features: ['v:x', 'w:color'], monitorPrediction: true })).toEqual([
      'x',
      'color',
      'prediction',
    ]);
    expect(monitoredColumns({ features: ['v:x'], monitorPrediction: false })).toEqual(['x']);
  });

  it('closes row windows every N predictions with their event-time bounds', () => {
    const processor = new WindowProcessor(spec({ window: { rows: 1_000 } }));
    const closed = feed(processor, predictions(2_500, 1, 0, 5_000));
    expect(closed.map((c) => c.drift.window)).toEqual([
      { start: 5_000, end: 5_999, rows: 1_000 },
      { start: 6_000, end: 6_999, rows: 1_000 },
    ]);
    expect(processor.openRows()).toEqual({ '1': 500 });
    expect(closed[0]!.drift).toMatchObject({ type: 'drift', model: 'test_model', model_version: '1' });
    expect(closed[0]!.drift.features.map((f) => f.name)).toEqual(['x', 'color']);
    expect(closed[0]!.drift.prediction?.name).toBe('prediction');
  });

  it('closes time windows when event time passes their end, aligned to the duration', () => {
    const processor = new WindowProcessor(spec({ window: { durationMs: 1_000 } }));
    // 10 predictions per second of event time, from t = 1,500.
    const closed = feed(processor, predictions(40, 2, 0, 1_500, 100));
    expect(closed.map((c) => c.drift.window)).toEqual([
      { start: 1_000, end: 2_000, rows: 5 },
      { start: 2_000, end: 3_000, rows: 10 },
      { start: 3_000, end: 4_000, rows: 10 },
      { start: 4_000, end: 5_000, rows: 10 },
    ]);
    // A late event joins the open window rather than reopening a closed one.
    processor.add({ ...predictions(1, 3)[0]!, eventTime: 1_200 }, profile);
    expect(processor.openRows()).toEqual({ '1': 6 });
  });

  it('keeps a window per model version', () => {
    const processor = new WindowProcessor(spec({ window: { rows: 10 } }));
    const list = predictions(15, 4).map((p, i) => ({ ...p, modelVersion: i % 3 === 0 ? '2' : '1' }));
    const closed = feed(processor, list);
    expect(closed.map((c) => [c.drift.model_version, c.drift.window.rows])).toEqual([['1', 10]]);
    expect(processor.openRows()).toEqual({ '2': 5 });
  });

  it('raises drift on a shift and a retraining request after the policy’s N drifted windows', () => {
    const processor = new WindowProcessor(spec({ window: { rows: 2_000 } }));
    const stable = feed(processor, predictions(10_000, 5));
    expect(stable.every((c) => !c.drift.dataset.drifted && c.retrain === null)).toBe(true);
    const shifted = feed(
      processor,
      predictions(4_000, 6, 2, 20_000).map((p) => ({ ...p, values: { ...p.values, color: 'blue' } })),
    );
    expect(shifted.map((c) => c.drift.dataset.drifted)).toEqual([true, true]);
    expect(shifted[0]!.retrain).toBeNull();
    expect(shifted[1]!.retrain).toMatchObject({
      type: 'retrain',
      model: 'test_model',
      model_version: '1',
      windows: [shifted[0]!.drift.id, shifted[1]!.drift.id],
    });
  });

  it('continues identically after snapshot and restore', () => {
    const ids = () => {
      let n = 0;
      return () => `id${n++}`;
    };
    const a = new WindowProcessor(spec({ window: { rows: 3_000 } }), { newId: ids(), now: () => 0 });
    const b = new WindowProcessor(spec({ window: { rows: 3_000 } }), { newId: ids(), now: () => 0 });
    const list = predictions(7_000, 7, 1.5);
    const first = feed(a, list.slice(0, 4_500));
    const saved = JSON.parse(JSON.stringify(a.snapshot()));
    feed(b, list.slice(0, 0));
    expect(b.restore(saved, () => profile)).toEqual([]);
    const restA = feed(a, list.slice(4_500));
    const restB = feed(b, list.slice(4_500));
    expect(first).toHaveLength(1);
    expect(restB.map((c) => c.drift.window)).toEqual(restA.map((c) => c.drift.window));
    expect(restB.map((c) => c.drift.features)).toEqual(restA.map((c) => c.drift.features));
  });
});

describe('WindowProcessor after a change of declaration', () => {
  it('closes a window restored from a row-bounded monitor once it becomes time-bounded', () => {
    const byRows = new WindowProcessor(spec({ window: { rows: 1_000 } }));
    for (const p of predictions(10, 9, 0, 1_500, 10)) byRows.add(p, profile);
    const byTime = new WindowProcessor(spec({ window: { durationMs: 1_000 } }));
    byTime.restore(JSON.parse(JSON.stringify(byRows.snapshot())), () => profile);
    const closed = byTime.add({ ...predictions(1, 10)[0]!, eventTime: 2_100 }, profile);
    expect(closed?.drift.window).toEqual({ start: 1_000, end: 2_000, rows: 10 });
  });
});
