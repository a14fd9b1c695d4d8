/**
 * The example feature repository: drivers, their hourly stats, and a monitored model.
 *
 * The view's source is the push source `driver_stats_push`, whose batch source is the Kafka
 * source `driver_stats_source` (as in Feast). So materializing the topic `driver_stats` feeds
 * `driver_hourly_stats`, and rows posted to `POST /push` under `driver_stats_push` are
 * written to that same topic: one path into the stores, one ordering, no divergence between
 * offline and online.
 */
import { entity, featureService, featureView, kafkaSource, monitor, pushSource } from 'tributary';

export const driver = entity({
  name: 'driver',
  joinKey: 'driver_id',
  valueType: 'int64',
  description: 'A driver of the ride-hailing fleet.',
});

export const driverStatsSource = kafkaSource({
  name: 'driver_stats_source',
  topic: 'driver_stats',
  timestampField: 'event_timestamp',
  createdField: 'created',
  description: 'Hourly driver statistics as JSON events.',
});

export const driverStatsPush = pushSource({
  name: 'driver_stats_push',
  batchSource: driverStatsSource,
  description: 'Driver statistics pushed over HTTP; they go through the driver_stats topic.',
});

export const driverHourlyStats = featureView({
  name: 'driver_hourly_stats',
  entities: [driver],
  source: driverStatsPush,
  schema: {
    conv_rate: 'float64',
    acc_rate: 'float64',
    avg_daily_trips: 'int64',
  },
  ttl: '1d',
  online: true,
  offline: true,
  description: 'Conversion, acceptance and trip counts per driver, hourly.',
  tags: { team: 'driver_performance' },
  owner: 'ml-platform@example.com',
});

export const driverActivity = featureService({
  name: 'driver_activity',
  features: [driverHourlyStats],
  description: 'Everything the driver ranking model reads.',
});

const webhookUrl = process.env['TRIBUTARY_WEBHOOK_URL'];

export const driverModel = monitor({
  name: 'driver_model',
  model: 'driver_model',
  predictionTopic: 'predictions.driver_model',
  features: [driverHourlyStats],
  monitorPrediction: true,
  window: { rows: 5_000 },
  retrain: { consecutiveDriftedWindows: 2, cooldown: '1h' },
  // The signing key stays in the monitor's environment: the registry records only the
  // variable's name, and `tributary monitor` refuses to start without it.
  webhooks: webhookUrl ? [{ url: webhookUrl, secretEnv: 'TRIBUTARY_WEBHOOK_SECRET' }] : [],
  description: 'Drift of the driver ranking model’s inputs and predictions.',
});
