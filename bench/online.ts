/**
 * npm run bench:online — online lookup latency and throughput over HTTP.
 *
 * One view of 50 float64 features (`bench_stats:f0..f49`, ttl 1 day) for 1,000 drivers, written to
 * Redis through `RedisOnlineStore.write`. Two servers on 127.0.0.1, in this process:
 * - tributary: the real serving app (`buildApp`, API key auth on, logger silent);
 * - floor: a minimal fastify + ioredis handler doing one MGET of the same keys and returning the
 *   stored strings as JSON (the least this stack can do for the same request).
 *
 * Two scenarios, 1 entity × 50 features and 100 entities × 50 features, the same request body for
 * both servers. Two more for streaming aggregations (docs/aggregations.md): a stream view
 * `bench_trips` of 10 aggregations (windows 1h to 7d, resolutions 1m to 1h) over 300 trips per
 * driver in the last 7 days, written through the store's tile path, read as 1 entity × 10 and 100
 * entities × 10 aggregated features; their floor is one pipelined HGETALL of the same hashes,
 * returned as they are (no merge). The load runs in a worker thread, so the generator never shares the servers' event
 * loop (it still shares the machine's cores with them and with Redis):
 * - paced: an open-loop generator sending RATE req/s (1 × 50; RATE_100 for 100 × 50, for which
 *   the issue names no rate) on a fixed schedule over keep-alive
 *   connections, whatever the responses do; latency per request from send to last body byte, with
 *   sub-millisecond resolution. The p50/p99 targets are judged on this.
 * - autocannon_rate: autocannon with `overallRate` RATE (10 connections), latencies taken from its
 *   `response` events (its own histogram keeps whole milliseconds). Autocannon spends each
 *   connection's per-second quota back to back from the top of each second, so this is a burst at
 *   10 concurrent requests rather than an even rate; reported for comparison.
 * - max: autocannon, CONNECTIONS connections, no rate limit, after a warm-up: requests per second.
 *
 * Rounds alternate the servers; figures are medians over BENCH_RUNS rounds. Prints one JSON
 * document. Services: .services.env / the usual variables, else throwaway ones.
 * Knobs: BENCH_RUNS (3), BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (3), BENCH_RATE (1000),
 * BENCH_RATE_100 (100),
 * BENCH_CONNECTIONS (20), BENCH_V8_HEAP (1: without serve's heap growth setting), BENCH_SCENARIOS (all: `1x50,100x50,1x10agg,100x10agg`), BENCH_PROFILE (a directory: a CPU
 * profile of the servers per max phase, `max-<scenario>-<server>.cpuprofile`, last round's).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { driverEntity } from '../fixtures/driver-spec.ts';
import { buildApp } from '../services/serving/app.ts';
import { SERVING_HEAP_GROWING_PERCENT, tuneHeapForServing } from '../services/serving/heap.ts';
import type { AggregationSpec, RepoSpec } from '../shared/definitions/types.ts';
import { viewLayout } from '../shared/model/layout.ts';
import type { FeatureRow } from '../shared/model/row.ts';
import { createPool } from '../shared/postgres/index.ts';
import { StaticDefinitions } from '../shared/registry/live.ts';
import { PostgresHistoricalReader } from '../shared/stores/offline/postgres/index.ts';
import { RedisOnlineStore } from '../shared/stores/online/redis.ts';
import { profiled } from './profile.ts';
import { benchServices, type GcSummary, knob, median, percentile, textKnob, watchGc } from './support.ts';

const RUNS = knob('BENCH_RUNS', 3);
const SECONDS = knob('BENCH_SECONDS', 10);
const WARMUP_SECONDS = knob('BENCH_WARMUP_SECONDS', 3);
const RATE = knob('BENCH_RATE', 1_000);
// The issue sets no rate for 100 × 50 (5,000 values a lookup); 100 req/s is 10,000 entity rows/s.
const RATE_100 = knob('BENCH_RATE_100', 100);
const CONNECTIONS = knob('BENCH_CONNECTIONS', 20);
/** 1: V8's own heap growth instead of serve's (services/serving/heap.ts), for the A/B. */
const V8_HEAP = knob('BENCH_V8_HEAP', 0) === 1;
/** Scenarios to measure (for quick iterations); the others print NaN figures. */
const SCENARIOS = textKnob('BENCH_SCENARIOS', '1x50,100x50,1x10agg,100x10agg').split(',');
const DRIVERS = 1_000;
const FEATURES = 50;
const DAY = 86_400_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const API_KEY = 'bench-key';
/** Trips per driver of the aggregation scenarios, over the last 7 days. */
const TRIPS_PER_DRIVER = 300;

