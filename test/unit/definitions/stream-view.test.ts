import { describe, expect, it } from 'vitest';
import {
  type AggregationInput,
  type AnyDeclaration,
  entity,
  featureService,
  featureView,
  kafkaSource,
  monitor,
  pushSource,
  type StreamFeatureViewInput,
  streamFeatureView,
} from '../../../shared/definitions/declare.ts';
import { checkRepo, resolveRepo } from '../../../shared/definitions/validate.ts';
import { streamFeatureView as fromPackageRoot } from '../../../shared/index.ts';
import { specHash } from '../../../shared/registry/hash.ts';
import { objectsOf, planChanges } from '../../../shared/registry/plan.ts';

const FILE = 'defs/a.ts';
const at = (d: AnyDeclaration) => ({ declaration: d, file: FILE });
const issuesOf = (...decls: AnyDeclaration[]) => checkRepo(decls.map(at)).issues;
const specOf = (...decls: AnyDeclaration[]) => resolveRepo(decls.map(at));

const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });
const trips = kafkaSource({ name: 'trips', topic: 'trips' });
const pushed = pushSource({ name: 'trips_push', batchSource: trips });

const ISSUE_AGGREGATIONS = [
  { column: 'fare', function: 'sum', window: '1h', resolution: '1m' },
  { column: 'fare', function: 'count', window: '1d' },
  { column: 'fare', function: 'mean', window: '7d' },
  { column: 'rating', function: 'last', window: '7d', name: 'last_rating' },
] as const;

const view = (over: Partial<StreamFeatureViewInput> = {}) =>
  streamFeatureView({
    name: 'driver_trip_stats',
    entities: [driver],
    source: trips,
    schema: { fare: 'float64', rating: 'int64', city: 'string' },
    aggregations: ISSUE_AGGREGATIONS,
    ...over,
  });
const withAggregations = (...aggregations: AggregationInput[]) => view({ aggregations });
const prefix = `${FILE}: streamFeatureView 'driver_trip_stats': field`;

describe('streamFeatureView declaration', () => {
  it('resolves the declaration of issue 14, names and default resolutions included', () => {
    expect(fromPackageRoot).toBe(streamFeatureView);
    const spec = specOf(view());
    expect(spec.featureViews).toEqual([]);
    expect(spec.streamFeatureViews).toEqual([
      {
        kind: 'streamFeatureView',
        name: 'driver_trip_stats',
        entities: ['driver'],
        source: 'trips',
        schema: [
          { name: 'fare', type: 'float64' },
          { name: 'rating', type: 'int64' },
          { name: 'city', type: 'string' },
        ],
        aggregations: [
          {
            column: 'fare',
            function: 'sum',
            windowMs: 3_600_000,
            resolutionMs: 60_000,
            name: 'fare_sum_1h',
            type: 'float64',
          },
          {
            column: 'fare',
            function: 'count',
            windowMs: 86_400_000,
            resolutionMs: 300_000,
            name: 'fare_count_1d',
            type: 'int64',
          },
          {
            column: 'fare',
            function: 'mean',
            windowMs: 604_800_000,
            resolutionMs: 3_600_000,
            name: 'fare_mean_7d',
            type: 'float64',
          },
          {
            column: 'rating',
            function: 'last',
            windowMs: 604_800_000,
            resolutionMs: 3_600_000,
            name: 'last_rating',
            type: 'int64',
          },
        ],
        online: true,
        offline: true,
      },
    ]);
  });

  it('typed select offers the aggregated feature names', () => {
    const v = view();
    const projection = streamFeatureView({
      name: 'x',
      entities: [driver],
      source: trips,
      schema: { fare: 'float64' },
      aggregations: [{ column: 'fare', function: 'sum', window: '1h' }],
    }).select(['fare_sum_1h']);
    expect(projection.features).toEqual(['fare_sum_1h']);
    // The issue's declaration: default names and a given one are all typed.
    const issue = streamFeatureView({
      name: 'driver_trip_stats',
      entities: [driver],
      source: trips,
      schema: { fare: 'float64', rating: 'int64' },
      aggregations: ISSUE_AGGREGATIONS,
    });
    expect(
      issue.select(['fare_sum_1h', 'fare_count_1d', 'fare_mean_7d', 'last_rating']).features,
    ).toHaveLength(4);
    // @ts-expect-error 'fare' is a source column, not a feature
    expect(issue.select(['fare']).features).toEqual(['fare']);
    expect(v.kind).toBe('streamFeatureView');
  });

  it('a window given in milliseconds is named as a duration; min and max keep the column type', () => {
    const spec = specOf(
      withAggregations(
        { column: 'rating', function: 'max', window: 3_600_000 },
        { column: 'fare', function: 'stddev', window: '30m' },
        { column: 'city', function: 'count', window: '90s' },
      ),
    );
    expect(spec.streamFeatureViews![0]!.aggregations.map((a) => [a.name, a.type, a.resolutionMs])).toEqual([
      ['rating_max_1h', 'int64', 60_000],
      ['fare_stddev_30m', 'float64', 60_000],
      ['city_count_90s', 'int64', 30_000],
    ]);
  });

  it('takes a push source over a Kafka source, and feature services and monitors may use it', () => {
    const v = view({ source: pushed });
    const svc = featureService({
      name: 'svc',
      features: [v.select(['fare_sum_1h']), 'driver_trip_stats:last_rating'],
    });
    const m = monitor({ name: 'm', predictionTopic: 'preds', features: [v], window: { rows: 10 } });
    const spec = specOf(v, svc, m, pushed);
    expect(spec.featureServices[0]!.features).toEqual([
      { featureView: 'driver_trip_stats', features: ['fare_sum_1h', 'last_rating'] },
    ]);
    expect(spec.monitors[0]!.features).toEqual([
      'driver_trip_stats:fare_sum_1h',
      'driver_trip_stats:fare_count_1d',
      'driver_trip_stats:fare_mean_7d',
      'driver_trip_stats:last_rating',
    ]);
  });
});

