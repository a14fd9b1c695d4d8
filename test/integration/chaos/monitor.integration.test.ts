/**
 * Chaos under the drift monitor: `tributary monitor` (and `tributary serve`, for the monitor's
 * query API) lose Postgres, then the broker, for CHAOS_OUTAGE_MS (default 20 s) each while
 * predictions stream in; then the dependency comes back. Afterwards the closed windows are
 * exactly the predictions produced, 100 by 100 in event-time order: none skipped, none counted
 * twice, no window written twice. (The monitor has no Redis connection: a Redis outage cannot
 * reach it, so there is no Redis scenario here; the materializer's suite has one.)
 * Each scenario prints its figures as a `chaos: {...}` line.
 */

import { rm } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECK_TIMEOUT_MS } from '../../../shared/observability/health.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import {
  assertRunning,
  chaosRepo,
  freePort,
  get,
  killCli,
  OwnBroker,
  outageMs,
  prediction,
  proxyFor,
  report,
  StatusPoller,
  SteadyProducer,
  sleep,
  trainingCsv,
} from '../../support/chaos.ts';
import { type CliProcess, cliEnv, runCli, startCli, stopCli, until } from '../../support/cli.ts';
import { services, uniqueName } from '../../support/env.ts';
import type { TcpProxy } from '../../support/tcp-proxy.ts';

/** How long a /health request may take: every check is bounded by HEALTH_CHECK_TIMEOUT_MS. */
const HEALTH_ANSWER_MS = HEALTH_CHECK_TIMEOUT_MS + 3_000;

const OUTAGE = outageMs();
const LEAD_MS = 3_000;
const TAIL_MS = 3_000;
const WINDOW = 100;
const T0 = Date.parse('2026-11-20T10:00:00Z');
const SCENARIO_TIMEOUT = OUTAGE + 120_000;

const prefix = uniqueName('chaos_mon');
const registrySchema = uniqueName('chaos_reg');
const monitorSchema = uniqueName('chaos_monitor');

let broker: OwnBroker;
let postgres: { proxy: TcpProxy; url: string };
let dir: string | undefined;
let model: string;
let monitor: CliProcess | undefined;
let serve: CliProcess | undefined;
let producer: SteadyProducer;
let db: pg.Client;
let serveUrl: string;
let healthUrl: string;

function env(extra: Record<string, string> = {}) {
  return cliEnv({
    DATABASE_URL: postgres.url,
    KAFKA_BROKERS: broker.brokers,
    LOG_LEVEL: 'warn',
    ...extra,
  });
}

beforeAll(async () => {
  broker = await new OwnBroker().start();
  postgres = await proxyFor(services().DATABASE_URL);
  db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
  const repo = await chaosRepo({ prefix, windowRows: WINDOW });
  dir = repo.dir;
  model = repo.model;
  const applied = await runCli(['apply', '--repo', dir, '--registry-schema', registrySchema], env());
  expect(applied.code, applied.stderr).toBe(0);
  const profiled = await runCli(
    [
      'profile',
      '--model',
      model,
      '--model-version',
      '1',
      '--input',
      await trainingCsv(dir),
      '--schema',
      monitorSchema,
    ],
    env(),
  );
  expect(profiled.code, profiled.stderr).toBe(0);

  const opsPort = await freePort();
  const port = await freePort();
  monitor = startCli(
    [
      'monitor',
      '--registry-schema',
      registrySchema,
      '--schema',
      monitorSchema,
      '--metrics-port',
      String(opsPort),
    ],
    env(),
  );
  serve = startCli(
    ['serve', '--registry-schema', registrySchema, '--monitor-schema', monitorSchema],
    env({ PORT: String(port), HOST: '127.0.0.1' }),
  );
  serveUrl = `http://127.0.0.1:${port}`;
  healthUrl = `http://127.0.0.1:${opsPort}/health`;
  await until(
    `serve on ${serveUrl} (output: ${serve.output()})`,
    async () => ((await get(`${serveUrl}/health`)).ok ? true : undefined),
    60_000,
  );
  await until(
    `monitor /health (output: ${monitor.output()})`,
    async () => {
      const response = await get(healthUrl);
      const body = (await response.json()) as { monitors?: unknown[] };
      return response.ok && (body.monitors?.length ?? 0) > 0 ? true : undefined;
    },
    60_000,
  );
  producer = new SteadyProducer(new KafkaEventStream([broker.brokers]), repo.predictionTopic, (n) => ({
    key: null,
    value: prediction(model, n, T0),
  }));
}, 180_000);

afterAll(async () => {
  await producer?.close();
  for (const child of [monitor, serve]) {
    await Promise.race([stopCli(child), sleep(10_000)]);
    await killCli(child);
  }
  await broker?.destroy();
  await postgres?.proxy.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  for (const schema of [registrySchema, monitorSchema]) {
    await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  }
  await db?.end();
}, 120_000);

