/**
 * npm run bench:materialize — end-to-end materialization throughput and freshness.
 *
 * 1. Pre-produces EVENTS driver events (DRIVERS drivers) to a fresh topic.
 * 2. Baseline, same run: consumes that topic with a no-op handler through the same stream
 *    adapter (same batch sizes, same commits): the raw consume rate.
 * 3. Materializes the topic into Postgres + Redis from the beginning; events/s until lag 0. Then
 *    once more into stores that discard their rows (consume + decode only), for the breakdown.
 * 4. Freshness: produces at a steady RATE events/s for SECONDS seconds to a running
 *    materializer; each event carries its produce time, and a wrapper around the online
 *    store measures produce → written (visible) per row. Reports p50/p99.
 *
 * 5. The same two measures for a stream feature view (docs/aggregations.md) of the four
 *    aggregations (sum over 1h at 1m, count over 1d, mean over 7d, last over 7d) on its own topic
 *    of EVENTS events timed within the last hour, so every event lands in live tiles: events/s
 *    through raw events in Postgres and tiles in Redis, then freshness at RATE events/s.
 *
 * Prints one JSON document. Services: .services.env / the usual variables, else throwaway ones.
 * Knobs: BENCH_EVENTS (1000000), BENCH_DRIVERS (1000), BENCH_PARTITIONS (4), BENCH_RATE (1000),
 * BENCH_SECONDS (20), BENCH_AGGREGATIONS (1: run step 5; 0: skip it).
 */
import { Registry } from 'prom-client';
import { driverSpec, staticDefinitions } from '../fixtures/driver-spec.ts';
import { countRows, dropSchema } from '../fixtures/postgres.ts';
import { Materializer } from '../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../services/materializer/metrics.ts';
import type { RepoSpec } from '../shared/definitions/types.ts';
import { createLogger } from '../shared/logger.ts';
import { createPool } from '../shared/postgres/index.ts';
import type { OfflineStore } from '../shared/stores/offline/port.ts';
import { PostgresOfflineStore } from '../shared/stores/offline/postgres/index.ts';
import type { OnlineStore } from '../shared/stores/online/port.ts';
import { RedisOnlineStore } from '../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../shared/stream/kafka.ts';
import type { OutgoingMessage } from '../shared/stream/port.ts';
import { profiled } from './profile.ts';
import { benchServices, knob, median, percentile } from './support.ts';

const EVENTS = knob('BENCH_EVENTS', 1_000_000);
const DRIVERS = knob('BENCH_DRIVERS', 1_000);
const PARTITIONS = knob('BENCH_PARTITIONS', 4);
const RATE = knob('BENCH_RATE', 1_000);
const SECONDS = knob('BENCH_SECONDS', 20);
const AGGREGATIONS = knob('BENCH_AGGREGATIONS', 1) === 1;

const { env, stop } = await benchServices();
const run = `bench_${Date.now().toString(36)}`;
const topic = `${run}_drivers`;
const logger = createLogger('bench', 'warn');
const stream = new KafkaEventStream(env.KAFKA_BROKERS.split(','));
const admin = await stream.admin();
const TOPICS = [topic, `${topic}_fresh`, `${topic}_agg`, `${topic}_agg_fresh`];
await admin.ensureTopics(
  TOPICS.flatMap((t) => [{ topic: t, partitions: PARTITIONS }, { topic: `${t}.dlq` }]),
);
const producer = await stream.producer();
// Counts and drops the bench's own offline schemas, outside the stores it measures.
const db = createPool({ connectionString: env.DATABASE_URL, max: 1 });

function event(n: number, at: number): OutgoingMessage {
  const driver = n % DRIVERS;
  return {
    key: String(driver),
    value: `{"driver_id":${driver},"event_timestamp":${at},"created":${Date.now()},"conv_rate":${(n % 997) / 997},"acc_rate":${(n % 89) / 89},"avg_daily_trips":${n % 50}}`,
  };
}

// 1. Pre-produce.
const t0 = Date.parse('2026-11-01T00:00:00Z');
const produceStart = performance.now();
const chunk = 10_000;
for (let i = 0; i < EVENTS; i += chunk) {
  const messages: OutgoingMessage[] = [];
  for (let n = i; n < Math.min(EVENTS, i + chunk); n++) messages.push(event(n, t0 + n * 1000));
  await producer.send(topic, messages);
}
const produceSeconds = (performance.now() - produceStart) / 1000;