/** The 10 aggregations of `bench_trips`: every function, windows from 1h to 7d. */
const AGGREGATIONS: AggregationSpec[] = (
  [
    ['fare', 'sum', HOUR, MIN, 'float64'],
    ['fare', 'count', HOUR, MIN, 'int64'],
    ['fare', 'mean', DAY, 5 * MIN, 'float64'],
    ['fare', 'min', DAY, HOUR, 'float64'],
    ['fare', 'max', DAY, HOUR, 'float64'],
    ['fare', 'stddev', DAY, 5 * MIN, 'float64'],
    ['rating', 'last', 7 * DAY, HOUR, 'int64'],
    ['fare', 'count', 7 * DAY, HOUR, 'int64'],
    ['fare', 'sum', 7 * DAY, HOUR, 'float64'],
    ['fare', 'mean', HOUR, MIN, 'float64'],
  ] as const
).map(([column, fn, windowMs, resolutionMs, type], i) => ({
  column,
  function: fn,
  windowMs,
  resolutionMs,
  type,
  name: `a${i}`,
}));

const spec: RepoSpec = {
  entities: [driverEntity()],
  kafkaSources: [
    {
      kind: 'kafkaSource',
      name: 'bench_source',
      topic: 'bench_stats',
      timestampField: 'event_timestamp',
      createdField: 'created',
      format: 'json',
    },
  ],
  pushSources: [],
  featureViews: [
    {
      kind: 'featureView',
      name: 'bench_stats',
      entities: ['driver'],
      source: 'bench_source',
      schema: Array.from({ length: FEATURES }, (_, i) => ({ name: `f${i}`, type: 'float64' as const })),
      ttlMs: DAY,
      online: true,
      offline: true,
    },
  ],
  streamFeatureViews: [
    {
      kind: 'streamFeatureView',
      name: 'bench_trips',
      entities: ['driver'],
      source: 'bench_source',
      schema: [
        { name: 'fare', type: 'float64' },
        { name: 'rating', type: 'int64' },
      ],
      aggregations: AGGREGATIONS,
      online: true,
      offline: true,
    },
  ],
  featureServices: [],
  monitors: [],
};

