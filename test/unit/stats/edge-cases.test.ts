import { describe, expect, it } from 'vitest';
import {
  binEdges,
  categoricalDrift,
  chiSquareContingency,
  chiSquareGoodnessOfFit,
  jensenShannon,
  numericDrift,
  psi,
  sortFinite,
  twoProportionZ,
  wassersteinNormed,
} from '../../../shared/stats/index.ts';

const reference = { sorted: sortFinite([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).sorted };

describe('numeric edge cases never throw', () => {
  it('empty window', () => {
    for (const method of ['ks', 'wasserstein', 'psi', 'jensenshannon', 'hellinger'] as const) {
      expect(numericDrift(reference, [], { method })).toMatchObject({
        applicable: false,
        drifted: false,
        score: null,
        missingShare: 0,
        reason: 'empty window',
      });
    }
  });

  it('all missing: NaN, null, undefined and infinities count as missing', () => {
    const r = numericDrift(reference, [Number.NaN, null, undefined, Number.POSITIVE_INFINITY]);
    expect(r).toMatchObject({
      applicable: false,
      drifted: false,
      missingShare: 1,
      reason: 'every value missing',
    });
  });

  it('NaN inputs are excluded and counted', () => {
    const r = numericDrift(reference, [1, 2, Number.NaN, 3, 4], { method: 'ks' });
    expect(r.windowSize).toBe(4);
    expect(r.missingShare).toBeCloseTo(0.2, 15);
    expect(r.applicable).toBe(true);
  });

  it('empty reference', () => {
    expect(numericDrift({ sorted: new Float64Array() }, [1, 2])).toMatchObject({
      applicable: false,
      reason: 'empty reference',
    });
  });

  it('constant reference: edges collapse to one, std floors at 0.001', () => {
    const constant = { sorted: new Float64Array(50).fill(3) };
    expect(binEdges(constant.sorted)).toEqual([3]);
    expect(wassersteinNormed(constant.sorted, Float64Array.of(3, 3.001))).toBeCloseTo(0.5, 9);
    for (const method of ['ks', 'wasserstein', 'psi', 'jensenshannon', 'hellinger'] as const) {
      const r = numericDrift(constant, [3, 3, 3], { method });
      expect(r.applicable).toBe(true);
      expect(r.drifted).toBe(false);
    }
  });

  it('categorical-only methods are reported as not applicable', () => {
    expect(numericDrift(reference, [1, 2], { method: 'chisquare' })).toMatchObject({ applicable: false });
  });
});

describe('categorical edge cases never throw', () => {
  const ref = { a: 40, b: 60 };

  it('unseen categories get their own bucket', () => {
    const r = categoricalDrift(ref, ['a', 'b', 'c', 'c'], { method: 'chisquare' });
    expect(r.unseenCategories).toEqual(['c']);
    expect(r.applicable).toBe(true);
    expect(psi([40, 60, 0], [1, 1, 2])).toBeGreaterThan(1);
  });

  it('goodness of fit is not applicable with a zero reference count; contingency is', () => {
    expect(chiSquareGoodnessOfFit([40, 60, 0], [1, 1, 2])).toBeNull();
    expect(chiSquareContingency([40, 60, 0], [1, 1, 2])).not.toBeNull();
  });

  it('empty and all-missing windows', () => {
    expect(categoricalDrift(ref, [])).toMatchObject({ applicable: false, reason: 'empty window' });
    expect(categoricalDrift(ref, [null, undefined, Number.NaN])).toMatchObject({
      applicable: false,
      missingShare: 1,
      reason: 'every value missing',
    });
  });

  it('z-test needs two categories; a single shared category is no drift', () => {
    expect(categoricalDrift(ref, ['a', 'b', 'c'], { method: 'z' })).toMatchObject({ applicable: false });
    expect(categoricalDrift({ a: 10 }, ['a', 'a'], { method: 'z' })).toMatchObject({
      applicable: true,
      drifted: false,
    });
    expect(twoProportionZ([10, 0], [5, 0])).toEqual({ statistic: 0, pValue: 1 });
  });

  it('identical distributions give zero distances', () => {
    expect(jensenShannon([1, 2, 3], [2, 4, 6])).toBe(0);
    expect(psi([1, 2, 3], [2, 4, 6])).toBeCloseTo(0, 15);
  });

  it('accepts counts as a Map or a record', () => {
    const m = categoricalDrift(
      new Map([
        ['a', 40],
        ['b', 60],
      ]),
      new Map([
        ['a', 50],
        ['b', 50],
      ]),
      { method: 'psi' },
    );
    const r = categoricalDrift(ref, { a: 50, b: 50 }, { method: 'psi' });
    expect(m.score).toBe(r.score);
  });
});
