import { describe, expect, it } from 'vitest';
import {
  binCounts,
  ksFromGrid,
  ksTwoSample,
  numericDriftFromGrid,
  referenceGrid,
  WindowHistogram,
  wasserstein,
  wassersteinFromGrid,
} from '../../../shared/stats/index.ts';
import { numericCases, nums, sorted } from './golden.ts';

function windowOf(edges: number[], values: number[]): WindowHistogram {
  const h = new WindowHistogram(edges);
  for (const x of values) h.add(x);
  return h;
}

describe.each(numericCases)('grid sketch (1000 reference quantiles) on $name', (c) => {
  const ref = sorted(c.reference);
  const cur = sorted(c.current);
  const grid = referenceGrid(ref);
  const win = windowOf(grid.edges, c.current);

  it('keeps O(grid) state: at most 1002 cells whatever the window size', () => {
    expect(win.counts.length).toBeLessThanOrEqual(1002);
    expect(win.n).toBe(cur.length);
  });

  it('gives exact decile bin counts (decile edges are grid edges)', () => {
    for (const d of grid.deciles) expect(grid.edges).toContain(d);
    expect(win.binCounts(grid.deciles)).toEqual(nums(c, 'current_bin_counts'));
    expect(binCounts(grid.deciles, ref)).toEqual(nums(c, 'reference_bin_counts'));
  });

  it('brackets the exact KS statistic: D_grid <= D <= upper bound', () => {
    const exact = ksTwoSample(ref, cur, 'asymp').statistic;
    const sk = ksFromGrid(grid, win);
    expect(sk.statistic).toBeLessThanOrEqual(exact + 1e-12);
    expect(exact).toBeLessThanOrEqual(sk.statisticUpperBound + 1e-12);
    // Measured on the golden cases: D − D_grid <= 5e-4 except where all the window sits in the
    // tail cells of a constant reference (0.04, still inside the bracket).
    if (c.name !== 'constant_reference') expect(exact - sk.statistic).toBeLessThan(5e-4);
  });

  it('brackets the exact Wasserstein distance: W_grid <= W <= W_grid + errorBound', () => {
    const exact = wasserstein(ref, cur);
    const sk = wassersteinFromGrid(grid, win);
    const slack = 1e-12 * Math.max(1, exact);
    expect(sk.distance).toBeLessThanOrEqual(exact + slack);
    expect(exact).toBeLessThanOrEqual(sk.distance + sk.errorBound + slack);
    // Measured: normed error <= 3e-4 (large_no_drift), normed bound <= 0.02; thresholds are 0.1.
    expect((exact - sk.distance) / Math.max(grid.std, 0.001)).toBeLessThan(5e-4);
    expect(sk.normedErrorBound).toBeLessThan(0.025);
  });

  it('merging two half-windows equals one window', () => {
    const half = Math.floor(c.current.length / 2);
    const a = windowOf(grid.edges, c.current.slice(0, half));
    a.merge(windowOf(grid.edges, c.current.slice(half)));
    expect(a.counts).toEqual(win.counts);
    expect(a.n).toBe(win.n);
    expect(a.min).toBe(win.min);
    expect(a.max).toBe(win.max);
  });

  it('gives the same PSI/JS/Hellinger verdicts as the full samples', () => {
    for (const method of ['psi', 'jensenshannon', 'hellinger'] as const) {
      const r = numericDriftFromGrid(grid, win, { method });
      const key = method === 'jensenshannon' ? 'js_distance_base_e' : method;
      expect(r.score).toBeCloseTo(c.expected[key] as number, 12);
    }
  });
});

describe('grid sketch edge cases', () => {
  it('reports an empty or all-missing window as not applicable', () => {
    const grid = referenceGrid(sorted([1, 2, 3, 4]));
    const empty = new WindowHistogram(grid.edges);
    expect(numericDriftFromGrid(grid, empty)).toMatchObject({
      applicable: false,
      drifted: false,
      reason: 'empty window',
    });
    empty.add(Number.NaN);
    empty.add(null);
    expect(numericDriftFromGrid(grid, empty)).toMatchObject({ applicable: false, missingShare: 1 });
  });
});
