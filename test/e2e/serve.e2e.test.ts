/**
 * End to end through the real CLI: `tributary apply` records a repository, `tributary serve` and
 * `tributary materialize` run as processes of their own, rows pushed over HTTP reach Redis and
 * Postgres through Kafka, and come back from the online lookup and as an Arrow training set.
 * Both processes stop cleanly on SIGTERM.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliProcess,
  cleanUpCli,
  cliEnv,
  exampleRepo,
  runCli,
  startCli,
  stopCli,
  until,
} from '../support/cli.ts';
import { services, uniqueName } from '../support/env.ts';

const ARROW = 'application/vnd.apache.arrow.stream';
const registrySchema = uniqueName('reg_e2e');
const offlineSchema = uniqueName('off_e2e');
const monitorSchema = uniqueName('mon_e2e');
const prefix = uniqueName('e2e');
const group = uniqueName('e2e_group');
const apiKey = 'e2e-key';
let dir: string;

const env = (extra: Record<string, string> = {}) => cliEnv({ TRIBUTARY_APPLIED_BY: 'e2e@test', ...extra });

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

let serve: CliProcess | undefined;
let materialize: CliProcess | undefined;

beforeAll(async () => {
  // The example repository, on this test's own topics.
  dir = await exampleRepo(prefix);
});

afterAll(async () => {
  await stopCli(serve);
  await stopCli(materialize);
  await cleanUpCli({ dir, schemas: [registrySchema, offlineSchema, monitorSchema], topicPrefix: prefix });
  const redis = new Redis(services().REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('tributary serve + materialize, end to end', () => {
  it('pushes rows over HTTP and reads them back online and as an Arrow training set', async () => {
    const schemas = ['--registry-schema', registrySchema, '--offline-schema', offlineSchema];
    const applied = await runCli(['apply', '--repo', dir, ...schemas], env());
    expect(applied.code, applied.stderr).toBe(0);

    const port = await freePort();
    serve = startCli(
      ['serve', ...schemas, '--online-prefix', prefix, '--monitor-schema', monitorSchema],
      env({ PORT: String(port), HOST: '127.0.0.1', TRIBUTARY_API_KEYS: apiKey, LOG_LEVEL: 'warn' }),
    );
    materialize = startCli(
      ['materialize', ...schemas, '--online-prefix', prefix, '--group', group, '--metrics-port', '0'],
      env({ LOG_LEVEL: 'warn' }),
    );
    const base = `http://127.0.0.1:${port}`;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
    await until(
      `the server on ${base} (output: ${serve.output()})`,
      async () => ((await fetch(`${base}/health`)).ok ? true : undefined),
      30_000,
    );

    // Whole seconds, so the event timestamps come back exactly as ISO strings.
    const at = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const drivers = [7001, 7002, 7003];
    const pushed = await fetch(`${base}/push`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        push_source_name: 'driver_stats_push',
        df: {
          driver_id: drivers,
          event_timestamp: drivers.map(() => new Date(at).toISOString()),
          conv_rate: [0.25, 0.5, 0.75],
          acc_rate: [0.9, 0.8, 0.7],
          avg_daily_trips: [10, 20, 30],
        },
        to: 'online_and_offline',
      }),
    });
    expect(pushed.status, await pushed.clone().text()).toBe(200);
    expect(await pushed.json()).toMatchObject({ status: 'ok', rows: 3, to: 'online_and_offline' });

    const lookup = JSON.stringify({
      features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:avg_daily_trips'],
      entities: { driver_id: [...drivers, 9999] },
    });
    type Online = {
      metadata: { feature_names: string[] };
      results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[];
    };
    const online = await until(
      `pushed rows online (materialize output: ${materialize.output()})`,
      async () => {
        const res = await fetch(`${base}/get-online-features`, { method: 'POST', headers, body: lookup });
        const body = (await res.json()) as Online;
        return body.results[1]?.statuses.slice(0, 3).every((s) => s === 'PRESENT') ? body : undefined;
      },
      60_000,
    );
    expect(online.metadata.feature_names).toEqual(['driver_id', 'conv_rate', 'avg_daily_trips']);
    expect(online.results[0]?.values).toEqual([...drivers, 9999]);
    expect(online.results[1]).toEqual({
      values: [0.25, 0.5, 0.75, null],
      statuses: ['PRESENT', 'PRESENT', 'PRESENT', 'NOT_FOUND'],
      event_timestamps: [
        ...drivers.map(() => new Date(at).toISOString().replace('.000Z', 'Z')),
        '1970-01-01T00:00:00Z',
      ],
    });
    expect(online.results[2]?.values).toEqual([10, 20, 30, null]);

    // Both stores are written at once (the offset is committed after both), so the offline rows
    // may land a moment after the online ones: wait for them too.
    const fetched = await until(
      `pushed rows offline (materialize output: ${materialize.output()})`,
      async () => {
        const historical = await fetch(`${base}/get-historical-features`, {
          method: 'POST',
          headers: { ...headers, accept: ARROW },
          body: JSON.stringify({
            entities: {
              driver_id: [7002, 7001, 7003, 7001],
              event_timestamp: [at + 1_000, at + 1_000, at - 1_000, at],
              label: [1, 0, 1, 1],
            },
            features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:acc_rate'],
            full_feature_names: true,
          }),
        });
        // Anything but a 200 is returned at once, for the assertions below to report.
        if (historical.status !== 200)
          return {
            status: historical.status,
            type: historical.headers.get('content-type'),
            table: undefined,
          };
        const answer = tableFromIPC(new Uint8Array(await historical.arrayBuffer()));
        if (answer.getChild('driver_hourly_stats__conv_rate')?.get(0) === null) return undefined;
        return { status: historical.status, type: historical.headers.get('content-type'), table: answer };
      },
      30_000,
    );
    expect(fetched.status).toBe(200);
    expect(fetched.type).toContain(ARROW);
    const table = fetched.table!;
    expect(table.schema.fields.map((f) => f.name)).toEqual([
      'driver_id',
      'event_timestamp',
      'label',
      'driver_hourly_stats__conv_rate',
      'driver_hourly_stats__acc_rate',
    ]);
    expect(table.numRows).toBe(4);
    const column = (name: string) => table.getChild(name)!.toArray() as ArrayLike<unknown>;
    expect(Array.from(column('driver_id'), Number)).toEqual([7002, 7001, 7003, 7001]);
    // 7003's row is before its event: nothing yet. 7001 at exactly its event time: included.
    expect(Array.from(table.getChild('driver_hourly_stats__conv_rate')!)).toEqual([0.5, 0.25, null, 0.25]);
    expect(Array.from(table.getChild('driver_hourly_stats__acc_rate')!)).toEqual([0.8, 0.9, null, 0.9]);

    // The same training set from the CLI, entity rows from a CSV, written as an .arrow file.
    const entitiesCsv = path.join(dir, 'entities.csv');
    const output = path.join(dir, 'training.arrow');
    await writeFile(
      entitiesCsv,
      [
        'driver_id,event_timestamp,label',
        `7002,${at + 1_000},1`,
        `7001,${at + 1_000},0`,
        `7003,${at - 1_000},1`,
        `7001,${at},1`,
        '',
      ].join('\n'),
    );
    const cli = await runCli(
      [
        'get-historical-features',
        ...schemas,
        '--entities',
        entitiesCsv,
        '--features',
        'driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate',
        '--output',
        output,
      ],
      env(),
    );
    expect(cli.code, cli.stderr).toBe(0);
    const fromFile = tableFromIPC(await readFile(output));
    expect(fromFile.numRows).toBe(4);
    expect(Array.from(fromFile.getChild('conv_rate')!)).toEqual([0.5, 0.25, null, 0.25]);
    expect(Array.from(fromFile.getChild('acc_rate')!)).toEqual([0.8, 0.9, null, 0.9]);

    // The drift monitor's query API is served too; no monitor ran against this schema yet.
    const monitors = await fetch(`${base}/monitors`, { headers });
    expect(monitors.status, await monitors.clone().text()).toBe(200);
    expect(await monitors.json()).toEqual({ monitors: [] });

    const [serveCode, materializeCode] = await Promise.all([stopCli(serve), stopCli(materialize)]);
    expect(serveCode, serve.output()).toBe(0);
    expect(materializeCode, materialize.output()).toBe(0);
  }, 180_000);
});
