import { createServer, type IncomingMessage as HttpRequest, type Server } from 'node:http';
import pg from 'pg';
import {
  type MonitorService,
  type MonitorServiceOptions,
  startMonitorService,
} from '../../../services/monitor/service.ts';
import type { MonitorSpec, RepoSpec } from '../../../shared/definitions/types.ts';
import { createLogger } from '../../../shared/logger.ts';
import { PostgresProfileStore } from '../../../shared/profiles/postgres.ts';
import type { ReferenceProfile } from '../../../shared/profiles/types.ts';
import { StaticDefinitions } from '../../../shared/registry/live.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { StreamProducer } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';
import { spec as baseSpec, normal, referenceProfile, rng } from '../../unit/monitor/helpers.ts';

export const logger = createLogger('test-monitor', process.env['TEST_LOG_LEVEL'] ?? 'silent');
export const T0 = Date.parse('2026-11-20T10:00:00Z');

export function repoOf(monitor: MonitorSpec): RepoSpec {
  return {
    entities: [],
    kafkaSources: [],
    pushSources: [],
    featureViews: [],
    featureServices: [],
    monitors: [monitor],
  };
}

/** Prediction events of x ~ N(shift, 1), color (a shift moves mass to blue), prediction ~ U(0,1). */
export function predictionEvents(options: {
  model: string;
  count: number;
  seed: number;
  shift?: number;
  from?: number;
  version?: string;
}): string[] {
  const random = rng(options.seed);
  const gauss = normal(random);
  const shift = options.shift ?? 0;
  return Array.from({ length: options.count }, (_, i) => {
    const u = random();
    const color = shift > 0 ? (u < 0.2 ? 'red' : 'blue') : u < 0.5 ? 'red' : u < 0.8 ? 'green' : 'blue';
    return JSON.stringify({
      prediction_id: `${options.seed}-${i}`,
      model: options.model,
      model_version: options.version ?? '1',
      event_timestamp: T0 + (options.from ?? 0) + i,
      features: { x: gauss() + shift, color },
      prediction: Math.min(1, random() + shift / 4),
    });
  });
}

/** Everything one test needs: its own model, topic, schema and group. */
export class MonitorHarness {
  readonly model = uniqueName('model');
  readonly topic = uniqueName('predictions');
  readonly schema = uniqueName('monitor');
  readonly group = uniqueName('monitor_group');
  readonly stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
  readonly definitions: StaticDefinitions;
  readonly monitor: MonitorSpec;
  service: MonitorService | null = null;
  private producer: StreamProducer | null = null;
  readonly pool = new pg.Pool({ connectionString: services().DATABASE_URL, max: 2 });

  constructor(overrides: Partial<MonitorSpec> = {}) {
    this.monitor = baseSpec({
      name: this.model,
      model: this.model,
      predictionTopic: this.topic,
      ...overrides,
    });
    this.definitions = new StaticDefinitions(repoOf(this.monitor));
  }

  /** Stores the reference profile (x ~ N(0,1), three colours, prediction ~ U(0,1)) under this model. */
  async storeProfile(version = '1', profile: ReferenceProfile = referenceProfile()): Promise<void> {
    const store = new PostgresProfileStore(services().DATABASE_URL, this.schema);
    await store.ensureSchema();
    await store.put({ ...profile, model: this.model, modelVersion: version });
    await store.close();
  }

  async start(options: Partial<MonitorServiceOptions> = {}): Promise<MonitorService> {
    this.service = await startMonitorService({
      definitions: this.definitions,
      stream: this.stream,
      databaseUrl: services().DATABASE_URL,
      logger,
      schema: this.schema,
      opsPort: 0,
      groupIdOf: () => this.group,
      retry: { baseMs: 50, maxMs: 400, maxAttempts: 50 },
      dispatcher: { idleMs: 100 },
      ...options,
    });
    return this.service;
  }

  async stop(): Promise<void> {
    await this.service?.close();
    this.service = null;
  }

  async send(values: string[], batch = 1_000): Promise<void> {
    this.producer ??= await this.stream.producer();
    for (let i = 0; i < values.length; i += batch) {
      await this.producer.send(
        this.topic,
        values.slice(i, i + batch).map((value) => ({ key: null, value })),
      );
    }
  }

  async query<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(sql.replaceAll('$schema', `"${this.schema}"`), values)).rows;
  }

  async windowCount(): Promise<number> {
    const rows = await this.query<{ n: string }>('SELECT count(*) AS n FROM $schema.drift_windows');
    return Number(rows[0]!.n);
  }

  async cleanup(): Promise<void> {
    await this.stop();
    await this.producer?.close();
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`).catch(() => undefined);
    await this.pool.end();
    const admin = await this.stream.admin();
    await admin.deleteTopics([this.topic, `${this.topic}.dlq`]).catch(() => undefined);
    await admin.close();
  }
}

export interface ReceivedRequest {
  delivery: string;
  signature: string | undefined;
  event: string | undefined;
  body: string;
  status: number;
}

/** A webhook receiver on 127.0.0.1 that answers 500 to the first `failures` requests, then 204. */
export async function webhookReceiver(failures: number): Promise<{
  url: string;
  requests: ReceivedRequest[];
  /** Fails the next `n` requests (from now on). */
  failNext(n: number): void;
  close(): Promise<void>;
  server: Server;
}> {
  const requests: ReceivedRequest[] = [];
  let remaining = failures;
  const server = createServer((request: HttpRequest, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const status = remaining-- > 0 ? 500 : 204;
      requests.push({
        delivery: String(request.headers['x-tributary-delivery']),
        signature: request.headers['x-tributary-signature'] as string | undefined,
        event: request.headers['x-tributary-event'] as string | undefined,
        body: Buffer.concat(chunks).toString('utf8'),
        status,
      });
      response.writeHead(status).end(status === 500 ? 'injected failure' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    failNext: (n: number) => {
      remaining = n;
    },
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
