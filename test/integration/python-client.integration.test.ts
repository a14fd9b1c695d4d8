/**
 * The Python client (clients/python) against the real server: a virtual environment with the
 * client installed (made once, kept in the cache folder while pyproject.toml stays the same), the
 * example repository applied, driver events materialized from Kafka, `tributary serve` and
 * `tributary materialize` running, then `pytest clients/python/tests`. The events produced here are
 * written to a JSON file the Python tests read, so both sides agree on what must come back. After
 * pytest, the prediction topic is read to check exactly the predictions the client logged.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaEventStream } from '../../shared/stream/kafka.ts';
import type { IncomingMessage } from '../../shared/stream/port.ts';
import {
  type CliProcess,
  cleanUpCli,
  cliEnv,
  exampleRepo,
  ROOT,
  runCli,
  startCli,
  stopCli,
  until,
} from '../support/cli.ts';
import { services, uniqueName } from '../support/env.ts';

const CLIENT = path.join(ROOT, 'clients', 'python');
const registrySchema = uniqueName('reg_py');
const offlineSchema = uniqueName('off_py');
const prefix = uniqueName('py');
const apiKey = 'python-client-key';
let dir: string;
let serve: CliProcess | undefined;
let materialize: CliProcess | undefined;
let python: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return new Promise<Result>((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
        resolve({ code, stdout, stderr: error && code === 127 ? `${stderr}${error.message}` : stderr });
      },
    );
  });
}

/** Where the virtual environment is kept (TRIBUTARY_CACHE_DIR, as for the Kafka download). */
function cacheDir(): string {
  const base =
    process.env['TRIBUTARY_CACHE_DIR'] ??
    path.join(process.env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache'), 'tributary');
  mkdirSync(base, { recursive: true });
  return base;
}

/**
 * A venv with the client (editable, so the tests always run this checkout's code), polars and
 * pytest. Keyed by pyproject.toml, the checkout's path (an editable install points at it) and the
 * Python version, so a warm one is reused and a changed dependency list gets a new one.
 */
async function pythonEnv(): Promise<string> {
  const version = await run('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']);
  if (version.code !== 0) {
    throw new Error(
      `python3 is needed for the Python client tests (clients/python), and it ${
        version.code === 127 ? 'is not on PATH' : `failed: ${version.stderr}`
      }. Install Python 3.9 or later with venv (Debian: apt-get install python3 python3-venv).`,
    );
  }
  const pyproject = await readFile(path.join(CLIENT, 'pyproject.toml'));
  const key = createHash('sha256')
    .update(pyproject)
    .update(ROOT)
    .update(version.stdout.trim())
    .digest('hex')
    .slice(0, 16);
  const venv = path.join(cacheDir(), `python-venv-${key}`);
  const bin = path.join(venv, 'bin', 'python');
  if (existsSync(path.join(venv, '.ready'))) return bin;

  // Built in place; `.ready` is written last, so an interrupted install is never taken for a
  // ready one (it is removed and built again). A venv cannot be moved: its scripts name its folder.
  await rm(venv, { recursive: true, force: true });
  const created = await run('python3', ['-m', 'venv', venv]);
  if (created.code !== 0) {
    throw new Error(
      `python3 -m venv failed (Debian: apt-get install python3-venv):\n${created.stdout}${created.stderr}`,
    );
  }
  const installed = await run(bin, [
    '-m',
    'pip',
    'install',
    '--disable-pip-version-check',
    '-q',
    '-e',
    `${CLIENT}[polars,test]`,
  ]);
  if (installed.code !== 0) {
    throw new Error(`pip install of clients/python failed:\n${installed.stdout}${installed.stderr}`);
  }
  await writeFile(path.join(venv, '.ready'), `${new Date().toISOString()}\n`);
  return bin;
}

/** A port nobody listens on right now (serve takes PORT 1–65535, not 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const env = (extra: Record<string, string> = {}) => cliEnv({ TRIBUTARY_APPLIED_BY: 'python@test', ...extra });

/** Whole seconds, an hour ago: inside the view's 1-day ttl, and exact as ISO strings. */
const BASE = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
/** The driver events produced to Kafka and materialized; the Python tests read them back. */
const EVENTS = [
  { driver_id: 5001, event_timestamp: BASE - 1_800_000, conv_rate: 0.1, acc_rate: 0.2, avg_daily_trips: 3 },
  { driver_id: 5001, event_timestamp: BASE, conv_rate: 0.5, acc_rate: 0.6, avg_daily_trips: 7 },
  { driver_id: 5002, event_timestamp: BASE, conv_rate: 0.25, acc_rate: null, avg_daily_trips: null },
];

let base: string;
let fixture: string;