interface WindowRow {
  start: number;
  end: number;
  rows: number;
}

async function windows(): Promise<WindowRow[]> {
  const { rows } = await db.query<{ start: string; end: string; rows: string }>(
    `SELECT window_start AS start, window_end AS end, rows FROM "${monitorSchema}".drift_windows
      ORDER BY window_start, window_end`,
  );
  return rows.map((r) => ({ start: Number(r.start), end: Number(r.end), rows: Number(r.rows) }));
}

/** Prediction n has event time T0 + n, so window k holds exactly predictions 100k … 100k+99. */
function expectedWindows(produced: number): WindowRow[] {
  return Array.from({ length: produced / WINDOW }, (_, k) => ({
    start: T0 + k * WINDOW,
    end: T0 + k * WINDOW + WINDOW - 1,
    rows: WINDOW,
  }));
}

/** The windows as the query API answers them (newest first; at most 1000 per page). */
async function apiWindows(): Promise<WindowRow[]> {
  const response = await get(`${serveUrl}/monitors/${model}/windows?limit=1000`, 10_000);
  if (!response.ok) throw new Error(`GET windows: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { windows: { window: WindowRow }[] };
  return body.windows.map((e) => e.window).sort((a, b) => a.start - b.start);
}

async function scenario(name: 'postgres' | 'kafka', cut: () => Promise<void>, restore: () => Promise<void>) {
  const before = producer.produced;
  await producer.start();
  await sleep(LEAD_MS);
  if (name === 'kafka') {
    await producer.pause();
    await producer.sendMore(3_000);
    await producer.disconnect();
  }
  const api = new StatusPoller(() => get(`${serveUrl}/monitors/${model}/windows?limit=1`));
  // /health answers within its check bound even mid-outage; the margin is for a loaded machine.
  const health = new StatusPoller(() => get(healthUrl, HEALTH_ANSWER_MS));
  let mark = Date.now();
  await cut();
  const cutMs = Date.now() - mark;
  await sleep(OUTAGE);
  mark = Date.now();
  await restore();
  const restoreMs = Date.now() - mark;
  if (name === 'kafka') await producer.start();
  await sleep(TAIL_MS);
  await producer.pause();
  // Whole windows only, so that every prediction is in a closed one at the end.
  await producer.sendMore((WINDOW - (producer.produced % WINDOW)) % WINDOW);
  const produced = producer.produced;
  await Promise.all([api.stop(), health.stop()]);

  const expected = expectedWindows(produced);
  mark = Date.now();
  const closed = await until(
    `${expected.length} windows (monitor output: ${monitor!.output().slice(-2_000)})`,
    async () => {
      const found = await windows();
      return found.length >= expected.length ? found : undefined;
    },
    90_000,
  );
  const catchUpMs = Date.now() - mark;
  // A redelivered batch counted again would close one more window, late: give it the time.
  await sleep(3_000);
  const after = await windows();
  assertRunning(monitor!, 'tributary monitor');
  assertRunning(serve!, 'tributary serve');
  const counted = after.reduce((sum, w) => sum + w.rows, 0);
  report({
    scenario: `monitor/${name}`,
    events: produced - before,
    faults: 1,
    outageMs: OUTAGE,
    cutMs,
    restoreMs,
    catchUpMs,
    windows: after.length,
    lost: Math.max(0, produced - counted),
    duplicated: Math.max(0, counted - produced),
    http5xx: api.http5xx,
    api: api.summary(),
    health: health.summary(),
  });
  expect(closed.length).toBe(expected.length);
  expect(after).toEqual(expected);
  expect(await apiWindows()).toEqual(expected);
  expect(
    api.count((s) => s >= 500 && s !== 503),
    JSON.stringify(api.summary()),
  ).toBe(0);
  expect(
    health.count((s) => s >= 500 && s !== 503),
    JSON.stringify(health.summary()),
  ).toBe(0);
  expect(health.unanswered, JSON.stringify(health.summary())).toBe(0);
  if (name === 'kafka') expect(api.count((s) => s !== 200)).toBe(0);
}

describe.sequential('chaos: the drift monitor loses a dependency mid-stream', () => {
  it(
    'Postgres away: the windows count every prediction exactly once',
    () =>
      scenario(
        'postgres',
        async () => postgres.proxy.cut(),
        async () => postgres.proxy.restore(),
      ),
    SCENARIO_TIMEOUT,
  );

  it(
    'the broker away: the windows count every prediction exactly once',
    () =>
      scenario(
        'kafka',
        () => broker.stop(),
        () => broker.restart(),
      ),
    SCENARIO_TIMEOUT + 60_000,
  );
});
