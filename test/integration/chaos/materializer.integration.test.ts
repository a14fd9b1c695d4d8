/**
 * Chaos under the materializer: `tributary materialize` and `tributary serve`, run as a user runs
 * them, lose Postgres, then Redis, then the broker for CHAOS_OUTAGE_MS (default 20 s) each while
 * events stream in; then the dependency comes back. Afterwards the offline store holds every
 * event exactly once and Redis the last write of every entity. Meanwhile the online lookups and
 * the materializer's /health are polled: 503 is the promised answer while a store is away,
 * a 500 is a failure. Each scenario prints its figures as a `chaos: {...}` line.
 */

import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECK_TIMEOUT_MS } from '../../../shared/observability/health.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import {
  assertRunning,
  CHAOS,
  chaosRepo,
  freePort,
  get,
  killCli,
  OwnBroker,
  outageMs,
  postJson,
  proxyFor,
  report,
  StatusPoller,
  SteadyProducer,
  sleep,
} from '../../support/chaos.ts';
import { type CliProcess, cliEnv, runCli, startCli, stopCli, until } from '../../support/cli.ts';
import { services, uniqueName } from '../../support/env.ts';
import type { TcpProxy } from '../../support/tcp-proxy.ts';

/** How long a /health request may take: every check is bounded by HEALTH_CHECK_TIMEOUT_MS. */
const HEALTH_ANSWER_MS = HEALTH_CHECK_TIMEOUT_MS + 3_000;

const OUTAGE = outageMs();
/** Streaming before the fault and after it. */
const LEAD_MS = 3_000;
const TAIL_MS = 3_000;
const DRIVERS = 50;
const T0 = Date.parse('2026-11-20T10:00:00Z');
/** One scenario: lead, outage, tail, catching up, with room to spare on a busy 2-core machine. */
const SCENARIO_TIMEOUT = OUTAGE + 120_000;

const prefix = uniqueName('chaos_mat');
const registrySchema = uniqueName('chaos_reg');
const offlineSchema = uniqueName('chaos_off');
const onlinePrefix = uniqueName('chaos_online');
const group = uniqueName('chaos_group');

let broker: OwnBroker;
let postgres: { proxy: TcpProxy; url: string };
let redis: { proxy: TcpProxy; url: string };
let dir: string | undefined;
let materialize: CliProcess | undefined;
let serve: CliProcess | undefined;
let producer: SteadyProducer;
let db: pg.Client;
let serveUrl: string;
let healthUrl: string;

/** Event `n`: driver n mod 50, one second after event n-1, conv_rate and trips both n. */
function event(n: number) {
  return {
    key: String(n % DRIVERS),
    value: JSON.stringify({
      [CHAOS.joinKey]: n % DRIVERS,
      event_timestamp: T0 + n * 1_000,
      conv_rate: n,
      trips: n,
    }),
  };
}

function env(extra: Record<string, string> = {}) {
  return cliEnv({
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    KAFKA_BROKERS: broker.brokers,
    LOG_LEVEL: 'warn',
    ...extra,
  });
}

const schemas = ['--registry-schema', registrySchema, '--offline-schema', offlineSchema];
const lookup = {
  features: [`${CHAOS.view}:conv_rate`],
  entities: { [CHAOS.joinKey]: Array.from({ length: DRIVERS }, (_, d) => d) },
};

beforeAll(async () => {
  broker = await new OwnBroker().start();
  postgres = await proxyFor(services().DATABASE_URL);
  redis = await proxyFor(services().REDIS_URL);
  db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
  const repo = await chaosRepo({ prefix });
  dir = repo.dir;
  const applied = await runCli(['apply', '--repo', dir, ...schemas], env());
  expect(applied.code, applied.stderr).toBe(0);

  const metricsPort = await freePort();
  const port = await freePort();
  materialize = startCli(
    [
      'materialize',
      ...schemas,
      '--online-prefix',
      onlinePrefix,
      '--group',
      group,
      '--metrics-port',
      String(metricsPort),
    ],
    env(),
  );
  serve = startCli(
    ['serve', ...schemas, '--online-prefix', onlinePrefix],
    env({ PORT: String(port), HOST: '127.0.0.1' }),
  );
  serveUrl = `http://127.0.0.1:${port}`;
  healthUrl = `http://127.0.0.1:${metricsPort}/health`;
  await until(
    `serve on ${serveUrl} (output: ${serve.output()})`,
    async () => ((await get(`${serveUrl}/health`)).ok ? true : undefined),
    60_000,
  );
  await until(
    `materialize /health (output: ${materialize.output()})`,
    async () => ((await get(healthUrl)).ok ? true : undefined),
    60_000,
  );
  producer = new SteadyProducer(new KafkaEventStream([broker.brokers]), repo.sourceTopic, event);
}, 180_000);

afterAll(async () => {
  await producer?.close();
  for (const child of [materialize, serve]) {
    await Promise.race([stopCli(child), sleep(10_000)]);
    await killCli(child);
  }
  await broker?.destroy();
  await postgres?.proxy.close();
  await redis?.proxy.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  for (const schema of [registrySchema, offlineSchema]) {
    await db?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  }
  await db?.end();
  const client = new Redis(services().REDIS_URL);
  const keys = await client.keys(`${onlinePrefix}*`);
  if (keys.length > 0) await client.del(...keys);
  await client.quit();
}, 120_000);