describe('streamFeatureView validation', () => {
  it('names file, object and field for each problem of an aggregation', () => {
    const issues = issuesOf(
      withAggregations(
        { column: 'fare', function: 'sum', window: '1h' },
        { column: 'distance', function: 'sum', window: '1h' },
        { column: 'fare', function: 'median' as never, window: '1h' },
        { column: 'fare', function: 'mean', window: 'soon' as never },
        { column: 'fare', function: 'mean', window: '1h', resolution: '7m' },
        { column: 'fare', function: 'sum', window: '1h', resolution: '30s' },
        { column: 'city', function: 'sum', window: '1h', name: 'city_total' },
        { column: 'city', function: 'last', window: '1h' },
        { column: 'fare', function: 'max', window: '1d', name: 'Bad Name' },
        { column: 'fare', function: 'min', window: 0 },
        { column: 'fare', function: 'min', window: '1h', every: '1m' } as never,
      ),
    );
    expect(issues).toEqual([
      `${prefix} 'aggregations[1].column': unknown column 'distance'; the schema declares fare, rating, city`,
      `${prefix} 'aggregations[2].function': unknown function "median"; expected one of count, sum, mean, min, max, stddev, last`,
      `${prefix} 'aggregations[3].window': expected a duration like '1d', '12h', '30m', '45s', '250ms' or milliseconds as a number, got "soon"`,
      `${prefix} 'aggregations[4].window': 1h is not a multiple of the resolution 7m`,
      `${prefix} 'aggregations[5].name': duplicate feature name 'fare_sum_1h': aggregations[0] has it too`,
      `${prefix} 'aggregations[6].function': 'sum' needs a numeric column (int64 or float64); 'city' is string`,
      `${prefix} 'aggregations[8].name': "Bad Name" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$)`,
      `${prefix} 'aggregations[9].window': must be longer than 0`,
      `${prefix} 'aggregations[10].every': unknown field; expected one of column, function, window, resolution, name`,
    ]);
  });

  it('numeric functions refuse non-numeric columns; count and last take any', () => {
    for (const fn of ['sum', 'mean', 'min', 'max', 'stddev'] as const) {
      expect(issuesOf(withAggregations({ column: 'city', function: fn, window: '1h' }))).toEqual([
        `${prefix} 'aggregations[0].function': '${fn}' needs a numeric column (int64 or float64); 'city' is string`,
      ]);
    }
    for (const fn of ['count', 'last'] as const) {
      expect(issuesOf(withAggregations({ column: 'city', function: fn, window: '1h' }))).toEqual([]);
    }
  });

  it('resolutions: too many tiles, no default that fits, an undeclared default name', () => {
    expect(
      issuesOf(withAggregations({ column: 'fare', function: 'sum', window: '7d', resolution: '1s' })),
    ).toEqual([
      `${prefix} 'aggregations[0].resolution': 1s cuts the window into 604800 tiles; at most 10000 are allowed`,
    ]);
    expect(issuesOf(withAggregations({ column: 'fare', function: 'sum', window: 3_600_001 }))).toEqual([
      `${prefix} 'aggregations[0].resolution': no default resolution divides the window 3600001ms into at most 10000 tiles; give one`,
    ]);
    expect(
      issuesOf(withAggregations({ column: 'fare', function: 'sum', window: '1.5h', resolution: '30m' })),
    ).toEqual([
      `${prefix} 'aggregations[0].name': the default name "fare_sum_1.5h" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$); give a name`,
    ]);
  });

  it('the source must be a Kafka source or a push source; aggregations must be a non-empty list', () => {
    const other = featureView({ name: 'plain', entities: [driver], source: trips, schema: { x: 'int64' } });
    expect(issuesOf(view({ source: other as never }))).toEqual([
      `${prefix} 'source': expected a Kafka source or a push source, got featureView 'plain'`,
    ]);
    expect(issuesOf(view({ source: 'nowhere' }))).toEqual([`${prefix} 'source': unknown source 'nowhere'`]);
    expect(issuesOf(view({ aggregations: [] }))).toEqual([
      `${prefix} 'aggregations': must declare at least one aggregation`,
    ]);
    expect(issuesOf(view({ aggregations: 'sum' as never }))).toEqual([
      `${prefix} 'aggregations': expected a list of { column, function, window }, got "sum"`,
    ]);
    expect(issuesOf(view({ ttl: '1d' } as never))).toEqual([
      `${prefix} 'ttl': unknown field; expected one of name, description, tags, owner, entities, source, schema, aggregations, online, offline`,
    ]);
  });

  it('shares the view namespace with plain views, and feature names may not be join keys', () => {
    const plain = featureView({
      name: 'driver_trip_stats',
      entities: [driver],
      source: trips,
      schema: { x: 'int64' },
    });
    expect(issuesOf(plain, view())).toEqual([
      `${prefix} 'name': duplicate name: featureView 'driver_trip_stats' is also declared in ${FILE}`,
    ]);
    expect(
      issuesOf(withAggregations({ column: 'fare', function: 'sum', window: '1h', name: 'driver_id' })),
    ).toEqual([
      `${prefix} 'aggregations[0].name': feature 'driver_id' collides with the join key of entity 'driver'`,
    ]);
  });

  it('references to features a stream view does not have are refused', () => {
    const svc = featureService({ name: 'svc', features: ['driver_trip_stats:fare'] });
    expect(issuesOf(view(), svc)).toEqual([
      `${FILE}: featureService 'svc': field 'features[0]': feature view 'driver_trip_stats' has no feature 'fare'`,
    ]);
  });
});

