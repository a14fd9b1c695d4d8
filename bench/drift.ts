/**
 * Drift monitor benchmark: profile build, ingest through the monitor's whole path from Kafka,
 * window scoring time, and peak memory as the window grows 100×.
 *
 *   npm run bench:drift -- [--predictions 1000000] [--reference-rows 1000000]
 *
 * Setup: 25 features (20 numeric, 5 categorical) plus the prediction; a reference of 1,000,000
 * rows written as CSV and profiled with the same code as `tributary profile` (streamed, then
 * stored in Postgres); predictions pre-loaded into a 4-partition topic. Then, after a warm-up
 * pass, one child process per window size (100,000, then 10,000 and 1,000,000 rows) runs the monitor service — Kafka
 * consumer, decode, windows, scoring, Postgres checkpoints and outbox — over all predictions,
 * each with its own consumer group and state, so every figure includes the whole path.
 * Services as every benchmark finds them (bench/support.ts): the environment's, a running
 * `.services.env`, else throwaway ones; the child processes get them in their environment.
 * Prints JSON; never fails on timing.
 */

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { normal, rng } from '../fixtures/random.ts';
import { startMonitorService } from '../services/monitor/service.ts';
import type { MonitorSpec, RepoSpec } from '../shared/definitions/types.ts';
import { createLogger } from '../shared/logger.ts';
import { createPool } from '../shared/postgres/index.ts';
import { ProfileBuilder } from '../shared/profiles/builder.ts';
import { readColumnBatches } from '../shared/profiles/input.ts';
import { PostgresProfileStore } from '../shared/profiles/postgres.ts';
import { StaticDefinitions } from '../shared/registry/live.ts';
import { KafkaEventStream } from '../shared/stream/kafka.ts';
import { benchServices, inheritedServices } from './support.ts';

const NUMERIC = 20;
const CATEGORICAL = 5;
const CATEGORIES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const MODEL = 'bench_drift_model';
const OUT = join(import.meta.dirname, '..', '.bench-out');

const numericNames = Array.from({ length: NUMERIC }, (_, i) => `n${i}`);
const categoricalNames = Array.from({ length: CATEGORICAL }, (_, i) => `c${i}`);

/** One row: numeric feature i ~ N(i/10, 1 + i/20) (shifted by `shift` std), categorical skewed towards 'a'. */
function rowGenerator(seed: number, shift = 0) {
  const random = rng(seed);
  const gauss = normal(random);
  return () => {
    const numeric = numericNames.map(
      (_, i) => Math.round((i / 10 + (gauss() + shift) * (1 + i / 20)) * 1e6) / 1e6,
    );
    const categorical = categoricalNames.map(
      () => CATEGORIES[Math.min(7, Math.floor(-Math.log(1 - random()) * 2))]!,
    );
    const prediction = Math.round(random() * 1e4) / 1e4;
    return { numeric, categorical, prediction };
  };
}

async function writeReferenceCsv(path: string, rows: number): Promise<number> {
  const out = createWriteStream(path);
  out.write(`${[...numericNames, ...categoricalNames, 'prediction'].join(',')}\n`);
  const next = rowGenerator(1);
  let chunk: string[] = [];
  for (let i = 0; i < rows; i++) {
    const r = next();
    chunk.push(`${r.numeric.join(',')},${r.categorical.join(',')},${r.prediction}\n`);
    if (chunk.length === 10_000) {
      if (!out.write(chunk.join('')))
        await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      chunk = [];
    }
  }
  out.write(chunk.join(''));
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return (await stat(path)).size;
}

function monitorSpec(name: string, topic: string, rows: number): MonitorSpec {
  return {
    kind: 'monitor',
    name,
    model: MODEL,
    predictionTopic: topic,
    features: [...numericNames, ...categoricalNames].map((f) => `bench_view:${f}`),
    monitorPrediction: true,
    window: { rows },
    overrides: {},
    datasetDriftThreshold: 0.5,
    retrain: { consecutiveDriftedWindows: 2, cooldownMs: 3_600_000 },
    webhooks: [],
  };
}

// ---- child: one monitor run ---------------------------------------------------------------