async function offlineCounts(): Promise<{ rows: number; distinct: number }> {
  const { rows } = await db.query<{ rows: number; distinct: number }>(
    `SELECT count(*)::int AS rows, count(DISTINCT (${CHAOS.joinKey}, event_timestamp))::int AS distinct
       FROM "${offlineSchema}"."${CHAOS.view}"`,
  );
  return rows[0]!;
}

/** Every driver's conv_rate online, as serve answers it. */
async function onlineConvRates(): Promise<unknown[]> {
  const response = await postJson(`${serveUrl}/get-online-features`, lookup, 5_000);
  if (!response.ok) throw new Error(`get-online-features: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { results: { values: unknown[] }[] };
  return body.results[1]!.values;
}

/** What last write wins leaves online after `produced` events: each driver's greatest n. */
function expectedConvRates(produced: number): number[] {
  return Array.from(
    { length: DRIVERS },
    (_, d) => produced - 1 - ((((produced - 1 - d) % DRIVERS) + DRIVERS) % DRIVERS),
  );
}

/** Waits until both stores hold all `produced` events, then checks they hold nothing more. */
async function caughtUp(produced: number): Promise<{ rows: number; distinct: number }> {
  await until(
    `${produced} rows offline (materialize output: ${materialize!.output().slice(-2_000)})`,
    async () => ((await offlineCounts()).rows >= produced ? true : undefined),
    90_000,
  );
  const expected = expectedConvRates(produced);
  await until(
    'the last write of every driver online',
    async () => (JSON.stringify(await onlineConvRates()) === JSON.stringify(expected) ? true : undefined),
    30_000,
  );
  // A replay that arrived late would show here.
  await sleep(2_000);
  return offlineCounts();
}

interface Fault {
  name: 'postgres' | 'redis' | 'kafka';
  /** Takes the dependency away; the producer is paused around it when the broker goes. */
  cut(): Promise<void>;
  restore(): Promise<void>;
}

async function scenario(fault: Fault): Promise<void> {
  const before = producer.produced;
  await producer.start();
  await sleep(LEAD_MS);
  // The test's producer talks to the broker too: it stops while the broker is away (the
  // materializer is then mid-stream on what it has not consumed yet) and resumes after.
  if (fault.name === 'kafka') {
    await producer.pause();
    await producer.sendMore(3_000);
    await producer.disconnect();
  }
  const online = new StatusPoller(() => postJson(`${serveUrl}/get-online-features`, lookup));
  // /health answers within its check bound even mid-outage; the margin is for a loaded machine.
  const health = new StatusPoller(() => get(healthUrl, HEALTH_ANSWER_MS));
  let mark = Date.now();
  await fault.cut();
  const cutMs = Date.now() - mark;
  await sleep(OUTAGE);
  mark = Date.now();
  await fault.restore();
  const restoreMs = Date.now() - mark;
  if (fault.name === 'kafka') await producer.start();
  await sleep(TAIL_MS);
  const produced = await producer.pause();
  await Promise.all([online.stop(), health.stop()]);

  mark = Date.now();
  const counts = await caughtUp(produced);
  const catchUpMs = Date.now() - mark;
  assertRunning(materialize!, 'tributary materialize');
  assertRunning(serve!, 'tributary serve');
  report({
    scenario: `materializer/${fault.name}`,
    events: produced - before,
    faults: 1,
    outageMs: OUTAGE,
    cutMs,
    restoreMs,
    catchUpMs,
    lost: produced - counts.distinct,
    duplicated: counts.rows - counts.distinct,
    http5xx: online.http5xx,
    online: online.summary(),
    health: health.summary(),
  });
  expect(counts).toEqual({ rows: produced, distinct: produced });
  // 503 is what a lookup answers while Redis is away; a 500 is a bug.
  expect(
    online.count((s) => s >= 500 && s !== 503),
    JSON.stringify(online.summary()),
  ).toBe(0);
  expect(
    health.count((s) => s >= 500 && s !== 503),
    JSON.stringify(health.summary()),
  ).toBe(0);
  expect(health.unanswered, JSON.stringify(health.summary())).toBe(0);
  if (fault.name === 'redis') expect(online.count((s) => s === 503)).toBeGreaterThan(0);
  if (fault.name !== 'redis') expect(online.count((s) => s !== 200)).toBe(0);
  // The materializer says which store it cannot write while it cannot (docs/materializer.md).
  if (fault.name !== 'kafka') expect(health.count((s) => s === 503)).toBeGreaterThan(0);
  expect((await get(healthUrl)).status).toBe(200);
}

describe.sequential('chaos: the materializer loses a dependency mid-stream', () => {
  it(
    'Postgres away: every event once offline, the last write of each driver online',
    () =>
      scenario({
        name: 'postgres',
        cut: async () => postgres.proxy.cut(),
        restore: async () => postgres.proxy.restore(),
      }),
    SCENARIO_TIMEOUT,
  );

  it(
    'Redis away: lookups answer 503, then every event is in both stores once',
    () =>
      scenario({
        name: 'redis',
        cut: async () => redis.proxy.cut(),
        restore: async () => redis.proxy.restore(),
      }),
    SCENARIO_TIMEOUT,
  );

  it(
    'the broker away: the materializer reconnects and misses nothing',
    () =>
      scenario({
        name: 'kafka',
        cut: () => broker.stop(),
        restore: () => broker.restart(),
      }),
    SCENARIO_TIMEOUT + 60_000,
  );
});
