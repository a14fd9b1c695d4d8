/**
 * The long-running commands (`serve`, `materialize`, `monitor`) as an operator starts them:
 * a start that cannot proceed exits non-zero within seconds with one line naming the cause
 * (a taken port, a service that does not answer, a bad setting, a missing secret), never
 * printing a password; listeners stay on loopback unless told otherwise, and ops endpoints
 * reached from beyond loopback want an API key.
 */
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { uniqueName } from '../../support/env.ts';

const schema = uniqueName('reg_start');
const offlineSchema = uniqueName('off_start');
const monitorSchema = uniqueName('mon_start');
const prefix = uniqueName('start');
let dir: string;
const held: Server[] = [];
const running: CliProcess[] = [];

/**
 * Exits within this: the start-up checks take at most 10 s, a taken port milliseconds. It tells
 * an exit from a hang (which never exits), with room for a slow start on a loaded machine (a
 * monitor start took 15.5 s in a run sharing 2 cores with other suites).
 */
const EXIT_WITHIN_MS = 30_000;

beforeAll(async () => {
  dir = await exampleRepo(prefix);
  // The example monitor with a webhook, whose key the registry knows only by its variable.
  const applied = await runCli(
    ['apply', '--repo', dir, '--registry-schema', schema, '--offline-schema', offlineSchema],
    cliEnv({ TRIBUTARY_WEBHOOK_URL: 'http://127.0.0.1:9/hook' }),
  );
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
}, 60_000);

afterAll(async () => {
  for (const child of running) await stopCli(child);
  for (const server of held) await new Promise((resolve) => server.close(resolve));
  await cleanUpCli({ dir, schemas: [schema, offlineSchema, monitorSchema], topicPrefix: prefix });
});

/** A port some other process listens on. */
async function takenPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  held.push(server);
  return (server.address() as { port: number }).port;
}

const COMMANDS = {
  serve: ['serve', '--registry-schema', schema, '--monitor-schema', monitorSchema],
  materialize: ['materialize', '--registry-schema', schema, '--offline-schema', offlineSchema],
  monitor: ['monitor', '--registry-schema', schema, '--schema', monitorSchema],
} as const;

/** Runs a command that must fail to start; resolves to its exit code, stderr and how long it took. */
async function failedStart(args: readonly string[], env: Record<string, string>) {
  const started = Date.now();
  // Ports nothing holds (PORT must be 1–65535), unless the case says otherwise.
  const ports = { PORT: String(await freePort()), METRICS_PORT: '0' };
  const result = await runCli([...args], cliEnv({ TRIBUTARY_WEBHOOK_SECRET: 'k', ...ports, ...env }));
  return { ...result, ms: Date.now() - started, lines: result.stderr.trim().split('\n') };
}

