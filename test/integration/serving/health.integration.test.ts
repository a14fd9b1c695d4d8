/**
 * /health checks every dependency serving uses and answers 503 naming the one that is down:
 * real Postgres, Redis and Kafka, and the same clients pointed at a port where nothing listens.
 */
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { HEALTH_CHECK_TIMEOUT_MS } from '../../../shared/observability/health.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import { services, uniqueName } from '../../support/env.ts';
import { type Harness, harness } from './support.ts';

/** A loopback port with nothing listening: a service that is down. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('serving /health', () => {
  const open: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const item of open) await item.close().catch(() => undefined);
  });

  async function app(redisUrl: string, brokers: string): Promise<Harness> {
    const online = new RedisOnlineStore({
      url: redisUrl,
      prefix: uniqueName('health'),
      connectTimeoutMs: 500,
    });
    const stream = new KafkaEventStream(brokers.split(','));
    const postgres = { check: async (): Promise<unknown> => undefined };
    const h = await harness(uniqueName('serving_health'), {
      online,
      health: { postgres: () => postgres.check(), redis: () => online.ping(), kafka: () => stream.ping() },
    });
    postgres.check = () => h.pool.query('SELECT 1');
    open.push(h, online, stream);
    return h;
  }

  it('is 200 with every dependency up', async () => {
    const h = await app(services().REDIS_URL, services().KAFKA_BROKERS);
    const r = await h.app.inject({ method: 'GET', url: '/health' });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json().dependencies).toEqual({ definitions: 'ok', postgres: 'ok', redis: 'ok', kafka: 'ok' });
  });

  it('is 503 naming Redis and Kafka when they are down, within the check timeout', async () => {
    const h = await app(`redis://127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`);
    const started = Date.now();
    const r = await h.app.inject({ method: 'GET', url: '/health' });
    expect(Date.now() - started).toBeLessThan(HEALTH_CHECK_TIMEOUT_MS + 1_000);
    expect(r.statusCode, r.body).toBe(503);
    expect(r.json().down.sort()).toEqual(['kafka', 'redis']);
    expect(r.json().dependencies.postgres).toBe('ok');
  });
});
