import { Int64, Table, TimestampMillisecond, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { driverEntity, statsView } from '../../../fixtures/driver-spec.ts';
import type { RepoSpec } from '../../../shared/definitions/types.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { coerceKey, entitiesFromArrow, entitiesFromColumns } from '../../../shared/retrieval/entities.ts';
import { outputNameOf, parseFeatureRef, planRetrieval } from '../../../shared/retrieval/plan.ts';

const repo: RepoSpec = {
  entities: [driverEntity(), { kind: 'entity', name: 'rider', joinKey: 'rider_id', valueType: 'string' }],
  kafkaSources: [],
  pushSources: [],
  featureViews: [
    statsView('s'),
    {
      kind: 'featureView',
      name: 'pair',
      entities: ['driver', 'rider'],
      source: 's',
      schema: [{ name: 'conv_rate', type: 'float64' }],
      ttlMs: 0,
      online: false,
      offline: true,
    },
  ],
  featureServices: [
    {
      kind: 'featureService',
      name: 'svc',
      features: [{ featureView: 'stats', features: ['trips'] }, { featureView: 'pair' }],
    },
    { kind: 'featureService', name: 'broken', features: [{ featureView: 'gone' }] },
  ],
  monitors: [],
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isTributaryError(error) ? error.code : 'not coded';
  }
  return undefined;
}

describe('feature references', () => {
  it('parses view:feature and refuses anything else', () => {
    expect(parseFeatureRef('stats:conv_rate')).toEqual({ view: 'stats', feature: 'conv_rate' });
    for (const bad of ['conv_rate', 'a:b:c', ':x', 'x:', 'a b:c']) {
      expect(codeOf(() => parseFeatureRef(bad))).toBe('TRIB_UNKNOWN_FEATURE');
    }
  });
  it('names outputs view__feature with full feature names', () => {
    expect(outputNameOf('stats', 'trips', true)).toBe('stats__trips');
    expect(outputNameOf('stats', 'trips', false)).toBe('trips');
  });
});

describe('planRetrieval', () => {
  it('groups features by view in order of first appearance, keeping request order', () => {
    const plan = planRetrieval(
      repo,
      { features: ['stats:trips', 'pair:conv_rate', 'stats:conv_rate'], fullFeatureNames: true },
      'offline',
    );
    expect(plan.views.map((v) => v.spec.name)).toEqual(['stats', 'pair']);
    expect(plan.views[0]!.features.map((f) => f.name)).toEqual(['trips', 'conv_rate']);
    expect(plan.features.map((f) => f.outputName)).toEqual([
      'stats__trips',
      'pair__conv_rate',
      'stats__conv_rate',
    ]);
    expect(plan.features.map((f) => f.schemaIndex)).toEqual([1, 0, 0]);
    expect(plan.joinKeys).toEqual([
      { name: 'driver_id', type: 'int64' },
      { name: 'rider_id', type: 'string' },
    ]);
    expect(plan.views[0]!.layout.ttlMs).toBe(86_400_000);
  });

  it('expands feature services, a bare view meaning all its features', () => {
    const plan = planRetrieval(repo, { featureService: 'svc', fullFeatureNames: true }, 'offline');
    expect(plan.features.map((f) => f.ref)).toEqual(['stats:trips', 'pair:conv_rate']);
  });

  it('fails with coded errors', () => {
    expect(codeOf(() => planRetrieval(repo, { features: ['nope:x'] }, 'offline'))).toBe(
      'TRIB_UNKNOWN_FEATURE_VIEW',
    );
    expect(codeOf(() => planRetrieval(repo, { features: ['stats:nope'] }, 'offline'))).toBe(
      'TRIB_UNKNOWN_FEATURE',
    );
    expect(codeOf(() => planRetrieval(repo, { featureService: 'nope' }, 'offline'))).toBe(
      'TRIB_UNKNOWN_FEATURE_SERVICE',
    );
    expect(codeOf(() => planRetrieval(repo, { featureService: 'broken' }, 'offline'))).toBe(
      'TRIB_UNKNOWN_FEATURE_VIEW',
    );
    expect(codeOf(() => planRetrieval(repo, {}, 'offline'))).toBe('TRIB_BAD_REQUEST');
    expect(codeOf(() => planRetrieval(repo, { features: [], featureService: 'svc' }, 'offline'))).toBe(
      'TRIB_BAD_REQUEST',
    );
    expect(codeOf(() => planRetrieval(repo, { features: [] }, 'offline'))).toBe('TRIB_BAD_REQUEST');
    // Same bare name from two views, and the same feature twice.
    expect(
      codeOf(() => planRetrieval(repo, { features: ['stats:conv_rate', 'pair:conv_rate'] }, 'offline')),
    ).toBe('TRIB_BAD_REQUEST');
    expect(codeOf(() => planRetrieval(repo, { features: ['stats:trips', 'stats:trips'] }, 'offline'))).toBe(
      'TRIB_BAD_REQUEST',
    );
    // 'pair' is offline only.
    expect(codeOf(() => planRetrieval(repo, { features: ['pair:conv_rate'] }, 'online'))).toBe(
      'TRIB_BAD_REQUEST',
    );
  });
});

