/**
 * Trips of the same drivers, and features Tributary computes from them: streaming aggregations
 * over sliding windows (docs/aggregations.md), kept fresh online from the `trips` topic and
 * computed as of any past instant for training, with the same values.
 */
import { kafkaSource, pushSource, streamFeatureView } from 'tributary';
import { driver } from './driver.ts';

export const tripsSource = kafkaSource({
  name: 'trips_source',
  topic: 'trips',
  timestampField: 'event_timestamp',
  createdField: 'created',
  description: 'One JSON event per finished trip: the driver, the fare, the rider’s rating.',
});

export const tripsPush = pushSource({
  name: 'trips_push',
  batchSource: tripsSource,
  description: 'Trips pushed over HTTP; they go through the trips topic.',
});

export const tripStats = streamFeatureView({
  name: 'driver_trip_stats',
  entities: [driver],
  source: tripsPush,
  schema: { fare: 'float64', rating: 'int64' },
  aggregations: [
    { column: 'fare', function: 'sum', window: '1h', resolution: '1m' },
    { column: 'fare', function: 'count', window: '1d' },
    { column: 'fare', function: 'mean', window: '7d' },
    { column: 'rating', function: 'last', window: '7d', name: 'last_rating' },
  ],
  description: 'Fares and ratings per driver over the last hour, day and week.',
  owner: 'ml-platform@example.com',
});