async function child(args: { topic: string; schema: string; window: number; predictions: number }) {
  // The parent's services, handed down in the environment (they may be throwaway ones it started).
  const { KAFKA_BROKERS, DATABASE_URL } = inheritedServices();
  const logger = createLogger('bench', 'warn');
  const name = `bench_w${args.window}_${Date.now().toString(36)}`;
  const repo: RepoSpec = {
    entities: [],
    kafkaSources: [],
    pushSources: [],
    featureViews: [],
    featureServices: [],
    monitors: [monitorSpec(name, args.topic, args.window)],
  };
  const scoring: number[] = [];
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  global.gc?.();
  const baseline = process.memoryUsage();
  const sampler = setInterval(sample, 25);
  const service = await startMonitorService({
    definitions: new StaticDefinitions(repo),
    stream: new KafkaEventStream(KAFKA_BROKERS.split(','), logger),
    databaseUrl: DATABASE_URL,
    logger,
    schema: args.schema,
    opsPort: null,
    groupIdOf: () => name,
    onWindowClosed: (_, closed) => scoring.push(closed.scoringMs),
  });
  const counted = async () =>
    (await service.metrics.predictionsIn.get()).values.reduce((s, v) => s + v.value, 0);
  let first = 0;
  for (;;) {
    const n = await counted();
    if (n > 0 && first === 0) first = performance.now();
    if (n >= args.predictions) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const seconds = (performance.now() - first) / 1000;
  sample();
  clearInterval(sampler);
  const checkpoint = (await service.metrics.checkpointSeconds.get()).values;
  const cpSum = checkpoint.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  const cpCount = checkpoint.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  await service.close();
  const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
  const sorted = [...scoring].sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      window_rows: args.window,
      predictions: args.predictions,
      windows_closed: scoring.length,
      ingest_seconds: Math.round(seconds * 100) / 100,
      predictions_per_second: Math.round(args.predictions / seconds),
      scoring_ms_per_window: sorted.length
        ? {
            mean: Math.round((sorted.reduce((s, x) => s + x, 0) / sorted.length) * 100) / 100,
            max: Math.round(sorted[sorted.length - 1]! * 100) / 100,
          }
        : null,
      checkpoints: cpCount,
      checkpoint_ms_mean: cpCount ? Math.round((cpSum / cpCount) * 1e5) / 100 : null,
      memory_mb: {
        baseline_rss: mb(baseline.rss),
        peak_rss: mb(peakRss),
        baseline_heap_used: mb(baseline.heapUsed),
        peak_heap_used: mb(peakHeap),
      },
    })}\n`,
  );
}

function runChild(
  args: Record<string, string | number>,
  env: NodeJS.ProcessEnv,
): Promise<Record<string, unknown>> {
  const argv = ['--expose-gc', '--import', 'tsx', import.meta.filename, '--child'];
  for (const [k, v] of Object.entries(args)) argv.push(`--${k}`, String(v));
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`child exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

