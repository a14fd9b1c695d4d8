/**
 * Chaos on the webhook path: `tributary monitor` delivers every closed window to a receiver that
 * first answers 500, then is down (its port refusing), while the monitor is killed with SIGKILL
 * and started again; then the receiver comes back and answers 200. Every delivery id
 * (X-Tributary-Delivery) in the outbox is answered 200 exactly once, none twice, and the windows
 * still hold every prediction once. Prints its figures as a `chaos: {...}` line.
 *
 * The declaration has no secret: delivery ids are what is under test here (signatures are
 * covered by test/integration/monitor/).
 */
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELIVERY_HEADER } from '../../../shared/monitoring/signature.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import {
  assertRunning,
  chaosRepo,
  freePort,
  get,
  killCli,
  prediction,
  report,
  SteadyProducer,
  sleep,
  trainingCsv,
} from '../../support/chaos.ts';
import { type CliProcess, cleanUpCli, cliEnv, runCli, startCli, stopCli, until } from '../../support/cli.ts';
import { services, uniqueName } from '../../support/env.ts';

const WINDOW = 100;
const T0 = Date.parse('2026-11-20T10:00:00Z');
const prefix = uniqueName('chaos_hook');
const registrySchema = uniqueName('chaos_reg');
const monitorSchema = uniqueName('chaos_monitor');

/** A webhook receiver on a fixed loopback port that can fail, go away and come back. */
class Receiver {
  /** Every answer given, in order. */
  readonly answers: { delivery: string; status: number }[] = [];
  status = 500;
  private server: Server | undefined;
  port = 0;

  async listen(): Promise<void> {
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        this.answers.push({ delivery: String(request.headers[DELIVERY_HEADER]), status: this.status });
        response.writeHead(this.status).end(this.status >= 500 ? 'injected failure' : undefined);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.server = server;
  }

  /** Down: open connections dropped, the port refusing. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  count(predicate: (answer: { delivery: string; status: number }) => boolean): number {
    return this.answers.filter(predicate).length;
  }
}

const receiver = new Receiver();
let dir: string | undefined;
let model: string;
let predictionTopic: string;
let monitor: CliProcess | undefined;
let producer: SteadyProducer;
let db: pg.Client;

const env = () => cliEnv({ LOG_LEVEL: 'warn' });

async function startMonitor(): Promise<CliProcess> {
  const opsPort = await freePort();
  const child = startCli(
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
  await until(
    `monitor /health (output: ${child.output()})`,
    async () => {
      const response = await get(`http://127.0.0.1:${opsPort}/health`);
      const body = (await response.json()) as { monitors?: unknown[] };
      return response.ok && (body.monitors?.length ?? 0) > 0 ? true : undefined;
    },
    60_000,
  );
  return child;
}

beforeAll(async () => {
  await receiver.listen();
  db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
  const repo = await chaosRepo({ prefix, windowRows: WINDOW, webhookUrl: receiver.url });
  dir = repo.dir;
  model = repo.model;
  predictionTopic = repo.predictionTopic;
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
  producer = new SteadyProducer(
    new KafkaEventStream(services().KAFKA_BROKERS.split(',')),
    predictionTopic,
    (n) => ({ key: null, value: prediction(model, n, T0) }),
  );
}, 120_000);

afterAll(async () => {
  await producer?.close();
  await Promise.race([stopCli(monitor), sleep(10_000)]);
  await killCli(monitor);
  await receiver.close();
  await cleanUpCli({
    ...(dir ? { dir } : {}),
    schemas: [registrySchema, monitorSchema],
    topicPrefix: prefix,
  });
  await db?.end();
}, 120_000);

interface OutboxRow {
  delivery: string;
  delivered: boolean;
  attempts: number;
}

async function webhookRows(): Promise<OutboxRow[]> {
  const { rows } = await db.query<{ delivery: string; delivered: boolean; attempts: number }>(
    `SELECT delivery_id AS delivery, delivered_at IS NOT NULL AS delivered, attempts
       FROM "${monitorSchema}".outbox WHERE kind = 'webhook' ORDER BY id`,
  );
  return rows;
}

async function windowCount(): Promise<{ windows: number; rows: number }> {
  const { rows } = await db.query<{ windows: number; rows: number }>(
    `SELECT count(*)::int AS windows, coalesce(sum(rows), 0)::int AS rows FROM "${monitorSchema}".drift_windows`,
  );
  return rows[0]!;
}

/** Waits for `count` webhook rows, each tried at least once. */
function tried(count: number, what: string): Promise<OutboxRow[]> {
  return until(
    `${count} webhook deliveries tried ${what} (monitor output: ${monitor?.output().slice(-2_000)})`,
    async () => {
      const rows = await webhookRows();
      return rows.length >= count && rows.every((r) => r.attempts > 0) ? rows : undefined;
    },
    60_000,
  );
}

describe('chaos: webhooks through a failing receiver, an outage and a kill -9', () => {
  it('answers every delivery id 200 exactly once', async () => {
    monitor = await startMonitor();

    // 1. The receiver answers 500: three windows, each delivery refused at least once.
    await producer.sendMore(3 * WINDOW);
    await tried(3, 'against 500s');
    await until(
      'a 500 for every delivery',
      async () => {
        const ids = new Set((await webhookRows()).map((r) => r.delivery));
        const refused = new Set(receiver.answers.filter((a) => a.status === 500).map((a) => a.delivery));
        return [...ids].every((id) => refused.has(id)) ? true : undefined;
      },
      30_000,
    );
    await sleep(2_000);

    // 2. The receiver goes down; two more windows meet a refusing port.
    await receiver.close();
    await producer.sendMore(2 * WINDOW);
    await tried(5, 'while the receiver is down');

    // 3. kill -9 of the monitor mid-stream, and a new one in its place.
    await producer.sendMore(WINDOW / 2);
    monitor.process.kill('SIGKILL');
    await monitor.exited;
    await producer.sendMore(WINDOW + WINDOW / 2);
    monitor = await startMonitor();
    await tried(7, 'after the restart');

    // 4. The receiver is back and answers 200.
    receiver.status = 200;
    await receiver.listen();
    const rows = await until(
      `every delivery delivered (monitor output: ${monitor.output().slice(-2_000)})`,
      async () => {
        const found = await webhookRows();
        return found.length >= 7 && found.every((r) => r.delivered) ? found : undefined;
      },
      120_000,
    );
    // A second send of a delivered row would come now (or after its 15 s lease): give it time.
    await sleep(5_000);
    assertRunning(monitor, 'tributary monitor');

    const ok = new Map<string, number>();
    for (const a of receiver.answers) if (a.status === 200) ok.set(a.delivery, (ok.get(a.delivery) ?? 0) + 1);
    const ids = rows.map((r) => r.delivery);
    const lost = ids.filter((id) => !ok.has(id)).length;
    const duplicated = [...ok.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
    const unknown = [...ok.keys()].filter((id) => !ids.includes(id));
    const counted = await windowCount();
    report({
      scenario: 'monitor/webhook',
      events: producer.produced,
      deliveries: ids.length,
      faults: 3,
      lost,
      duplicated,
      http5xx: receiver.count((a) => a.status >= 500),
      requests: receiver.answers.length,
      windows: counted.windows,
    });
    expect(ids).toHaveLength(7);
    expect(unknown).toEqual([]);
    expect(Object.fromEntries(ok)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    expect(counted).toEqual({ windows: 7, rows: 7 * WINDOW });
  }, 240_000);
});
