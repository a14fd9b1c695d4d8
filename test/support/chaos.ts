/**
 * Support for the chaos suite (test/integration/chaos/): a feature repository of its own, a
 * broker of its own that can be stopped and started again, loopback proxies in front of the
 * shared Postgres and Redis, a steady producer, HTTP pollers that count status codes, and the
 * one-line figures each scenario prints.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type KafkaProcess, killAndWait, launchKafka, startKafka } from '../../scripts/services.ts';
import type { KafkaEventStream } from '../../shared/stream/kafka.ts';
import type { OutgoingMessage, StreamProducer } from '../../shared/stream/port.ts';
import { type CliProcess, ROOT } from './cli.ts';
import { TcpProxy } from './tcp-proxy.ts';

/** How long each dependency stays away: CHAOS_OUTAGE_MS (default 20 s) lets a developer shorten it. */
export function outageMs(): number {
  const value = Number(process.env['CHAOS_OUTAGE_MS'] ?? 20_000);
  return Number.isFinite(value) && value >= 0 ? value : 20_000;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The figures of one scenario, for the hardening issue's closing note. */
export interface ChaosFigures {
  scenario: string;
  events: number;
  faults: number;
  lost: number;
  duplicated: number;
  http5xx: number;
  [more: string]: unknown;
}

/** Prints one `chaos: {json}` line per scenario (grep the test output for `chaos:`). */
export function report(figures: ChaosFigures): void {
  console.log(`chaos: ${JSON.stringify(figures)}`);
}

/** A port nobody listens on right now at `host` (for `serve`'s PORT, which refuses 0). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A loopback proxy in front of the service at `url`, and `url` rewritten to go through it. */
export async function proxyFor(url: string): Promise<{ proxy: TcpProxy; url: string }> {
  const target = TcpProxy.forUrl(url);
  const proxy = await new TcpProxy(target.host, target.port).start();
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  return { proxy, url: proxied.toString() };
}

/**
 * A Kafka broker of the test's own, on a port of its own. A TCP proxy cannot take a broker away
 * (clients reconnect to the address it advertises), so the broker itself is stopped and started
 * again on the same port and data. Never the shared broker: other test files use it.
 */
export class OwnBroker {
  private readonly runDir = mkdtempSync(path.join(os.tmpdir(), 'tributary-chaos-broker-'));
  private process: KafkaProcess | undefined;

  async start(): Promise<this> {
    mkdirSync(this.runDir, { recursive: true });
    this.process = await startKafka(this.runDir);
    return this;
  }

  get brokers(): string {
    return `127.0.0.1:${this.process!.port}`;
  }

  /** A clean stop (SIGTERM; SIGKILL after 30 s). */
  async stop(): Promise<void> {
    if (this.process) await killAndWait(this.process.pid, 30_000);
  }

  /** The same broker again: same port, same data. */
  async restart(): Promise<void> {
    this.process = await launchKafka(this.runDir, this.process!.port);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.runDir, { recursive: true, force: true });
  }
}

export interface ChaosRepoOptions {
  /** Topic names start with it. */
  prefix: string;
  /** Rows per monitor window. */
  windowRows?: number;
  /** The monitor's webhook, if any. */
  webhookUrl?: string;
}

/** Names in the chaos repository. */
export const CHAOS = {
  view: 'chaos_stats',
  source: 'chaos_source',
  joinKey: 'driver_id',
  monitor: 'chaos_model',
} as const;

/**
 * A feature repository in a temp folder (it imports `tributary` from this checkout): drivers,
 * a Kafka source `<prefix>.events` feeding the view `chaos_stats` (conv_rate, trips; online
 * and offline, no ttl, so old event times still serve), and a monitor of that view on
 * `<prefix>.predictions` whose model is `<prefix>_model`. Returns the folder and the names.
 */
export async function chaosRepo(options: ChaosRepoOptions): Promise<{
  dir: string;
  sourceTopic: string;
  predictionTopic: string;
  model: string;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trib-chaos-repo-'));
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
  await mkdir(path.join(dir, 'node_modules'));
  await symlink(ROOT, path.join(dir, 'node_modules', 'tributary'));
  const sourceTopic = `${options.prefix}.events`;
  const predictionTopic = `${options.prefix}.predictions`;
  const model = `${options.prefix}_model`;
  const webhooks = options.webhookUrl ? `[{ url: ${JSON.stringify(options.webhookUrl)} }]` : '[]';
  await writeFile(
    path.join(dir, 'chaos.ts'),
    `import { entity, featureView, kafkaSource, monitor } from 'tributary';

export const driver = entity({ name: 'driver', joinKey: '${CHAOS.joinKey}', valueType: 'int64' });

export const source = kafkaSource({
  name: '${CHAOS.source}',
  topic: ${JSON.stringify(sourceTopic)},
  timestampField: 'event_timestamp',
});

export const stats = featureView({
  name: '${CHAOS.view}',
  entities: [driver],
  source,
  schema: { conv_rate: 'float64', trips: 'int64' },
  online: true,
  offline: true,
});

export const model = monitor({
  name: '${CHAOS.monitor}',
  model: ${JSON.stringify(model)},
  predictionTopic: ${JSON.stringify(predictionTopic)},
  features: [stats],
  window: { rows: ${options.windowRows ?? 100} },
  retrain: null,
  webhooks: ${webhooks},
});
`,
  );
  return { dir, sourceTopic, predictionTopic, model };
}

