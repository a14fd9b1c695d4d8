import type {
  AggregationFunction,
  AggregationSpec,
  EntitySpec,
  FeatureViewSpec,
  KafkaSourceSpec,
  RepoSpec,
  ValueType,
} from '../../shared/definitions/types.ts';
import { type ViewLayout, viewLayout } from '../../shared/model/layout.ts';
import { StaticDefinitions } from '../../shared/registry/live.ts';

/** The example repository's `driver` entity. */
export function driverEntity(): EntitySpec {
  return { kind: 'entity', name: 'driver', joinKey: 'driver_id', valueType: 'int64' };
}

/** The example repository's Kafka source `driver_stats_source`, on `topic`. */
export function driverStatsSource(topic = 'driver_stats'): KafkaSourceSpec {
  return {
    kind: 'kafkaSource',
    name: 'driver_stats_source',
    topic,
    timestampField: 'event_timestamp',
    createdField: 'created',
    format: 'json',
  };
}

export interface DriverViewOptions {
  /** Milliseconds; 0 (the default) means no ttl. */
  ttlMs?: number;
  /** The view's source (default: the Kafka source `driver_stats_source`). */
  source?: string;
  /** Only these of conv_rate, acc_rate and avg_daily_trips, in schema order (default: all three). */
  features?: readonly string[];
}

/** The example repository's `driver_hourly_stats` view: conv_rate, acc_rate (float64), avg_daily_trips (int64). */
export function driverHourlyStats(options: DriverViewOptions = {}): FeatureViewSpec {
  const schema: FeatureViewSpec['schema'] = [
    { name: 'conv_rate', type: 'float64' },
    { name: 'acc_rate', type: 'float64' },
    { name: 'avg_daily_trips', type: 'int64' },
  ];
  const { features } = options;
  return {
    kind: 'featureView',
    name: 'driver_hourly_stats',
    entities: ['driver'],
    source: options.source ?? 'driver_stats_source',
    schema: features ? schema.filter((f) => features.includes(f.name)) : schema,
    ttlMs: options.ttlMs ?? 0,
    online: true,
    offline: true,
  };
}

/** The example repository's driver stats, resolved, on a topic of the test's own. */
export function driverSpec(topic: string, options: DriverViewOptions = {}): RepoSpec {
  return {
    entities: [driverEntity()],
    kafkaSources: [driverStatsSource(topic)],
    pushSources: [{ kind: 'pushSource', name: 'driver_stats_push', batchSource: 'driver_stats_source' }],
    featureViews: [driverHourlyStats(options)],
    featureServices: [],
    monitors: [],
  };
}

/** The store layout of one of `spec`'s views (default: driver_hourly_stats of `driverSpec`). */
export function driverLayout(
  spec: RepoSpec = driverSpec('driver_stats'),
  view = 'driver_hourly_stats',
): ViewLayout {
  const found = spec.featureViews.find((v) => v.name === view);
  if (!found) throw new Error(`no feature view ${view}`);
  return viewLayout(found, spec.entities);
}

/** A fixed definitions source, for services under test that would otherwise follow the registry. */
export function staticDefinitions(spec: RepoSpec): StaticDefinitions {
  return new StaticDefinitions(spec);
}

/** A compact view for planning tests: `stats` on the driver, conv_rate (float64) and trips (int64), 1-day ttl. */
export function statsView(source: string): FeatureViewSpec {
  return {
    kind: 'featureView',
    name: 'stats',
    entities: ['driver'],
    source,
    schema: [
      { name: 'conv_rate', type: 'float64' },
      { name: 'trips', type: 'int64' },
    ],
    ttlMs: 86_400_000,
    online: true,
    offline: true,
  };
}

/**
 * Trips of drivers on a Kafka source `trips_source` (and a push source `trips_push` over it),
 * aggregated by the stream view `driver_trip_stats`: the four aggregations, and min,
 * max and stddev besides.
 */
export function tripsSpec(topic: string): RepoSpec {
  const MIN = 60_000;
  const HOUR = 60 * MIN;
  const DAY = 24 * HOUR;
  const aggregation = (
    column: string,
    fn: AggregationFunction,
    windowMs: number,
    resolutionMs: number,
    name: string,
    type: ValueType,
  ): AggregationSpec => ({ column, function: fn, windowMs, resolutionMs, name, type });
  return {
    entities: [driverEntity()],
    kafkaSources: [
      {
        kind: 'kafkaSource',
        name: 'trips_source',
        topic,
        timestampField: 'event_timestamp',
        createdField: 'created',
        format: 'json',
      },
    ],
    pushSources: [{ kind: 'pushSource', name: 'trips_push', batchSource: 'trips_source' }],
    featureViews: [],
    streamFeatureViews: [
      {
        kind: 'streamFeatureView',
        name: 'driver_trip_stats',
        entities: ['driver'],
        source: 'trips_source',
        schema: [
          { name: 'fare', type: 'float64' },
          { name: 'rating', type: 'int64' },
        ],
        aggregations: [
          aggregation('fare', 'sum', HOUR, MIN, 'fare_sum_1h', 'float64'),
          aggregation('fare', 'count', DAY, 5 * MIN, 'fare_count_1d', 'int64'),
          aggregation('fare', 'mean', 7 * DAY, HOUR, 'fare_mean_7d', 'float64'),
          aggregation('rating', 'last', 7 * DAY, HOUR, 'last_rating', 'int64'),
          aggregation('fare', 'min', DAY, HOUR, 'fare_min_1d', 'float64'),
          aggregation('fare', 'max', DAY, HOUR, 'fare_max_1d', 'float64'),
          aggregation('fare', 'stddev', DAY, 5 * MIN, 'fare_stddev_1d', 'float64'),
        ],
        online: true,
        offline: true,
      },
    ],
    featureServices: [],
    monitors: [],
  };
}