async function timeUntilCaughtUp(lag: () => Promise<number>, startedAt: number): Promise<number> {
  for (;;) {
    if ((await lag()) === 0) return (performance.now() - startedAt) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// 2. Raw consume rate, no-op handler.
const rawStart = performance.now();
const raw = await stream.consumer({
  groupId: `${run}_raw`,
  topics: [topic],
  concurrentPartitions: PARTITIONS,
});
let rawCount = 0;
await raw.run(async (batch) => {
  rawCount += batch.messages.length;
});
const rawSeconds = await profiled('raw-consume', () =>
  timeUntilCaughtUp(async () => (await raw.lag()).reduce((s, p) => s + p.lag, 0), rawStart),
);
await raw.close();

// 3. Materialize end to end.
const schema = `${run}_offline`;
const spec = driverSpec(topic);
const offline = new PostgresOfflineStore({ connectionString: env.DATABASE_URL, schema });
const online = new RedisOnlineStore({ url: env.REDIS_URL, prefix: run });
const metrics = createMaterializerMetrics(new Registry());
const materializeStart = performance.now();
const materializer = new Materializer(
  { definitions: staticDefinitions(spec), stream, offline, online, metrics, logger },
  { groupPrefix: `${run}_mat` },
);
const materializeSeconds = await profiled('materialize', async () => {
  await materializer.start();
  return await timeUntilCaughtUp(() => materializer.lag(), materializeStart);
});
await materializer.stop();

// 3b. The same with stores that do nothing: what consuming and decoding alone cost, so the gap
// between raw consume and materialize splits into decoding and writing.
const discardOffline: OfflineStore = {
  ensureTable: async () => {},
  archiveTable: async () => null,
  write: async (_view, rows) => rows.length,
  close: async () => {},
};
const discardOnline: OnlineStore = {
  write: async (_view, rows) => rows.length,
  read: async (requests) => requests.map(() => []),
  close: async () => {},
};
const decodeStart = performance.now();
const decodeOnly = new Materializer(
  {
    definitions: staticDefinitions(spec),
    stream,
    offline: discardOffline,
    online: discardOnline,
    metrics,
    logger,
  },
  { groupPrefix: `${run}_decode` },
);
await decodeOnly.start();
const decodeSeconds = await timeUntilCaughtUp(() => decodeOnly.lag(), decodeStart);
await decodeOnly.stop();

// 4. Freshness at a steady rate: produce time (in `created`) → online write resolved.
const latencies: number[] = [];
const measuredOnline: OnlineStore = {
  write: async (view, rows) => {
    const written = await online.write(view, rows);
    const now = Date.now();
    for (const row of rows) if (row.created !== null) latencies.push(now - row.created);
    return written;
  },
  read: (requests) => online.read(requests),
  close: () => online.close(),
};
const freshSpec = driverSpec(`${topic}_fresh`);
// Its own offline schema, so the throughput run's row count stays exact.
const freshOffline = new PostgresOfflineStore({
  connectionString: env.DATABASE_URL,
  schema: `${schema}_fresh`,
});
const fresh = new Materializer(
  {
    definitions: staticDefinitions(freshSpec),
    stream,
    offline: freshOffline,
    online: measuredOnline,
    metrics,
    logger,
  },
  { groupPrefix: `${run}_fresh` },
);
await fresh.start();
const freshStart = Date.now();
let sent = 0;
while (Date.now() - freshStart < SECONDS * 1000) {
  // Sends in 10 ms ticks so the rate is steady, not one burst per second.
  const due = Math.floor(((Date.now() - freshStart) / 1000) * RATE);
  const messages: OutgoingMessage[] = [];
  for (; sent < due; sent++) messages.push(event(sent, Date.now()));
  if (messages.length > 0) await producer.send(`${topic}_fresh`, messages);
  await new Promise((r) => setTimeout(r, 10));
}
await timeUntilCaughtUp(() => fresh.lag(), performance.now());
await fresh.stop();

// 5. A stream feature view: throughput from the beginning, then freshness.
const aggregated = AGGREGATIONS ? await aggregationCase() : null;

const offlineRows = await countRows(db, schema, spec.featureViews[0]!.name);
const result = {
  benchmark: 'materialize',
  setup: {
    events: EVENTS,
    drivers: DRIVERS,
    partitions: PARTITIONS,
    note: 'broker, Postgres (fsync off) and Redis on the same 2-core machine',
  },
  produce_events_per_s: Math.round(EVENTS / produceSeconds),
  raw_consume: { seconds: rawSeconds, events_per_s: Math.round(EVENTS / rawSeconds), counted: rawCount },
  materialize: { seconds: materializeSeconds, events_per_s: Math.round(EVENTS / materializeSeconds) },
  ratio_to_raw_consume: Number((rawSeconds / materializeSeconds).toFixed(3)),
  decode_only: {
    note: 'the materializer with stores that discard their rows: consume + decode + batching',
    seconds: decodeSeconds,
    events_per_s: Math.round(EVENTS / decodeSeconds),
    ratio_to_raw_consume: Number((rawSeconds / decodeSeconds).toFixed(3)),
  },
  offline_rows: offlineRows,
  freshness_ms: {
    rate_per_s: RATE,
    seconds: SECONDS,
    samples: latencies.length,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: Math.max(...latencies),
    median: median(latencies),
  },
  targets: { events_per_s: 50_000, ratio_to_raw_consume: 0.5, freshness_p99_ms: 100 },
  aggregated,
};
console.log(JSON.stringify(result, null, 2));

await admin.deleteTopics(TOPICS.flatMap((t) => [t, `${t}.dlq`]));
await dropSchema(db, schema);
await dropSchema(db, freshOffline.schema);
await freshOffline.close();
await online.close();
await offline.close();
await producer.close();
await admin.close();
await db.end();
await stop();

/** The issue's four aggregations over `avg_daily_trips` and `conv_rate`, on `source`'s topic. */
function aggregatedSpec(source: string): RepoSpec {
  const base = driverSpec(source);
  const MIN = 60_000;
  const HOUR = 60 * MIN;
  const DAY = 24 * HOUR;
  return {
    ...base,
    featureViews: [],
    streamFeatureViews: [
      {
        kind: 'streamFeatureView',
        name: 'driver_trip_stats',
        entities: ['driver'],
        source: 'driver_stats_source',
        schema: [
          { name: 'conv_rate', type: 'float64' },
          { name: 'avg_daily_trips', type: 'int64' },
        ],
        aggregations: [
          {
            column: 'conv_rate',
            function: 'sum',
            windowMs: HOUR,
            resolutionMs: MIN,
            name: 'conv_rate_sum_1h',
            type: 'float64',
          },
          {
            column: 'conv_rate',
            function: 'count',
            windowMs: DAY,
            resolutionMs: 5 * MIN,
            name: 'conv_rate_count_1d',
            type: 'int64',
          },
          {
            column: 'conv_rate',
            function: 'mean',
            windowMs: 7 * DAY,
            resolutionMs: HOUR,
            name: 'conv_rate_mean_7d',
            type: 'float64',
          },
          {
            column: 'avg_daily_trips',
            function: 'last',
            windowMs: 7 * DAY,
            resolutionMs: HOUR,
            name: 'last_trips',
            type: 'int64',
          },
        ],
        online: true,
        offline: true,
      },
    ],
  };
}

async function aggregationCase() {
  const aggTopic = `${topic}_agg`;
  const start = Date.now() - 3_600_000;
  for (let i = 0; i < EVENTS; i += chunk) {
    const messages: OutgoingMessage[] = [];
    for (let n = i; n < Math.min(EVENTS, i + chunk); n++)
      messages.push(event(n, start + Math.floor((n * 3_600_000) / EVENTS)));
    await producer.send(aggTopic, messages);
  }
  const aggOffline = new PostgresOfflineStore({
    connectionString: env.DATABASE_URL,
    schema: `${schema}_agg`,
  });
  const aggOnline = new RedisOnlineStore({ url: env.REDIS_URL, prefix: `${run}_agg` });
  const started = performance.now();
  const aggregating = new Materializer(
    {
      definitions: staticDefinitions(aggregatedSpec(aggTopic)),
      stream,
      offline: aggOffline,
      online: aggOnline,
      metrics,
      logger,
    },
    { groupPrefix: `${run}_agg` },
  );
  const seconds = await profiled('materialize-aggregated', async () => {
    await aggregating.start();
    return await timeUntilCaughtUp(() => aggregating.lag(), started);
  });
  await aggregating.stop();
  const rows = await countRows(db, aggOffline.schema, 'driver_trip_stats');

  const freshLatencies: number[] = [];
  const measured: OnlineStore = {
    write: async (view, batch) => {
      const written = await aggOnline.write(view, batch);
      const now = Date.now();
      for (const row of batch) if (row.created !== null) freshLatencies.push(now - row.created);
      return written;
    },
    read: (requests) => aggOnline.read(requests),
    close: () => aggOnline.close(),
  };
  const freshTopic = `${topic}_agg_fresh`;
  const following = new Materializer(
    {
      definitions: staticDefinitions(aggregatedSpec(freshTopic)),
      stream,
      offline: aggOffline,
      online: measured,
      metrics,
      logger,
    },
    { groupPrefix: `${run}_agg_fresh` },
  );
  await following.start();
  const freshStart = Date.now();
  let produced = 0;
  while (Date.now() - freshStart < SECONDS * 1000) {
    const due = Math.floor(((Date.now() - freshStart) / 1000) * RATE);
    const messages: OutgoingMessage[] = [];
    for (; produced < due; produced++) messages.push(event(produced, Date.now()));
    if (messages.length > 0) await producer.send(freshTopic, messages);
    await new Promise((r) => setTimeout(r, 10));
  }
  await timeUntilCaughtUp(() => following.lag(), performance.now());
  await following.stop();
  await dropSchema(db, aggOffline.schema);
  await aggOffline.close();
  await aggOnline.close();
  return {
    view: 'driver_trip_stats: sum 1h/1m, count 1d/5m, mean 7d/1h, last 7d/1h; events within the last hour',
    seconds,
    events_per_s: Math.round(EVENTS / seconds),
    offline_rows: rows,
    ratio_to_plain_materialize: Number((materializeSeconds / seconds).toFixed(3)),
    freshness_ms: {
      rate_per_s: RATE,
      seconds: SECONDS,
      samples: freshLatencies.length,
      p50: percentile(freshLatencies, 0.5),
      p99: percentile(freshLatencies, 0.99),
      max: Math.max(...freshLatencies),
    },
    targets: { events_per_s: 100_000, freshness_p99_ms: 100 },
  };
}