/** The load generators, run in a worker thread (plain CommonJS, so it needs no loader). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const autocannon = require(workerData.autocannon);
const { mode, url, body, headers, seconds, warmupSeconds, rate, connections } = workerData;

function paced() {
  return new Promise((resolve) => {
    const target = new URL(url);
    const payload = Buffer.from(body);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const options = {
      host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent,
      headers: { ...headers, 'content-length': payload.length },
    };
    const warm = Math.round(rate * warmupSeconds);
    const total = warm + Math.round(rate * seconds);
    const interval = 1000 / rate;
    const latencies = [];
    let sent = 0, done = 0, errors = 0, non2xx = 0, lateMax = 0, measuredStart = 0, measuredEnd = 0;
    const t0 = performance.now();
    const finish = () => {
      if (++done < total) return;
      agent.destroy();
      const elapsed = (measuredEnd - measuredStart) / 1000;
      resolve({ latencies, errors, non2xx, achievedRate: latencies.length / elapsed, scheduleLagMaxMs: lateMax });
    };
    const fire = (i) => {
      const start = performance.now();
      if (i === warm) measuredStart = start;
      const request = http.request(options, (response) => {
        if (response.statusCode !== 200) non2xx++;
        response.on('data', () => {});
        response.on('end', () => {
          const end = performance.now();
          if (i >= warm) { latencies.push(end - start); measuredEnd = Math.max(measuredEnd, end); }
          finish();
        });
      });
      request.on('error', () => { errors++; finish(); });
      request.end(payload);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && t0 + sent * interval <= now) {
        lateMax = Math.max(lateMax, now - (t0 + sent * interval));
        fire(sent++);
      }
      if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()));
    };
    tick();
  });
}

async function autocannonRate() {
  const latencies = [];
  const started = performance.now();
  const instance = autocannon({
    url, method: 'POST', body, headers, connections: 10, overallRate: rate,
    duration: seconds + warmupSeconds,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200 && performance.now() - started >= warmupSeconds * 1000) latencies.push(responseTime);
  });
  const result = await instance;
  return { latencies, errors: result.errors, non2xx: result.non2xx, achievedRate: latencies.length / seconds };
}

async function max() {
  const options = { url, method: 'POST', body, headers, connections };
  await autocannon({ ...options, duration: warmupSeconds });
  // In a worker thread autocannon returns its raw counters (histograms left encoded).
  const result = await autocannon({ ...options, duration: seconds });
  return {
    requestsPerSecond: result.totalCompletedRequests / result.duration,
    total: result.totalCompletedRequests,
    errors: result.errors, non2xx: result.non2xx, timeouts: result.timeouts,
  };
}

({ paced, autocannon_rate: autocannonRate, max })[mode]().then(
  (result) => parentPort.postMessage({ result }),
  (error) => parentPort.postMessage({ error: String(error && error.stack || error) }),
);
`;

type LoadMode = 'paced' | 'autocannon_rate' | 'max';

interface RateResult {
  latencies: number[];
  errors: number;
  non2xx: number;
  achievedRate: number;
  scheduleLagMaxMs?: number;
}

interface MaxResult {
  requestsPerSecond: number;
  total: number;
  errors: number;
  non2xx: number;
  timeouts: number;
}

const autocannonPath = createRequire(import.meta.url).resolve('autocannon');

function load<M extends LoadMode>(
  mode: M,
  url: string,
  body: string,
  rate: number,
): Promise<M extends 'max' ? MaxResult : RateResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        autocannon: autocannonPath,
        mode,
        url,
        body,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        seconds: SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        rate,
        connections: CONNECTIONS,
      },
    });
    worker.once('message', (message: { result?: unknown; error?: string }) => {
      void worker.terminate();
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.result as M extends 'max' ? MaxResult : RateResult);
    });
    worker.once('error', reject);
  });
}

const { env, stop } = await benchServices();
const prefix = `bench_online_${randomBytes(4).toString('hex')}`;
const redis = new Redis(env.REDIS_URL);
const online = new RedisOnlineStore({ url: env.REDIS_URL, prefix });
const pool = createPool({ connectionString: env.DATABASE_URL, max: 1, name: 'bench' });

// 1,000 drivers, written through the store, so the stored layout is the real one.
const layout = viewLayout(spec.featureViews[0]!, spec.entities);
const now = Date.now();
const rows: FeatureRow[] = Array.from({ length: DRIVERS }, (_, d) => ({
  keys: [BigInt(1001 + d)],
  eventTimestamp: now - 60_000,
  created: now - 60_000,
  origin: { topic: 'bench_stats', partition: 0, offset: String(d) },
  values: Array.from({ length: FEATURES }, (_, f) => Math.sin(d * FEATURES + f) * 1000),
}));
await online.write(layout, rows);

// The aggregation scenarios' trips, in event-time order per driver, written in batches of
// 10,000 as the materializer would.
const tripsLayout = viewLayout(spec.streamFeatureViews![0]!, spec.entities);
const tripsStarted = performance.now();
let offset = 0;
// Only when an aggregation scenario runs: writing them takes half a minute.
const tripsNeeded = SCENARIOS.some((name) => name.endsWith('agg'));
for (let k = 0; tripsNeeded && k < TRIPS_PER_DRIVER; k += 10) {
  const batch: FeatureRow[] = [];
  for (let j = k; j < k + 10; j++) {
    for (let d = 0; d < DRIVERS; d++) {
      batch.push({
        keys: [BigInt(1001 + d)],
        eventTimestamp: now - 7 * DAY + Math.floor(((j + (d % 7) / 7) * 7 * DAY) / TRIPS_PER_DRIVER),
        created: null,
        origin: { topic: 'bench_trips', partition: 0, offset: String(offset++) },
        values: [Math.round(Math.abs(Math.sin(d * 31 + j)) * 5000) / 100, BigInt(1 + ((d + j) % 5))],
      });
    }
  }
  await online.write(tripsLayout, batch);
}
const tripsWriteSeconds = (performance.now() - tripsStarted) / 1000;

// As `tributary serve` runs (the floor shares the process, so it gets it too).
if (!V8_HEAP) tuneHeapForServing();
const tributary = await buildApp({
  definitions: new StaticDefinitions(spec),
  online,
  // Present for the app's shape; the benchmark never asks for historical features or pushes.
  historical: new PostgresHistoricalReader(pool),
  producer: {
    send: async () => {
      throw new Error('the benchmark does not push');
    },
  },
  config: { apiKeys: [API_KEY] },
  logger: pino({ level: 'silent' }),
});

// The floor: the same request, one MGET, the stored strings back as JSON.
const floor: FastifyInstance = Fastify({ logger: false });
floor.post<{ Body: { features: string[]; entities: { driver_id: number[] } } }>(
  '/get-online-features',
  async (request) => {
    if (request.body.features[0]?.startsWith('bench_trips:')) {
      // Aggregations: the entities' hashes of tiles, as Redis sends them (no merge).
      const pipeline = redis.pipeline();
      for (const id of request.body.entities.driver_id) pipeline.hgetall(`${prefix}:bench_trips:${id}`);
      return { values: ((await pipeline.exec()) ?? []).map(([, hash]) => hash) };
    }
    const keys = request.body.entities.driver_id.map((id) => `${prefix}:bench_stats:${id}`);
    return { values: await redis.mget(keys) };
  },
);

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}/get-online-features`;
}
const urls = { tributary: await listen(tributary), floor: await listen(floor) };

const featureRefs = Array.from({ length: FEATURES }, (_, i) => `bench_stats:f${i}`);
const aggregatedRefs = AGGREGATIONS.map((a) => `bench_trips:${a.name}`);
const scenarios = {
  '1x10agg': JSON.stringify({ features: aggregatedRefs, entities: { driver_id: [1001] } }),
  '100x10agg': JSON.stringify({
    features: aggregatedRefs,
    entities: { driver_id: Array.from({ length: 100 }, (_, i) => 1001 + i * 7) },
  }),
  '1x50': JSON.stringify({
    features: featureRefs,
    entities: { driver_id: [1001] },
  }),
  '100x50': JSON.stringify({
    features: featureRefs,
    entities: { driver_id: Array.from({ length: 100 }, (_, i) => 1001 + i * 7) },
  }),
};
type Scenario = keyof typeof scenarios;
type Server = keyof typeof urls;

// Sanity: both answer, and tributary finds every value; the answers' sizes go in the report.
const responseBytes: Record<string, number> = {};
for (const [name, body] of Object.entries(scenarios)) {
  if (!SCENARIOS.includes(name)) continue;
  for (const [server, url] of Object.entries(urls)) {
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    if (res.status !== 200) throw new Error(`${server} ${name}: ${res.status} ${text}`);
    if (server === 'tributary' && text.includes('NOT_FOUND'))
      throw new Error(`${server} ${name}: missing values`);
    responseBytes[`${name}/${server}`] = bytes.length;
  }
}

interface Sample {
  pacedP50: number;
  pacedP99: number;
  pacedRate: number;
  /** The servers' thread's collections during the paced phase (its warm-up included). */
  pacedGc: GcSummary;
  autocannonRateP50: number;
  autocannonRateP99: number;
  maxRps: number;
  responseBytes: number;
  failures: number;
}
const samples = Object.fromEntries(
  Object.keys(scenarios).map((name) => [name, { tributary: [] as Sample[], floor: [] as Sample[] }]),
) as Record<Scenario, Record<Server, Sample[]>>;

