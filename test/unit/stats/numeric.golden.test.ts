import { describe, expect, it } from 'vitest';
import {
  binCounts,
  binEdges,
  hellinger,
  jensenShannon,
  ksTwoSample,
  psi,
  stdPopulation,
  wasserstein,
  wassersteinNormed,
} from '../../../shared/stats/index.ts';
import { expectClose, num, numericCases, nums, sorted } from './golden.ts';

describe.each(numericCases)('numeric golden case $name', (c) => {
  const ref = sorted(c.reference);
  const cur = sorted(c.current);

  it('bin edges and counts', () => {
    const edges = binEdges(ref);
    const expected = nums(c, 'bin_edges');
    expect(edges).toHaveLength(expected.length);
    for (const [i, e] of edges.entries()) expectClose(e, expected[i]!);
    expect(binCounts(edges, ref)).toEqual(nums(c, 'reference_bin_counts'));
    expect(binCounts(edges, cur)).toEqual(nums(c, 'current_bin_counts'));
  });

  it('PSI, Jensen–Shannon (base e and 2), Hellinger on the decile bins', () => {
    const edges = binEdges(ref);
    const r = binCounts(edges, ref);
    const k = binCounts(edges, cur);
    expectClose(psi(r, k), num(c, 'psi'));
    expectClose(jensenShannon(r, k), num(c, 'js_distance_base_e'));
    expectClose(jensenShannon(r, k, 2), num(c, 'js_distance_base_2'));
    expectClose(hellinger(r, k), num(c, 'hellinger'));
  });

  it('Wasserstein, reference std and normed Wasserstein', () => {
    expectClose(wasserstein(ref, cur), num(c, 'wasserstein'));
    // std of a constant reference is exactly 0 (golden 0.0): compared exactly.
    expectClose(stdPopulation(ref), num(c, 'reference_std_ddof0'));
    expectClose(wassersteinNormed(ref, cur), num(c, 'wasserstein_normed'));
  });

  it('KS statistic and p-values (auto and asymp)', () => {
    const auto = ksTwoSample(ref, cur, 'auto');
    const asymp = ksTwoSample(ref, cur, 'asymp');
    expectClose(auto.statistic, num(c, 'ks_statistic'));
    expectClose(auto.pValue, num(c, 'ks_pvalue_auto'));
    expectClose(asymp.pValue, num(c, 'ks_pvalue_asymp'));
    // scipy's 'auto' is exact up to 10 000 values per sample, asymptotic beyond.
    expect(auto.mode).toBe(Math.max(ref.length, cur.length) <= 10_000 ? 'exact' : 'asymp');
  });
});