// ---- main ---------------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      child: { type: 'boolean', default: false },
      topic: { type: 'string' },
      schema: { type: 'string' },
      window: { type: 'string' },
      predictions: { type: 'string', default: '1000000' },
      'reference-rows': { type: 'string', default: '1000000' },
      keep: { type: 'boolean', default: false },
    },
  });
  const predictions = Number(values.predictions);
  if (values.child) {
    await child({ topic: values.topic!, schema: values.schema!, window: Number(values.window), predictions });
    return;
  }
  const referenceRows = Number(values['reference-rows']);
  const services = await benchServices();
  const { KAFKA_BROKERS, DATABASE_URL } = services.env;
  const suffix = `${Date.now().toString(36)}`;
  const schema = `bench_drift_${suffix}`;
  const topic = `bench.predictions.${suffix}`;
  await mkdir(OUT, { recursive: true });
  const csv = join(OUT, `drift-reference-${suffix}.csv`);
  const log = (msg: string) => process.stderr.write(`[bench:drift] ${msg}\n`);

  // 1. Reference profile from a 1M-row CSV, as `tributary profile` builds it.
  log(`writing a ${referenceRows.toLocaleString('en-US')}-row reference CSV`);
  const csvBytes = await writeReferenceCsv(csv, referenceRows);
  log('profiling it');
  const started = performance.now();
  const builder = new ProfileBuilder({ model: MODEL, modelVersion: '1', source: 'bench.csv' });
  for await (const batch of readColumnBatches(csv)) builder.add(batch);
  const profile = builder.finish();
  const built = performance.now();
  const store = new PostgresProfileStore(DATABASE_URL, schema);
  await store.ensureSchema();
  await store.put(profile);
  await store.close();
  const stored = performance.now();
  const profileResult = {
    reference_rows: referenceRows,
    columns: profile.columns.length,
    csv_mb: Math.round(csvBytes / 1024 / 102.4) / 10,
    build_seconds: Math.round((built - started) / 10) / 100,
    store_seconds: Math.round((stored - built) / 10) / 100,
    rows_per_second: Math.round(referenceRows / ((built - started) / 1000)),
    profile_kb: Math.round(JSON.stringify(profile).length / 1024),
  };
  log(`profile: ${JSON.stringify(profileResult)}`);
  await rm(csv, { force: true });

  // 2. Pre-load the predictions.
  // Eight 2.4 MB batches in flight on a busy 2-core machine can outlast the product's 5 s send
  // bound (meant for /push); a preload only needs to finish, so it waits longer.
  const stream = new KafkaEventStream(KAFKA_BROKERS.split(','), undefined, { sendTimeoutMs: 120_000 });
  const admin = await stream.admin();
  await admin.ensureTopics([{ topic, partitions: 4 }, { topic: `${topic}.dlq` }]);
  const producer = await stream.producer();
  log(`producing ${predictions.toLocaleString('en-US')} predictions`);
  const next = rowGenerator(2);
  const t0 = Date.parse('2026-11-20T00:00:00Z');
  const produceStart = performance.now();
  const inflight: Promise<void>[] = [];
  let producedBytes = 0;
  for (let i = 0; i < predictions; i += 5_000) {
    const batch = [];
    for (let j = i; j < Math.min(predictions, i + 5_000); j++) {
      const r = next();
      const features: Record<string, number | string> = {};
      numericNames.forEach((n, k) => {
        features[n] = r.numeric[k]!;
      });
      categoricalNames.forEach((n, k) => {
        features[n] = r.categorical[k]!;
      });
      batch.push({
        key: null,
        partition: j % 4,
        value: JSON.stringify({
          prediction_id: `p${j}`,
          model: MODEL,
          model_version: '1',
          event_timestamp: t0 + j,
          features,
          prediction: r.prediction,
        }),
      });
    }
    for (const m of batch) producedBytes += Buffer.byteLength(m.value);
    inflight.push(producer.send(topic, batch));
    if (inflight.length >= 8) await inflight.shift();
  }
  await Promise.all(inflight);
  const produceSeconds = (performance.now() - produceStart) / 1000;
  await producer.close();
  log(`produced in ${produceSeconds.toFixed(1)} s`);

  // 3. The monitor over every prediction, per window size, each in a fresh process.
  const runs: Record<string, unknown>[] = [];
  // A first, unreported pass warms Kafka's page cache and Postgres, so the runs compare like with like.
  log('warm-up run');
  await runChild(
    { topic, schema, window: 100_000, predictions: Math.min(predictions, 200_000) },
    services.childEnv,
  );
  for (const window of [100_000, 10_000, 1_000_000]) {
    log(`monitor run, windows of ${window.toLocaleString('en-US')} rows`);
    const result = await runChild({ topic, schema, window, predictions }, services.childEnv);
    log(JSON.stringify(result));
    runs.push(result);
  }

  if (!values.keep) {
    await admin.deleteTopics([topic, `${topic}.dlq`]).catch(() => undefined);
    const pool = createPool({ connectionString: DATABASE_URL, max: 1, name: 'bench' });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
  await admin.close();
  await services.stop();

  const byWindow = (w: number) =>
    runs.find((r) => r['window_rows'] === w) as { memory_mb: { peak_rss: number; peak_heap_used: number } };
  const small = byWindow(10_000);
  const large = byWindow(1_000_000);
  const main100k = runs.find((r) => r['window_rows'] === 100_000) as {
    predictions_per_second: number;
    scoring_ms_per_window: { mean: number; max: number } | null;
  };
  const report = {
    benchmark: 'drift',
    setup: {
      features: { numeric: NUMERIC, categorical: CATEGORICAL, plus_prediction: true },
      reference_rows: referenceRows,
      predictions,
      topic_partitions: 4,
      message_bytes_mean: Math.round(producedBytes / predictions),
      machine: {
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        memory_gb: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
      },
      services: `Kafka, Postgres (${services.origin}), on the same machine`,
    },
    profile: profileResult,
    produce: {
      seconds: Math.round(produceSeconds * 100) / 100,
      per_second: Math.round(predictions / produceSeconds),
    },
    monitor_runs: runs,
    summary: {
      ingest_predictions_per_second_100k_windows: main100k.predictions_per_second,
      scoring_ms_per_100k_window: main100k.scoring_ms_per_window,
      peak_rss_mb: { window_10k: small.memory_mb.peak_rss, window_1m: large.memory_mb.peak_rss },
      peak_heap_mb: { window_10k: small.memory_mb.peak_heap_used, window_1m: large.memory_mb.peak_heap_used },
      targets: {
        ingest_at_least_per_second: 50_000,
        scoring_at_most_ms: 1_000,
        memory: 'flat as the window grows 100x (10k -> 1M rows)',
      },
    },
  };
  console.log(JSON.stringify(report, null, 2));
}

await main();