describe('plans of stream views', () => {
  const before = specOf(view());
  const planned = (next: ReturnType<typeof specOf>) =>
    planChanges({ version: 1, hash: specHash(before), spec: before }, next);

  it('a repository without stream views has no streamFeatureViews list (hashes unchanged)', () => {
    const spec = specOf(driver, trips);
    expect('streamFeatureViews' in spec).toBe(false);
    expect(objectsOf(before).map((o) => o.kind)).toEqual(['entity', 'kafkaSource', 'streamFeatureView']);
  });

  it('adding an aggregation is not breaking', () => {
    const plan = planned(
      specOf(
        view({ aggregations: [...ISSUE_AGGREGATIONS, { column: 'fare', function: 'max', window: '1h' }] }),
      ),
    );
    expect(plan.breaking).toBe(false);
    expect(plan.changes).toEqual([
      {
        kind: 'streamFeatureView',
        name: 'driver_trip_stats',
        action: 'change',
        fields: [{ path: 'aggregations.fare_max_1h', to: 'max(fare) over 1h in 1m tiles' }],
        breaking: [],
      },
    ]);
    expect(plan.tables).toEqual([]);
  });

  it('a changed or removed aggregation is breaking', () => {
    const changed = ISSUE_AGGREGATIONS.map((a, i) => (i === 3 ? { ...a, window: '1d' as const } : a));
    const plan = planned(specOf(view({ aggregations: changed })));
    expect(plan.breaking).toBe(true);
    expect(plan.changes[0]!.breaking).toEqual([
      "feature 'last_rating' changes from last(rating) over 1w in 1h tiles to last(rating) over 1d in 5m tiles: its stored aggregates no longer match",
    ]);
    const removed = planned(specOf(view({ aggregations: ISSUE_AGGREGATIONS.slice(1) })));
    expect(removed.changes[0]!.breaking).toEqual([
      "feature 'fare_sum_1h' is removed: readers requesting it fail",
    ]);
    const resolution = ISSUE_AGGREGATIONS.map((a, i) => (i === 0 ? { ...a, resolution: '5m' as const } : a));
    expect(planned(specOf(view({ aggregations: resolution }))).breaking).toBe(true);
  });

  it('a source column changing type is breaking; a description is not', () => {
    const plan = planned(
      specOf(
        view({
          schema: { fare: 'float64', rating: 'int64', city: { type: 'string', description: 'where' } },
        }),
      ),
    );
    expect(plan.breaking).toBe(false);
    expect(plan.changes[0]!.fields).toEqual([{ path: 'schema.city.description', to: 'where' }]);
    const typed = planned(specOf(view({ schema: { fare: 'float64', rating: 'int64', city: 'int64' } })));
    expect(typed.changes[0]!.breaking).toEqual([
      "source column 'city' changes type from string to int64: stored events no longer match",
    ]);
  });

  it('removing a stream view is breaking; a registry version recorded before stream views plans as usual', () => {
    const gone = planned(specOf(driver, trips));
    expect(gone.changes).toEqual([
      {
        kind: 'streamFeatureView',
        name: 'driver_trip_stats',
        action: 'remove',
        fields: [],
        breaking: ['the view is removed: readers of its features fail; its table of events is archived'],
      },
    ]);
    const old = specOf(driver, trips);
    const added = planChanges({ version: 1, hash: specHash(old), spec: old }, before);
    expect(added.breaking).toBe(false);
    expect(added.changes.map((c) => [c.kind, c.action])).toEqual([['streamFeatureView', 'add']]);
  });
});