describe('a start that cannot proceed', () => {
  it.each([
    ['serve', COMMANDS.serve, (port: number) => ({ PORT: String(port) }), 'PORT'],
    ['materialize', COMMANDS.materialize, (port: number) => ({ METRICS_PORT: String(port) }), 'METRICS_PORT'],
    ['monitor', [...COMMANDS.monitor, '--metrics-port'], null, '--metrics-port'],
  ] as const)(
    '%s exits at once when its port is taken, naming the setting',
    async (_name, args, env, setting) => {
      const port = await takenPort();
      const run = await failedStart(env ? args : [...args, String(port)], env ? env(port) : {});
      expect(run.code).toBe(1);
      expect(run.lines).toHaveLength(1);
      expect(run.lines[0]).toContain(`127.0.0.1:${port} is already in use`);
      expect(run.lines[0]).toContain(setting);
      expect(run.ms).toBeLessThan(EXIT_WITHIN_MS);
    },
  );

  it.each([
    ['serve', COMMANDS.serve],
    ['materialize', COMMANDS.materialize],
    ['monitor', COMMANDS.monitor],
  ] as const)('%s exits when Kafka does not answer, naming KAFKA_BROKERS', async (_name, args) => {
    const run = await failedStart(args, { KAFKA_BROKERS: `127.0.0.1:${await freePort()}` });
    expect(run.code).toBe(1);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toMatch(/Kafka at start: .*KAFKA_BROKERS/);
    expect(run.ms).toBeLessThan(EXIT_WITHIN_MS);
  });

  it.each([
    ['serve', COMMANDS.serve],
    ['materialize', COMMANDS.materialize],
  ] as const)('%s exits when Redis does not answer, naming REDIS_URL', async (_name, args) => {
    const run = await failedStart(args, { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(run.code).toBe(1);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toContain('REDIS_URL');
    expect(run.ms).toBeLessThan(EXIT_WITHIN_MS);
  });

  it.each(Object.entries(COMMANDS))(
    '%s exits when Postgres does not answer, without printing the password',
    async (_name, args) => {
      const url = `postgres://tributary:hunter2-secret@127.0.0.1:${await freePort()}/tributary`;
      const run = await failedStart(args, { DATABASE_URL: url });
      expect(run.code).toBe(1);
      expect(run.lines).toHaveLength(1);
      expect(run.lines[0]).toMatch(/Postgres is unreachable .*check DATABASE_URL/);
      expect(run.stderr).not.toContain('hunter2-secret');
      expect(run.ms).toBeLessThan(EXIT_WITHIN_MS);
    },
  );

  it.each(Object.entries(COMMANDS))(
    '%s refuses a malformed DATABASE_URL, showing it without the password',
    async (_name, args) => {
      const run = await failedStart(args, {
        DATABASE_URL: 'postgres://tributary:hunter2-secret@127.0.0.1:notaport/tributary',
      });
      expect(run.code).toBe(1);
      expect(run.lines).toHaveLength(1);
      expect(run.lines[0]).toContain('DATABASE_URL');
      expect(run.stderr).not.toContain('hunter2-secret');
    },
  );

  it.each(Object.entries(COMMANDS))(
    '%s refuses a non-loopback HOST without API keys, before connecting to anything',
    async (_name, args) => {
      const run = await failedStart(args, {
        HOST: '0.0.0.0',
        // Unreachable: the refusal must come first.
        KAFKA_BROKERS: '127.0.0.1:1',
      });
      expect(run.code).toBe(1);
      expect(run.lines).toEqual([
        expect.stringContaining(
          'TRIB_CONFIG_INVALID: HOST=0.0.0.0 is not a loopback address and TRIBUTARY_API_KEYS is empty',
        ),
      ]);
      expect(run.lines[0]).toContain('TRIBUTARY_ALLOW_UNAUTHENTICATED=1');
    },
  );

  it('monitor exits when a webhook names a secret variable that is not set', async () => {
    const run = await failedStart(COMMANDS.monitor, { TRIBUTARY_WEBHOOK_SECRET: '' });
    expect(run.code).toBe(1);
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toContain('TRIB_CONFIG_INVALID: TRIBUTARY_WEBHOOK_SECRET is not set');
    expect(run.ms).toBeLessThan(EXIT_WITHIN_MS);
  });
});

/** An address of this host other than loopback, to reach a listener as another machine would. */
function externalAddress(): string {
  const address = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (!address) throw new Error('this host has no non-loopback IPv4 address to test from');
  return address.address;
}

describe('ops endpoints beyond loopback', () => {
  it.each([
    ['materialize', COMMANDS.materialize, (port: number) => ['--metrics-port', String(port)], 'materializer'],
    ['monitor', COMMANDS.monitor, (port: number) => ['--metrics-port', String(port)], 'monitor'],
  ] as const)(
    '%s binds HOST and wants an API key from beyond loopback',
    async (_name, args, portArgs, metric) => {
      const host = externalAddress();
      const port = await freePort(host);
      const child = startCli(
        [...args, ...portArgs(port)],
        cliEnv({
          HOST: host,
          TRIBUTARY_API_KEYS: 'ops-key',
          TRIBUTARY_WEBHOOK_SECRET: 'k',
          LOG_LEVEL: 'warn',
        }),
      );
      running.push(child);
      const url = `http://${host}:${port}`;
      // Any answer at all: the server is up (401 without a key).
      const first = await until(
        'the ops server',
        async () => (child.process.exitCode === null ? await fetch(`${url}/health`) : undefined),
        30_000,
      );
      expect(first.status).toBe(401);
      expect(((await first.json()) as { error: { code: string } }).error.code).toBe('TRIB_UNAUTHORIZED');
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
        401,
      );
      const metrics = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer ops-key' } });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain(`tributary_${metric}_`);
      // Loopback is not where it listens: HOST is the one bind address.
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
      expect(await stopCli(child)).toBe(0);
    },
    60_000,
  );
});
