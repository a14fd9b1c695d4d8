import { describe, expect, it } from 'vitest';
import { scoreWindow } from '../../../services/monitor/scoring.ts';
import { CategoricalWindow, MAX_UNSEEN_CATEGORIES, WindowState } from '../../../services/monitor/window.ts';
import { normal, referenceProfile, rng } from './helpers.ts';

const profile = referenceProfile();
const columns = ['x', 'color', 'prediction'];

function fill(window: WindowState, rows: number, seed: number, shift = 0): void {
  const random = rng(seed);
  const gauss = normal(random);
  for (let i = 0; i < rows; i++) {
    const u = random();
    window.add(1_000 + i, {
      x: gauss() + shift,
      color: u < 0.5 ? 'red' : u < 0.8 ? 'green' : 'blue',
      prediction: random(),
    });
  }
}

describe('WindowState', () => {
  it('keeps state bounded by columns × bins, not rows', () => {
    const small = new WindowState('1', profile, columns);
    const large = new WindowState('1', profile, columns);
    fill(small, 10_000, 2);
    fill(large, 200_000, 3);
    const sizeOf = (w: WindowState) => JSON.stringify(w.snapshot()).length;
    // Both windows cover nearly every grid cell: the larger one holds bigger numbers, not more of them.
    expect(sizeOf(large)).toBeLessThan(sizeOf(small) * 1.5);
    expect(large.rows).toBe(200_000);
    const x = large.columns.get('x');
    const reference = profile.columns.find((c) => c.name === 'x');
    if (x?.kind !== 'numeric' || reference?.kind !== 'numeric') throw new Error('x should be numeric');
    expect(x.hist.counts.length).toBe(reference.grid.edges.length + 1);
    expect(reference.grid.edges.length).toBeLessThanOrEqual(1001);
  });

  it('round-trips through a snapshot with identical scores', () => {
    const window = new WindowState('1', profile, columns);
    fill(window, 5_000, 4, 0.3);
    const restored = WindowState.restore(JSON.parse(JSON.stringify(window.snapshot())), profile, columns)!;
    const spec = { overrides: {}, datasetDriftThreshold: 0.5 };
    expect(scoreWindow(restored, spec)).toEqual(scoreWindow(window, spec));
    // …and keeps counting exactly as the original would.
    fill(window, 100, 5);
    fill(restored, 100, 5);
    expect(restored.snapshot()).toEqual(window.snapshot());
  });

  it('refuses a snapshot counted against another build of the profile', () => {
    const window = new WindowState('1', profile, columns);
    fill(window, 10, 6);
    const rebuilt = { ...profile, createdAt: new Date(1).toISOString() };
    expect(WindowState.restore(window.snapshot(), rebuilt, columns)).toBeNull();
  });

  it('counts absent and null values as missing and skips columns the profile lacks', () => {
    const window = new WindowState('1', profile, [...columns, 'not_profiled']);
    expect([...window.columns.keys()]).toEqual(['x', 'color', 'prediction']);
    window.add(1, { x: null, color: undefined, prediction: 0.5 });
    window.add(2, { x: 1, color: 'red', prediction: Number.NaN });
    const scored = scoreWindow(window, { overrides: {}, datasetDriftThreshold: 0.5 });
    expect(scored.features.map((f) => f.missing_share)).toEqual([0.5, 0.5]);
    expect(scored.prediction?.missing_share).toBe(0.5);
  });

  it('keeps unseen categories apart, up to a bound', () => {
    const color = profile.columns.find((c) => c.name === 'color');
    if (color?.kind !== 'categorical') throw new Error('color should be categorical');
    const window = new CategoricalWindow(color);
    window.add('red');
    for (let i = 0; i < MAX_UNSEEN_CATEGORIES + 50; i++) window.add(`new_${i}`);
    expect(window.counts.size).toBe(1 + MAX_UNSEEN_CATEGORIES + 1);
    expect(window.counts.get('red')).toBe(1);
  });
});

describe('scoreWindow', () => {
  it('finds no drift in a window from the reference distribution and drift in a shifted one', () => {
    const spec = { overrides: {}, datasetDriftThreshold: 0.5 };
    const same = new WindowState('1', profile, columns);
    fill(same, 5_000, 7);
    const stable = scoreWindow(same, spec);
    expect(stable.features.every((f) => !f.drifted)).toBe(true);
    expect(stable.dataset.drifted).toBe(false);

    const shifted = new WindowState('1', profile, columns);
    fill(shifted, 5_000, 8, 1);
    const scored = scoreWindow(shifted, {
      overrides: { x: { method: 'psi', threshold: 0.2 } },
      datasetDriftThreshold: 0.3,
    });
    const x = scored.features.find((f) => f.name === 'x')!;
    expect(x).toMatchObject({ kind: 'numeric', method: 'psi', threshold: 0.2, drifted: true });
    expect(scored.dataset.drifted_share).toBeCloseTo(1 / 3);
    expect(scored.dataset.drifted).toBe(true);
  });

  it('reports an empty column as not scorable instead of failing', () => {
    const window = new WindowState('1', profile, columns);
    window.add(1, { x: null, color: null, prediction: null });
    const scored = scoreWindow(window, { overrides: {}, datasetDriftThreshold: 0.5 });
    expect(scored.features.every((f) => f.score === null && !f.drifted)).toBe(true);
    expect(Object.keys(scored.notes)).toEqual(['x', 'color', 'prediction']);
  });
});
