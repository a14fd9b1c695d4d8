import { describe, expect, it } from 'vitest';
import {
  alignCounts,
  chiSquareContingency,
  chiSquareGoodnessOfFit,
  countCategories,
  hellinger,
  jensenShannon,
  psi,
  twoProportionZ,
} from '../../../shared/stats/index.ts';
import { categoricalCases, expectClose, num, nums } from './golden.ts';

describe.each(categoricalCases)('categorical golden case $name', (c) => {
  const ref = countCategories(c.reference).counts;
  const cur = countCategories(c.current).counts;
  // The golden file lists categories sorted; align on that order to compare vectors.
  const categories = c.expected['categories'] as string[];
  const order = (counts: Map<string, number>) => categories.map((k) => counts.get(k) ?? 0);
  const r = order(ref);
  const k = order(cur);

  it('counts, including categories unseen in the reference', () => {
    expect(r).toEqual(nums(c, 'reference_counts'));
    expect(k).toEqual(nums(c, 'current_counts'));
    const aligned = alignCounts(ref, cur);
    expect([...aligned.categories].sort()).toEqual(categories);
    expect(aligned.unseen).toEqual(categories.filter((x) => !ref.has(x)));
  });

  it('PSI, Jensen–Shannon (base e and 2), Hellinger', () => {
    expectClose(psi(r, k), num(c, 'psi'));
    expectClose(jensenShannon(r, k), num(c, 'js_distance_base_e'));
    expectClose(jensenShannon(r, k, 2), num(c, 'js_distance_base_2'));
    expectClose(hellinger(r, k), num(c, 'hellinger'));
  });

  it('chi-square contingency', () => {
    const res = chiSquareContingency(r, k);
    expect(res).not.toBeNull();
    expectClose(res?.statistic, num(c, 'chi2_contingency_statistic'));
    expect(res?.dof).toBe(num(c, 'chi2_contingency_dof'));
    // p-values near 1e-256 carry the rounding of exp(−x/2) with x ≈ 1200: ~1e-13 relative, inside 1e-9.
    expectClose(res?.pValue, num(c, 'chi2_contingency_pvalue'));
  });

  it('chi-square goodness of fit, or not applicable when a reference count is 0', () => {
    const res = chiSquareGoodnessOfFit(r, k);
    if (!('chi2_goodness_of_fit_statistic' in c.expected)) {
      expect(r.some((x) => x === 0)).toBe(true);
      expect(res).toBeNull();
      return;
    }
    expectClose(res?.statistic, num(c, 'chi2_goodness_of_fit_statistic'));
    // cat_drift: χ² = 7104 on 7 dof underflows to exactly 0 in scipy and here.
    expectClose(res?.pValue, num(c, 'chi2_goodness_of_fit_pvalue'));
  });

  it('two-proportion z-test on binary columns', () => {
    const res = twoProportionZ(r, k);
    if (!('z_statistic' in c.expected)) {
      expect(categories.length).not.toBe(2);
      expect(res).toBeNull();
      return;
    }
    expectClose(res?.statistic, num(c, 'z_statistic'));
    expectClose(res?.pValue, num(c, 'z_pvalue'));
  });
});
