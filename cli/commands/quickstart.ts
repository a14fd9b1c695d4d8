import { Materializer } from '../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../services/materializer/metrics.ts';
import { buildApp } from '../../services/serving/app.ts';
import { loadConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { createPool } from '../../shared/postgres/index.ts';
import { openRegistryWatcher } from '../../shared/registry/live.ts';
import { DEFAULT_REGISTRY_SCHEMA } from '../../shared/registry/postgres.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import { onlineTarget, RedisOnlineStore } from '../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../shared/stream/kafka.ts';
import type { OutgoingMessage } from '../../shared/stream/port.ts';
import type { Command } from '../command.ts';
import { reportError, withOptions } from '../options.ts';
import { applyCommand } from './apply.ts';

const OPTIONS = {
  events: { type: 'string', default: '2000' },
  drivers: { type: 'string', default: '5' },
} as const;

const DRIVER_IDS_START = 1001;
/** Two stored features and two computed from trips (feature-defs/trips.ts). */
const FEATURES = [
  'driver_hourly_stats:conv_rate',
  'driver_hourly_stats:avg_daily_trips',
  'driver_trip_stats:fare_sum_1h',
  'driver_trip_stats:fare_count_1d',
];
const HOUR = 3_600_000;

export const quickstartCommand: Command = {
  name: 'quickstart',
  summary: 'Apply the example repository, stream driver events, and read features back',
  help: `Usage: tributary quickstart [options]

The whole path in one command, against the configured Kafka, Postgres and Redis
(\`npm run quickstart\` starts local ones first):
  1. apply feature-defs/ (topics, offline tables, registry version);
  2. produce driver events to the topic driver_stats and trips to the topic trips, spread
     over the last 24 hours;
  3. materialize them into Postgres and Redis until caught up;
  4. read features through POST /get-online-features: the latest hourly stats, and trips
     aggregated by the stream view driver_trip_stats (fares over the last hour and day);
  5. build a small point-in-time training set of both through POST /get-historical-features.

Options:
  --events <n>    events to produce (default 2000)
  --drivers <n>   distinct drivers, ids from ${DRIVER_IDS_START} (default 5)
  -h, --help      show this help

Environment: KAFKA_BROKERS, DATABASE_URL, REDIS_URL (or REDIS_CLUSTER_NODES), TRIBUTARY_REPO.`,

  run: withOptions('quickstart', OPTIONS, async (values) => {
    const events = Number(values.events);
    const drivers = Number(values.drivers);
    if (!Number.isInteger(events) || events < 1 || !Number.isInteger(drivers) || drivers < 1) {
      console.error(
        "tributary quickstart: --events and --drivers must be positive integers. Run 'tributary quickstart --help'.",
      );
      return 2;
    }
    try {
      return await quickstart(events, drivers);
    } catch (error) {
      return reportError('quickstart', error);
    }
  }),
};

async function quickstart(events: number, drivers: number): Promise<number> {
  const config = loadConfig();
  const logger = createLogger('quickstart', 'warn');
  const step = (n: number, text: string) => console.log(`\n[${n}/5] ${text}`);

  step(1, `tributary apply (${config.repoPath})`);
  if ((await applyCommand.run([])) !== 0) return 1;

  step(
    2,
    `producing ${events} events and ${events} trips for ${drivers} drivers to topics driver_stats and trips`,
  );
  const stream = new KafkaEventStream(config.kafkaBrokers, logger);
  const producer = await stream.producer();
  const now = Date.now();
  /** `events` messages of `fields`, round-robin over the drivers, spread over the last 24 hours. */
  const spread = (fields: () => Record<string, number>): OutgoingMessage[] =>
    Array.from({ length: events }, (_, i) => {
      const driverId = DRIVER_IDS_START + (i % drivers);
      const at = now - 24 * HOUR + Math.floor(((i + 1) / events) * 24 * HOUR) - 1;
      return {
        key: String(driverId),
        value: JSON.stringify({
          driver_id: driverId,
          event_timestamp: new Date(at).toISOString(),
          ...fields(),
        }),
      };
    });
  await producer.send(
    'driver_stats',
    spread(() => ({
      conv_rate: Math.round(Math.random() * 1000) / 1000,
      acc_rate: Math.round(Math.random() * 1000) / 1000,
      avg_daily_trips: Math.floor(Math.random() * 40),
    })),
  );
  const trips = spread(() => ({
    fare: Math.round(500 + Math.random() * 4500) / 100,
    rating: 1 + Math.floor(Math.random() * 5),
  }));
  await producer.send('trips', trips);
  await producer.close();

  step(3, 'materializing into Postgres (offline) and Redis (online)');
  // One pool for the process: registry, offline writes and the historical reads below.
  const pool = createPool({
    connectionString: config.databaseUrl,
    max: config.pgPoolMax,
    applicationName: 'tributary-quickstart',
    logger,
  });
  const definitions = await openRegistryWatcher({
    databaseUrl: config.databaseUrl,
    pool,
    schema: DEFAULT_REGISTRY_SCHEMA,
    logger,
  });
  const offline = new PostgresOfflineStore({ pool, logger });
  const online = new RedisOnlineStore({ ...onlineTarget(config).connection, logger });
  const metrics = createMaterializerMetrics();
  const materializer = new Materializer({ definitions, stream, offline, online, metrics, logger });
  const started = Date.now();
  await materializer.start();
  while ((await materializer.lag()) > 0) await new Promise((resolve) => setTimeout(resolve, 200));
  const consumed = (await metrics.eventsIn.get()).values.reduce((sum, v) => sum + v.value, 0);
  console.log(`caught up: ${consumed} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await materializer.stop();

  const app = await buildApp({
    definitions,
    online,
    historical: offline,
    producer: { send: async () => {} },
    config: { apiKeys: [] },
    logger,
  });
  try {
    const ids = Array.from({ length: Math.min(drivers, 3) }, (_, i) => DRIVER_IDS_START + i);
    step(
      4,
      `POST /get-online-features {"features": [${FEATURES.map((f) => JSON.stringify(f)).join(', ')}], "entities": {"driver_id": [${ids.join(', ')}]}}`,
    );
    const onlineResponse = await app.inject({
      method: 'POST',
      url: '/get-online-features',
      payload: { features: FEATURES, entities: { driver_id: ids } },
    });
    printColumns(onlineResponse.json() as OnlineResponse);

    step(5, 'POST /get-historical-features: each driver 12 hours ago and now');
    const historicalResponse = await app.inject({
      method: 'POST',
      url: '/get-historical-features',
      payload: {
        features: FEATURES,
        entities: {
          driver_id: [...ids, ...ids],
          event_timestamp: [
            ...ids.map(() => new Date(now - 12 * HOUR).toISOString()),
            ...ids.map(() => new Date(now).toISOString()),
          ],
        },
      },
    });
    console.table(rowsOf((historicalResponse.json() as { columns: Record<string, unknown[]> }).columns));
  } finally {
    await app.close();
    await Promise.all([offline.close(), online.close(), definitions.close()]);
    await pool.end();
  }
  console.log(`
Done. Next:
  npx tributary serve                   # the HTTP API on http://127.0.0.1:${config.port} (docs at /docs)
  npx tributary materialize             # keep materializing as events arrive
  npx tributary consistency --view driver_trip_stats   # online = offline, value by value
  npx tributary --help`);
  return 0;
}

interface OnlineResponse {
  metadata: { feature_names: string[] };
  results: { values: unknown[]; statuses: string[] }[];
}

function printColumns(response: OnlineResponse): void {
  const names = response.metadata.feature_names;
  const rows = (response.results[0]?.values ?? []).map((_, row) =>
    Object.fromEntries(names.map((name, col) => [name, shown(response.results[col]?.values[row])])),
  );
  console.table(rows);
}

/**
 * A value as the tables print it: a double to 12 significant digits, so a window sum prints
 * 454.29 rather than the float noise of 454.28999999999996 (as pandas would). Display only: the
 * API answers carry the exact double.
 */
function shown(value: unknown): unknown {
  return typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(12)) : value;
}

function rowsOf(columns: Record<string, unknown[]>): Record<string, unknown>[] {
  const names = Object.keys(columns);
  const length = columns[names[0] ?? '']?.length ?? 0;
  return Array.from({ length }, (_, row) =>
    Object.fromEntries(names.map((name) => [name, shown(columns[name]?.[row])])),
  );
}