/** A reference profile's training data for the chaos monitor: conv_rate, trips, prediction. */
export async function trainingCsv(dir: string, rows = 2_000): Promise<string> {
  const file = path.join(dir, 'training.csv');
  const lines = ['conv_rate,trips,prediction'];
  for (let i = 0; i < rows; i++) lines.push(`${(i % 100) / 100},${i % 37},${((i * 7) % 100) / 100}`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** One prediction event of the chaos monitor's model, number `n`. */
export function prediction(model: string, n: number, t0: number): string {
  return JSON.stringify({
    prediction_id: `p-${n}`,
    model,
    model_version: '1',
    event_timestamp: t0 + n,
    features: { conv_rate: (n % 100) / 100, trips: n % 37 },
    prediction: ((n * 7) % 100) / 100,
  });
}

/**
 * Produces `batch` messages every `everyMs` (message `n` made by `make(n)`) until stopped.
 * Each batch is sent once: the broker stays up while it runs (pause it before stopping the
 * broker), so a count of messages sent is exact and no retry of the test's own can duplicate.
 */
export class SteadyProducer {
  produced = 0;
  private producer: StreamProducer | undefined;
  private loop: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly stream: KafkaEventStream,
    private readonly topic: string,
    private readonly make: (n: number) => OutgoingMessage,
    private readonly batch = 50,
    private readonly everyMs = 200,
  ) {}

  /** Starts (again, after a pause) producing. */
  async start(): Promise<void> {
    this.producer ??= await this.stream.producer();
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      const messages = Array.from({ length: this.batch }, (_, i) => this.make(this.produced + i));
      await this.producer!.send(this.topic, messages);
      this.produced += messages.length;
      await sleep(Math.max(0, this.everyMs - (Date.now() - started)));
    }
  }

  /** Stops after the batch in flight; resolves to the count so far. Throws if a send failed. */
  async pause(): Promise<number> {
    this.running = false;
    await this.loop;
    return this.produced;
  }

  /** Sends `count` more at once (rounding a stream to a multiple of a window, say); only while paused. */
  async sendMore(count: number): Promise<void> {
    if (this.running) throw new Error('SteadyProducer.sendMore while running: pause first');
    this.producer ??= await this.stream.producer();
    const messages = Array.from({ length: count }, (_, i) => this.make(this.produced + i));
    if (messages.length > 0) await this.producer.send(this.topic, messages);
    this.produced += messages.length;
  }

  /** Drops the connection (before the broker goes away); the next start connects anew. */
  async disconnect(): Promise<void> {
    await this.producer?.close().catch(() => undefined);
    this.producer = undefined;
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop?.catch(() => undefined);
    await this.producer?.close().catch(() => undefined);
  }
}

/** Status codes of an HTTP endpoint polled every `everyMs` until stopped. */
export class StatusPoller {
  readonly statuses = new Map<number, number>();
  /** Requests that got no answer at all (connection refused, timeout): the process was unreachable. */
  unanswered = 0;
  /** The slowest answer, ms (an unanswered request counts with its timeout). */
  slowestMs = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly request: () => Promise<Response>,
    everyMs = 250,
  ) {
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now();
        try {
          const response = await this.request();
          await response.arrayBuffer().catch(() => undefined);
          this.statuses.set(response.status, (this.statuses.get(response.status) ?? 0) + 1);
        } catch {
          this.unanswered++;
        }
        this.slowestMs = Math.max(this.slowestMs, Date.now() - started);
        await sleep(everyMs);
      }
    })();
  }

  count(predicate: (status: number) => boolean): number {
    let n = 0;
    for (const [status, count] of this.statuses) if (predicate(status)) n += count;
    return n;
  }

  get http5xx(): number {
    return this.count((s) => s >= 500);
  }

  async stop(): Promise<this> {
    this.running = false;
    await this.loop;
    return this;
  }

  /** Answers by status, and `none` for requests that got no answer. */
  summary(): Record<string, number> {
    const out = Object.fromEntries([...this.statuses].map(([s, n]) => [String(s), n]));
    return { ...out, ...(this.unanswered > 0 ? { none: this.unanswered } : {}), slowestMs: this.slowestMs };
  }
}

/** GET with a timeout, for pollers: a hung answer counts as none. */
export function get(url: string, timeoutMs = 2_000): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
}

/** POST JSON with a timeout. */
export function postJson(url: string, body: unknown, timeoutMs = 2_000): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/** Kills a CLI process outright (SIGKILL) unless it has exited; for cleanup after a failure. */
export async function killCli(child: CliProcess | undefined): Promise<void> {
  if (!child || child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGKILL');
  await child.exited;
}

/** Fails with the process's output when it has exited: a chaos scenario must not end a process. */
export function assertRunning(child: CliProcess, name: string): void {
  if (child.process.exitCode !== null || child.process.signalCode !== null) {
    throw new Error(
      `${name} exited (code ${child.process.exitCode}, signal ${child.process.signalCode}); its output:\n${child.output().slice(-4_000)}`,
    );
  }
}
