/**
 * What an operator reads from the long-running commands: a normal start, some work and a
 * SIGTERM print JSON lines (stdout is not a terminal here) with no error-level line and no
 * deprecation warning; a Kafka outage is one warn, not a line per kafkajs retry.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../shared/logger.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import { freePort } from '../../support/chaos.ts';
import {
  type CliProcess,
  cleanUpCli,
  cliEnv,
  exampleRepo,
  runCli,
  startCli,
  stopCli,
  until,
} from '../../support/cli.ts';
import { services, uniqueName } from '../../support/env.ts';
import { TcpProxy } from '../../support/tcp-proxy.ts';

const schema = uniqueName('reg_logs');
const offlineSchema = uniqueName('off_logs');
const monitorSchema = uniqueName('mon_logs');
const prefix = uniqueName('logs');
let dir: string;
const running: CliProcess[] = [];

beforeAll(async () => {
  dir = await exampleRepo(prefix);
  const applied = await runCli([
    'apply',
    '--repo',
    dir,
    '--registry-schema',
    schema,
    '--offline-schema',
    offlineSchema,
  ]);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
}, 60_000);

afterAll(async () => {
  for (const child of running) await stopCli(child);
  await cleanUpCli({ dir, schemas: [schema, offlineSchema, monitorSchema], topicPrefix: prefix });
});

/** Starts a command, waits for its /health, runs `work`, stops it with SIGTERM; returns its output. */
async function normalRun(
  args: string[],
  env: Record<string, string>,
  healthUrl: string,
  work: () => Promise<void> = async () => {},
): Promise<string> {
  const child = startCli(args, cliEnv(env));
  running.push(child);
  await until(
    `${args[0]} /health (output: ${child.output()})`,
    async () => ((await fetch(healthUrl)).ok ? true : undefined),
    45_000,
  );
  await work();
  expect(await stopCli(child)).toBe(0);
  return child.output();
}

/** Every line is pino JSON with a level name and an ISO time, none at error level or above. */
function expectQuiet(output: string): void {
  expect(output).not.toMatch(/Deprecation|FSTDEP|DEP0\d{3}/);
  const lines = output.split('\n').filter((line) => line.trim().length > 0);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const entry = JSON.parse(line) as { level: unknown; time: unknown };
    expect(['trace', 'debug', 'info', 'warn'], line).toContain(entry.level);
    expect(new Date(entry.time as string).toISOString()).toBe(entry.time);
  }
}

describe('a normal run logs nothing at error level and no deprecation', () => {
  it('serve: start, a few requests (one refused), SIGTERM', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const output = await normalRun(
      ['serve', '--registry-schema', schema, '--monitor-schema', monitorSchema],
      { PORT: String(port) },
      `${base}/health`,
      async () => {
        const online = await fetch(`${base}/get-online-features`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            features: ['driver_hourly_stats:conv_rate'],
            entities: { driver_id: [1001] },
          }),
        });
        expect(online.status).toBe(200);
        expect((await fetch(`${base}/openapi.json`)).status).toBe(200);
        // A client's mistake is the client's 400, not a server error line.
        const bad = await fetch(`${base}/get-online-features`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"features": 1}',
        });
        expect(bad.status).toBe(400);
        expect((await fetch(`${base}/no-such-route`)).status).toBe(404);
      },
    );
    expectQuiet(output);
    expect(output).toContain('"msg":"shutting down"');
  }, 90_000);

  it('materialize and monitor: start, join their groups, SIGTERM', async () => {
    const port = await freePort();
    const materialize = normalRun(
      ['materialize', '--registry-schema', schema, '--offline-schema', offlineSchema],
      { METRICS_PORT: String(port) },
      `http://127.0.0.1:${port}/health`,
    );
    const monitorPort = await freePort();
    const monitor = normalRun(
      [
        'monitor',
        '--registry-schema',
        schema,
        '--schema',
        monitorSchema,
        '--metrics-port',
        String(monitorPort),
      ],
      {},
      `http://127.0.0.1:${monitorPort}/health`,
    );
    const [materialized, monitored] = await Promise.all([materialize, monitor]);
    expectQuiet(materialized);
    expectQuiet(monitored);
  }, 120_000);
});

describe('an invalid repository', () => {
  it('plan and apply print one line per problem and no stack', async () => {
    const bad = await exampleRepo(prefix);
    const file = `${bad}/driver.ts`;
    await writeFile(
      file,
      (await readFile(file, 'utf8'))
        .replace("ttl: '1d'", "ttl: 'forever'")
        .replace("avg_daily_trips: 'int64'", "avg_daily_trips: 'int65'"),
    );
    try {
      for (const command of ['plan', 'apply']) {
        const result = await runCli([command, '--repo', bad, '--registry-schema', schema]);
        expect(result.code).toBe(1);
        expect(result.stdout).toBe('');
        const lines = result.stderr.trimEnd().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(new RegExp(`^tributary ${command}: TRIB_DEFINITION_INVALID: .*field 'ttl'`));
        expect(lines[1]).toMatch(/^ {2}.*field 'schema\.avg_daily_trips'.*int65/);
      }
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a Kafka outage', () => {
  it('is one warn naming what to check, kafkajs retries at debug, no error line', async () => {
    const out = new PassThrough();
    let logged = '';
    out.on('data', (chunk: Buffer) => {
      logged += chunk.toString();
    });
    const [host, port] = services().KAFKA_BROKERS.split(',')[0]!.split(':');
    const proxy = await new TcpProxy(host!, Number(port)).start();
    proxy.cut();
    const stream = new KafkaEventStream(
      [`127.0.0.1:${proxy.port}`],
      createLogger('test', 'debug', { format: 'json', destination: out }),
    );
    // The broker is back after a few kafkajs retries; the admin client then connects.
    const restore = setTimeout(() => proxy.restore(), 2_500);
    try {
      const admin = await stream.admin();
      await admin.listTopics();
      await admin.close();
    } finally {
      clearTimeout(restore);
      await proxy.close();
    }
    const entries = logged
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: string; msg: string });
    const levels = entries.map((e) => e.level);
    expect(levels.filter((l) => l === 'warn')).toHaveLength(1);
    expect(levels.filter((l) => l === 'debug').length).toBeGreaterThanOrEqual(2);
    expect(levels).not.toContain('error');
    expect(entries.find((e) => e.level === 'warn')?.msg).toMatch(/check that the brokers in KAFKA_BROKERS/);
  }, 60_000);
});