describe('entity rows', () => {
  const keys = [{ name: 'driver_id', type: 'int64' as const }];

  it('coerces keys strictly', () => {
    expect(coerceKey('int64', 7)).toBe(7n);
    expect(coerceKey('int64', '9007199254740993')).toBe(9007199254740993n);
    expect(coerceKey('int64', 1.5)).toBeUndefined();
    expect(coerceKey('int64', '9223372036854775808')).toBeUndefined();
    expect(coerceKey('string', 7)).toBeUndefined();
    expect(coerceKey('bool', 'true')).toBeUndefined();
    expect(coerceKey('float64', Number.NaN)).toBeUndefined();
  });

  it('reads timestamps in every accepted form as epoch microseconds', () => {
    const frame = entitiesFromColumns(
      {
        driver_id: [1, 2, 3, 4],
        event_timestamp: [
          '2024-05-10T12:00:00Z',
          '2024-05-10T14:00:00+02:00',
          '2024-05-10 12:00:00',
          1715342400000,
        ],
      },
      keys,
    );
    expect([...frame.timestamps]).toEqual(Array(4).fill(1715342400000 * 1000));
    expect(frame.columns.map((c) => c.name)).toEqual(['driver_id', 'event_timestamp']);
  });

  it('names the bad cell', () => {
    try {
      entitiesFromColumns({ driver_id: [1, 'x'], event_timestamp: [0, 0] }, keys);
      expect.unreachable();
    } catch (error) {
      expect(isTributaryError(error, 'TRIB_BAD_REQUEST')).toBe(true);
      expect((error as Error).message).toContain('entities.driver_id[1]');
    }
    expect(codeOf(() => entitiesFromColumns({ event_timestamp: [0] }, keys))).toBe('TRIB_MISSING_ENTITY');
    for (const outside of [1e18, -1e18, 253_402_300_800_000, -62_135_596_800_001]) {
      expect(codeOf(() => entitiesFromColumns({ driver_id: [1], event_timestamp: [outside] }, keys))).toBe(
        'TRIB_BAD_REQUEST',
      );
    }
    expect(
      entitiesFromColumns(
        { driver_id: [1, 2], event_timestamp: [-62_135_596_800_000, 253_402_300_799_999] },
        keys,
      ).timestamps,
    ).toEqual(Float64Array.from([-62_135_596_800_000_000, 253_402_300_799_999_000]));
    // The same bound for an Arrow timestamp column.
    const arrow = (ms: number) =>
      new Table({
        driver_id: vectorFromArray([1n], new Int64()),
        event_timestamp: vectorFromArray([ms], new TimestampMillisecond()),
      });
    expect(codeOf(() => entitiesFromArrow(arrow(1e17), keys))).toBe('TRIB_BAD_REQUEST');
    expect([...entitiesFromArrow(arrow(1_715_342_400_000), keys).timestamps]).toEqual([
      1_715_342_400_000_000,
    ]);
    expect(codeOf(() => entitiesFromColumns({ driver_id: [1], event_timestamp: ['soon'] }, keys))).toBe(
      'TRIB_BAD_REQUEST',
    );
    expect(
      codeOf(() => entitiesFromColumns({ driver_id: [1], event_timestamp: [0], label: [1, 2] }, keys)),
    ).toBe('TRIB_BAD_REQUEST');
    expect(
      codeOf(() => entitiesFromColumns({ driver_id: [1], event_timestamp: [0], label: [{}] }, keys)),
    ).toBe('TRIB_BAD_REQUEST');
  });
});