beforeAll(async () => {
  python = await pythonEnv();
  dir = await exampleRepo(prefix);
  const schemas = ['--registry-schema', registrySchema, '--offline-schema', offlineSchema];
  const applied = await runCli(['apply', '--repo', dir, ...schemas], env());
  expect(applied.code, applied.stderr).toBe(0);

  const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
  const producer = await stream.producer();
  await producer.send(
    `${prefix}.driver_stats`,
    EVENTS.map((e) => ({ key: String(e.driver_id), value: JSON.stringify(e) })),
  );
  await producer.close();

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  serve = startCli(
    ['serve', ...schemas, '--online-prefix', prefix],
    env({ PORT: String(port), HOST: '127.0.0.1', TRIBUTARY_API_KEYS: apiKey, LOG_LEVEL: 'warn' }),
  );
  materialize = startCli(
    [
      'materialize',
      ...schemas,
      '--online-prefix',
      prefix,
      '--group',
      uniqueName('py_group'),
      '--metrics-port',
      '0',
    ],
    env({ LOG_LEVEL: 'warn' }),
  );
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  await until(
    `the server on ${base} (output: ${serve.output()})`,
    async () => ((await fetch(`${base}/health`)).ok ? true : undefined),
    30_000,
  );
  // Materialized into both stores before pytest starts (the offline rows may land just after).
  await until(
    `materialized events (materialize output: ${materialize.output()})`,
    async () => {
      const res = await fetch(`${base}/get-historical-features`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          entities: { driver_id: [5001, 5002], event_timestamp: [BASE, BASE] },
          features: ['driver_hourly_stats:conv_rate'],
        }),
      });
      const online = await fetch(`${base}/get-online-features`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          features: ['driver_hourly_stats:conv_rate'],
          entities: { driver_id: [5001, 5002] },
        }),
      });
      const offline = (await res.json()) as { columns: { conv_rate: (number | null)[] } };
      const live = (await online.json()) as { results: { values: unknown[] }[] };
      return offline.columns.conv_rate.join() === '0.5,0.25' && live.results[1]?.values.join() === '0.5,0.25'
        ? true
        : undefined;
    },
    60_000,
  );
  fixture = path.join(dir, 'python-fixture.json');
  await writeFile(fixture, JSON.stringify({ base_ms: BASE, events: EVENTS, model: 'driver_model' }));
}, 300_000);

afterAll(async () => {
  await stopCli(serve);
  await stopCli(materialize);
  await cleanUpCli({ dir, schemas: [registrySchema, offlineSchema], topicPrefix: prefix });
  const { Redis } = await import('ioredis');
  const redis = new Redis(services().REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('the Python client (pytest against tributary serve)', () => {
  it('passes its pytest suite, and logs exactly its predictions to the topic', async () => {
    const result = await run(
      python,
      ['-m', 'pytest', path.join(CLIENT, 'tests'), '-q', '-p', 'no:cacheprovider'],
      {
        env: {
          ...process.env,
          TRIBUTARY_URL: base,
          TRIBUTARY_API_KEY: apiKey,
          TRIBUTARY_TEST_FIXTURE: fixture,
          PYTHONDONTWRITEBYTECODE: '1',
        },
      },
    );
    expect(result.code, `pytest failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/\d+ passed/);
    expect(result.stdout).not.toMatch(/skipped|failed|error/);

    // tests/test_predictions.py logs three predictions with these ids and nothing else lands.
    const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
    const consumer = await stream.consumer({
      groupId: uniqueName('py_predictions'),
      topics: [`${prefix}.predictions`],
      start: { from: 'beginning' },
    });
    const messages: IncomingMessage[] = [];
    try {
      await consumer.run(async (batch) => {
        messages.push(...batch.messages);
      });
      await expect.poll(() => messages.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    } finally {
      await consumer.close();
    }
    const admin = await stream.admin();
    expect(await admin.topicSize(`${prefix}.predictions`)).toBe(3);
    await admin.close();
    const events = messages.map((m) => JSON.parse(m.value!.toString()));
    expect(events).toEqual([
      {
        prediction_id: 'py-1',
        model: 'driver_model',
        model_version: '7',
        event_timestamp: '2026-11-20T10:00:00Z',
        features: { conv_rate: 0.5, acc_rate: 0.6, avg_daily_trips: 7 },
        prediction: 0.9,
      },
      {
        prediction_id: 'py-2',
        model: 'driver_model',
        model_version: '7',
        event_timestamp: '2026-11-20T10:00:01.500000Z',
        features: { conv_rate: null, acc_rate: 0.1, avg_daily_trips: null },
        prediction: 0.1,
      },
      {
        prediction_id: 'py-3',
        model: 'driver_model',
        model_version: '7',
        event_timestamp: '2026-11-20T11:00:00Z',
        features: { conv_rate: 0.3, acc_rate: 0.4, avg_daily_trips: 2 },
        prediction: 0.5,
      },
    ]);
  }, 240_000);
});
