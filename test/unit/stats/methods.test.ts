import { describe, expect, it } from 'vitest';
import {
  categoricalDrift,
  countCategories,
  DRIFT_METHODS,
  defaultMethod,
  isDrift,
  METHODS,
  numericDrift,
  sortFinite,
} from '../../../shared/stats/index.ts';
import { categoricalCases, numericCases } from './golden.ts';

const byName = (name: string) => {
  const c = numericCases.find((x) => x.name === name) ?? categoricalCases.find((x) => x.name === name);
  if (!c) throw new Error(name);
  return c;
};

describe('method registry', () => {
  it('covers every DriftMethod with a direction and a threshold', () => {
    expect([...DRIFT_METHODS].sort()).toEqual([
      'chisquare',
      'hellinger',
      'jensenshannon',
      'ks',
      'psi',
      'wasserstein',
      'z',
    ]);
    expect(isDrift('ks', 0.01, 0.05)).toBe(true);
    expect(isDrift('ks', 0.05, 0.05)).toBe(false);
    expect(isDrift('wasserstein', 0.1, 0.1)).toBe(true);
    expect(isDrift('wasserstein', 0.09, 0.1)).toBe(false);
    expect(METHODS.z.binaryOnly).toBe(true);
  });

  it('chooses tests for small samples and distances for large ones', () => {
    expect(defaultMethod('numeric', 5000, 500, 0)).toEqual({ method: 'ks', threshold: 0.05 });
    expect(defaultMethod('numeric', 20000, 20000, 0)).toEqual({ method: 'wasserstein', threshold: 0.1 });
    expect(defaultMethod('categorical', 30, 25, 2)).toEqual({ method: 'z', threshold: 0.05 });
    expect(defaultMethod('categorical', 800, 700, 3)).toEqual({ method: 'chisquare', threshold: 0.05 });
    expect(defaultMethod('categorical', 5000, 4000, 8)).toEqual({ method: 'jensenshannon', threshold: 0.1 });
  });
});

describe('default method on the golden cases', () => {
  const numeric = (name: string, method?: 'ks') => {
    const c = byName(name);
    return numericDrift(
      { sorted: sortFinite(c.reference as number[]).sorted },
      c.current as number[],
      method ? { method } : {},
    );
  };

  it('large_no_drift: neither the default (Wasserstein) nor KS flags', () => {
    const d = numeric('large_no_drift');
    expect(d).toMatchObject({ method: 'wasserstein', drifted: false });
    expect(d.score).toBeCloseTo(0.01454, 4);
    expect(numeric('large_no_drift', 'ks')).toMatchObject({ drifted: false });
  });

  it('large_small_shift: a 0.1-std mean shift sits exactly at the Wasserstein threshold; KS p is 1.5e-15', () => {
    const d = numeric('large_small_shift');
    expect(d.method).toBe('wasserstein');
    expect(d.score).toBeCloseTo(0.1009, 4);
    expect(d.drifted).toBe(true);
    expect(numeric('large_small_shift', 'ks').pValue).toBeLessThan(1e-14);
  });

  it('small and medium cases: tests for small samples, a distance once n_eff > 1000', () => {
    expect(numeric('small_same_dist')).toMatchObject({ method: 'ks', drifted: false });
    expect(numeric('small_shift')).toMatchObject({ method: 'ks', drifted: true });
    expect(numeric('ties_discrete')).toMatchObject({ method: 'ks', drifted: true });
    expect(numeric('medium_scale_change')).toMatchObject({ method: 'wasserstein', drifted: true });
  });

  it('categorical: z or chi-square while n_eff <= 1000, Jensen–Shannon above', () => {
    const cat = (name: string, method?: 'z') => {
      const c = byName(name);
      return categoricalDrift(
        countCategories(c.reference as string[]).counts,
        c.current as string[],
        method ? { method } : {},
      );
    };
    expect(cat('binary_small')).toMatchObject({ method: 'z', drifted: false });
    expect(cat('cat_no_drift')).toMatchObject({ method: 'jensenshannon', drifted: false });
    expect(cat('cat_drift')).toMatchObject({ method: 'jensenshannon', drifted: true });
    expect(cat('cat_new_category')).toMatchObject({
      method: 'chisquare',
      drifted: true,
      unseenCategories: ['c'],
    });
    // 29.9% → 40.7%: JS 0.080 stays under 0.1 while the z p-value is 2.6e-15 (see the docs).
    expect(cat('binary_shift')).toMatchObject({ method: 'jensenshannon', drifted: false });
    expect(cat('binary_shift', 'z')).toMatchObject({ drifted: true });
  });
});

describe('the large-sample p-value trap', () => {
  // Logistic quantiles (closed form), 20 000 rows each, the window shifted by 0.05 std.
  const n = 20_000;
  const ref = Array.from({ length: n }, (_, i) => Math.log((i + 0.5) / (n - i - 0.5)));
  const std = Math.PI / Math.sqrt(3);
  const cur = ref.map((x) => x + 0.05 * std);

  it('KS flags a 0.05-std shift that the default (normed Wasserstein 0.05 < 0.1) does not', () => {
    const reference = { sorted: sortFinite(ref).sorted };
    const ks = numericDrift(reference, cur, { method: 'ks' });
    expect(ks.pValue).toBeLessThan(0.01);
    expect(ks.drifted).toBe(true);
    const def = numericDrift(reference, cur);
    expect(def.method).toBe('wasserstein');
    expect(def.score).toBeCloseTo(0.05, 2);
    expect(def.drifted).toBe(false);
  });
});
