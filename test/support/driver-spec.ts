import type { RepoSpec } from '../../shared/definitions/types.ts';
import { StaticDefinitions } from '../../shared/registry/live.ts';

/** The example repository's driver stats, resolved, on a topic of the test's own. */
export function driverSpec(topic: string, options: { ttlMs?: number } = {}): RepoSpec {
  return {
    entities: [{ kind: 'entity', name: 'driver', joinKey: 'driver_id', valueType: 'int64' }],
    kafkaSources: [
      {
        kind: 'kafkaSource',
        name: 'driver_stats_source',
        topic,
        timestampField: 'event_timestamp',
        createdField: 'created',
        format: 'json',
      },
    ],
    pushSources: [{ kind: 'pushSource', name: 'driver_stats_push', batchSource: 'driver_stats_source' }],
    featureViews: [
      {
        kind: 'featureView',
        name: 'driver_hourly_stats',
        entities: ['driver'],
        source: 'driver_stats_source',
        schema: [
          { name: 'conv_rate', type: 'float64' },
          { name: 'acc_rate', type: 'float64' },
          { name: 'avg_daily_trips', type: 'int64' },
        ],
        ttlMs: options.ttlMs ?? 0,
        online: true,
        offline: true,
      },
    ],
    featureServices: [],
    monitors: [],
  };
}

/** A fixed definitions source, for services under test that would otherwise follow the registry. */
export function staticDefinitions(spec: RepoSpec): StaticDefinitions {
  return new StaticDefinitions(spec);
}