for (let run = 0; run < RUNS; run++) {
  const order: Server[] = run % 2 === 0 ? ['tributary', 'floor'] : ['floor', 'tributary'];
  for (const scenario of Object.keys(scenarios) as Scenario[]) {
    if (!SCENARIOS.includes(scenario)) continue;
    for (const server of order) {
      const body = scenarios[scenario];
      const url = urls[server];
      const rate = scenario.startsWith('1x') ? RATE : RATE_100;
      const gc = watchGc();
      const paced = await load('paced', url, body, rate);
      const pacedGc = gc();
      const burst = await load('autocannon_rate', url, body, rate);
      // With BENCH_PROFILE=<dir>, a profile of this process: the servers (the load runs in a worker).
      const max = await profiled(`max-${scenario}-${server}`, () => load('max', url, body, rate));
      const sample: Sample = {
        pacedP50: percentile(paced.latencies, 0.5),
        pacedP99: percentile(paced.latencies, 0.99),
        pacedRate: paced.achievedRate,
        pacedGc,
        autocannonRateP50: percentile(burst.latencies, 0.5),
        autocannonRateP99: percentile(burst.latencies, 0.99),
        maxRps: max.requestsPerSecond,
        responseBytes: responseBytes[`${scenario}/${server}`] ?? 0,
        failures:
          paced.errors + paced.non2xx + burst.errors + burst.non2xx + max.errors + max.non2xx + max.timeouts,
      };
      samples[scenario][server].push(sample);
      process.stderr.write(
        `run ${run + 1}/${RUNS} ${scenario} ${server}: paced p50 ${sample.pacedP50.toFixed(3)} p99 ${sample.pacedP99.toFixed(3)} ms` +
          ` (${sample.pacedRate.toFixed(0)} req/s, GC max ${sample.pacedGc.maxMs.toFixed(1)} ms, ${sample.pacedGc.major} major), autocannon rate p99 ${sample.autocannonRateP99.toFixed(3)} ms,` +
          ` max ${sample.maxRps.toFixed(0)} req/s, failures ${sample.failures}\n`,
      );
    }
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
function summary(list: Sample[]) {
  const of = (pick: (s: Sample) => number) => round3(median(list.map(pick)));
  return {
    paced: {
      p50Ms: of((s) => s.pacedP50),
      p99Ms: of((s) => s.pacedP99),
      achievedRate: Math.round(median(list.map((s) => s.pacedRate))),
    },
    autocannonRate: { p50Ms: of((s) => s.autocannonRateP50), p99Ms: of((s) => s.autocannonRateP99) },
    maxRequestsPerSecond: Math.round(median(list.map((s) => s.maxRps))),
    responseBytes: list[0]?.responseBytes ?? 0,
    failures: list.reduce((sum, s) => sum + s.failures, 0),
    runs: list.map((s) => ({
      pacedP50Ms: round3(s.pacedP50),
      pacedP99Ms: round3(s.pacedP99),
      pacedGc: s.pacedGc,
      autocannonRateP99Ms: round3(s.autocannonRateP99),
      maxRequestsPerSecond: Math.round(s.maxRps),
    })),
  };
}

// Only the scenarios that ran are reported (BENCH_SCENARIOS).
const ran = (Object.keys(scenarios) as Scenario[]).filter((name) => SCENARIOS.includes(name));
const figures = Object.fromEntries(
  ran.map((name) => [
    name,
    { tributary: summary(samples[name].tributary), floor: summary(samples[name].floor) },
  ]),
) as Record<Scenario, Record<Server, ReturnType<typeof summary>>>;
const ratio = (s: Scenario) =>
  Math.round((figures[s].tributary.maxRequestsPerSecond / figures[s].floor.maxRequestsPerSecond) * 1000) /
  1000;

console.log(
  JSON.stringify(
    {
      benchmark: 'online lookups over HTTP (POST /get-online-features)',
      setup: {
        view: `bench_stats: ${FEATURES} float64 features, ttl 1 day`,
        drivers: DRIVERS,
        scenarios: {
          '1x50': '1 entity × 50 features',
          '100x50': '100 entities × 50 features',
          '1x10agg': '1 entity × 10 aggregated features (bench_trips)',
          '100x10agg': '100 entities × 10 aggregated features',
        },
        aggregations: {
          view: 'bench_trips: 10 aggregations, every function, windows 1h–7d, resolutions 1m–1h',
          tripsPerDriver: TRIPS_PER_DRIVER,
          tripsWritten: offset,
          tripsWriteSeconds: round3(tripsWriteSeconds),
          tripsWrittenPerSecond: Math.round(offset / tripsWriteSeconds),
          tileFieldsPerDriver: await redis.hlen(`${prefix}:bench_trips:1001`),
        },
        tributary: 'buildApp (RedisOnlineStore, API key auth, logger silent) on 127.0.0.1',
        floor: 'fastify + ioredis, one MGET of the same keys, stored strings back as JSON',
        load: {
          generator:
            'worker thread; paced = open-loop fixed schedule (node:http keep-alive); max = autocannon',
          rate: { '1x50': RATE, '100x50': RATE_100, '1x10agg': RATE, '100x10agg': RATE_100 },
          seconds: SECONDS,
          warmupSeconds: WARMUP_SECONDS,
          maxConnections: CONNECTIONS,
          runs: RUNS,
        },
        machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map(round3) },
        node: process.version,
        heap: V8_HEAP
          ? "V8's dynamic growing factor (BENCH_V8_HEAP=1)"
          : `growing percent ${SERVING_HEAP_GROWING_PERCENT}, as serve sets it (services/serving/heap.ts)`,
      },
      figures,
      ratioToFloor: Object.fromEntries(ran.map((name) => [name, ratio(name)])),
      targets: Object.fromEntries(
        [
          ['1x50', `1x50 p99 <= 2 ms at ${RATE} req/s`, () => figures['1x50'].tributary.paced.p99Ms <= 2],
          [
            '100x50',
            `100x50 p99 <= 10 ms at ${RATE_100} req/s`,
            () => figures['100x50'].tributary.paced.p99Ms <= 10,
          ],
          ['1x50', 'max throughput >= 70% of floor (1x50)', () => ratio('1x50') >= 0.7],
          ['100x50', 'max throughput >= 70% of floor (100x50)', () => ratio('100x50') >= 0.7],
          [
            '1x10agg',
            `1x10agg p99 <= 2 ms at ${RATE} req/s`,
            () => figures['1x10agg'].tributary.paced.p99Ms <= 2,
          ],
          [
            '100x10agg',
            `100x10agg p99 <= 10 ms at ${RATE_100} req/s`,
            () => figures['100x10agg'].tributary.paced.p99Ms <= 10,
          ],
        ]
          .filter(([name]) => ran.includes(name as Scenario))
          .map(([, target, met]) => [target, (met as () => boolean)()]),
      ),
    },
    null,
    2,
  ),
);

await tributary.close();
await floor.close();
await scanDelete();
await online.close();
await redis.quit();
await pool.end();
await stop();

/** Drops the benchmark's keys. */
async function scanDelete(): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
