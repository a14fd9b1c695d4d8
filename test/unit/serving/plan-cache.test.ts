import { describe, expect, it } from 'vitest';
import { driverSpec } from '../../../fixtures/driver-spec.ts';
import { PlanCache } from '../../../services/serving/plan-cache.ts';
import type { RepoSpec } from '../../../shared/definitions/types.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { planRetrieval } from '../../../shared/retrieval/plan.ts';

const repo: RepoSpec = {
  ...driverSpec('t'),
  featureServices: [
    {
      kind: 'featureService',
      name: 'rates',
      features: [{ featureView: 'driver_hourly_stats', features: ['conv_rate'] }],
    },
    { kind: 'featureService', name: 'all', features: [{ featureView: 'driver_hourly_stats' }] },
  ],
};
const conv = 'driver_hourly_stats:conv_rate';
const acc = 'driver_hourly_stats:acc_rate';

describe('PlanCache', () => {
  it('answers each selection with its own plan, whatever selections were cached before', () => {
    const selections = [
      { features: [conv, acc] },
      { features: [conv, acc], fullFeatureNames: true },
      { features: [conv, acc], fullFeatureNames: false },
      { features: [acc, conv] },
      { features: [conv] },
      { featureService: 'rates' },
      { featureService: 'rates', fullFeatureNames: true },
      { featureService: 'all' },
    ];
    const cache = new PlanCache();
    for (let round = 0; round < 2; round++) {
      for (const selection of selections) {
        expect(cache.plan(repo, selection), JSON.stringify(selection)).toEqual(
          planRetrieval(repo, selection, 'online'),
        );
      }
    }
  });

  it('hands back the cached plan for the same selection, not for one whose names join alike', () => {
    const cache = new PlanCache();
    const plan = cache.plan(repo, { features: [conv, acc] });
    expect(cache.plan(repo, { features: [conv, acc] })).toBe(plan);
    // Same joined key as [conv, acc]: it must not get that plan (the names are not features).
    const joined = { features: [`${conv}\u0000${acc}`] };
    let error: unknown;
    try {
      cache.plan(repo, joined);
    } catch (e) {
      error = e;
    }
    expect(isTributaryError(error)).toBe(true);
    // And a new definitions version plans again.
    expect(cache.plan({ ...repo }, { features: [conv, acc] })).not.toBe(plan);
  });

  it('starts over past its size', () => {
    const cache = new PlanCache(2);
    const first = cache.plan(repo, { features: [conv] });
    cache.plan(repo, { features: [acc] });
    expect(cache.plan(repo, { features: [conv] })).toBe(first);
    cache.plan(repo, { features: [conv, acc] });
    expect(cache.plan(repo, { features: [conv] })).not.toBe(first);
  });
});
