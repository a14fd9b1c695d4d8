/**
 * Serving a repository with a stream feature view: it is listed with its aggregations, pushes
 * to a push source only it reads are checked against its columns, and plain views still serve.
 * Its aggregates end to end: test/integration/materializer/stream-views.integration.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RepoSpec, StreamFeatureViewSpec } from '../../../shared/definitions/types.ts';
import { uniqueName } from '../../support/env.ts';
import { type Harness, harness, servingSpec } from './support.ts';

const tripStats: StreamFeatureViewSpec = {
  kind: 'streamFeatureView',
  name: 'driver_trip_stats',
  entities: ['driver'],
  source: 'trips_push',
  schema: [{ name: 'fare', type: 'float64' }],
  aggregations: [
    {
      column: 'fare',
      function: 'sum',
      windowMs: 3_600_000,
      resolutionMs: 60_000,
      name: 'fare_sum_1h',
      type: 'float64',
    },
  ],
  online: true,
  offline: true,
};

describe('serving with a stream feature view applied', () => {
  let h: Harness;
  beforeAll(async () => {
    const schema = uniqueName('serving_stream_views');
    const base = servingSpec(`${schema}_topic`);
    const spec: RepoSpec = {
      ...base,
      pushSources: [
        ...base.pushSources,
        { kind: 'pushSource', name: 'trips_push', batchSource: 'driver_stats_source' },
      ],
      streamFeatureViews: [tripStats],
      featureServices: [
        ...base.featureServices,
        { kind: 'featureService', name: 'with_aggregates', features: [{ featureView: 'driver_trip_stats' }] },
      ],
    };
    h = await harness(schema, {}, spec);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists the stream view with its aggregated features', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/feature-views' });
    expect(res.statusCode, res.body).toBe(200);
    const listed = res.json().feature_views.find((v: { name: string }) => v.name === 'driver_trip_stats');
    expect(listed).toEqual({
      name: 'driver_trip_stats',
      entities: ['driver'],
      join_keys: [{ name: 'driver_id', type: 'int64' }],
      features: [{ name: 'fare_sum_1h', type: 'float64' }],
      source: 'trips_push',
      online: true,
      offline: true,
      aggregations: [
        { name: 'fare_sum_1h', column: 'fare', function: 'sum', window_ms: 3_600_000, resolution_ms: 60_000 },
      ],
    });
    const services = await h.app.inject({ method: 'GET', url: '/feature-services' });
    expect(
      services.json().feature_services.find((s: { name: string }) => s.name === 'with_aggregates').features,
    ).toEqual(['driver_trip_stats:fare_sum_1h']);
  });

  it('accepts a push to a push source only stream views read, checked against their columns', async () => {
    const push = (df: Record<string, unknown[]>) =>
      h.app.inject({ method: 'POST', url: '/push', payload: { push_source_name: 'trips_push', df } });
    const ok = await push({ driver_id: [1], fare: [12.5], event_timestamp: ['2024-05-10T12:00:00Z'] });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().rows).toBe(1);
    const wrongType = await push({
      driver_id: [1],
      fare: ['a lot'],
      event_timestamp: ['2024-05-10T12:00:00Z'],
    });
    expect(wrongType.statusCode, wrongType.body).toBe(400);
    expect(wrongType.json().error.code).toBe('TRIB_WRONG_TYPE');
    const unknown = await push({ driver_id: [1], tip: [2], event_timestamp: ['2024-05-10T12:00:00Z'] });
    expect(unknown.statusCode, unknown.body).toBe(400);
    expect(unknown.json().error.message).toContain('tip');
  });

  it('still serves plain views of the same repository', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/get-historical-features',
      payload: {
        entities: { driver_id: [1], event_timestamp: ['2024-05-10T12:00:00Z'] },
        features: ['driver_profile:rating'],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().columns.rating).toEqual([null]);
  });
});
