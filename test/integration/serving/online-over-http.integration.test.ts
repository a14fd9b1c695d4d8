import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverLayout, driverSpec } from '../../../fixtures/driver-spec.ts';
import { rng } from '../../../fixtures/random.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { services, uniqueName } from '../../support/env.ts';
import { onlineApp } from '../../support/online-app.ts';
import { featureRow as row } from '../../support/rows.ts';

/**
 * Online answers over real sockets. Their buffers are reused once a response has finished
 * (services/serving/byte-writer.ts); a buffer reused while a socket still sends it would show here
 * as one lookup's bytes inside another's answer. `inject` cannot show that: it copies the body.
 */
describe('serving: online answers over HTTP, many at once, read slowly', () => {
  const spec = driverSpec(uniqueName('over_http'));
  const features = [
    'driver_hourly_stats:conv_rate',
    'driver_hourly_stats:acc_rate',
    'driver_hourly_stats:avg_daily_trips',
  ];
  let online: RedisOnlineStore;
  let app: FastifyInstance;
  let port: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 24 });

  beforeAll(async () => {
    online = new RedisOnlineStore({ url: services().REDIS_URL, prefix: uniqueName('over_http') });
    const now = Date.now();
    const random = rng(7);
    await online.write(
      driverLayout(spec),
      Array.from({ length: 2_000 }, (_, d) =>
        row([BigInt(1 + d)], now - 60_000 - d, [
          random(),
          d % 3 === 0 ? null : random() * 1e6,
          BigInt(d * 7),
        ]),
      ),
    );
    app = await onlineApp(spec, online);
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    agent.destroy();
    await app?.close();
    await online?.close();
  });

  /** POSTs over a socket; `slow` pauses before reading, so the server's write is still pending. */
  function post(body: string, slow: boolean): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/get-online-features',
          agent,
          headers: { 'content-type': 'application/json' },
        },
        (response) => {
          const chunks: Buffer[] = [];
          if (slow) {
            response.pause();
            setTimeout(() => response.resume(), 30);
          }
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  it('every answer is its own lookup, byte for byte, whatever else is being sent', async () => {
    const random = rng(11);
    // 120 lookups of 300 to 900 drivers (answers of ~30 to ~90 KB, so their buffers are reused),
    // 24 at a time, every other one read slowly; some drivers do not exist.
    const bodies = Array.from({ length: 120 }, () => {
      const n = 300 + Math.floor(random() * 600);
      const ids = Array.from({ length: n }, () => 1 + Math.floor(random() * 2_100));
      return JSON.stringify({ features, entities: { driver_id: ids } });
    });
    const expected = await Promise.all(
      bodies.map(async (payload) => {
        const res = await app.inject({
          method: 'POST',
          url: '/get-online-features',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode, res.body).toBe(200);
        return res.body;
      }),
    );
    let wrong = 0;
    for (let wave = 0; wave < bodies.length; wave += 24) {
      const answers = await Promise.all(
        bodies.slice(wave, wave + 24).map((body, i) => post(body, (wave + i) % 2 === 0)),
      );
      answers.forEach((answer, i) => {
        expect(answer.status).toBe(200);
        if (answer.text !== expected[wave + i]) wrong++;
      });
    }
    expect(wrong).toBe(0);
    // The answers are what a decoder would read: well-formed, one result column per feature and key.
    expect(JSON.parse(expected[0]!).results).toHaveLength(features.length + 1);
  });

  it('a client that goes away mid-answer leaves the next answers whole', async () => {
    const body = JSON.stringify({
      features,
      entities: { driver_id: Array.from({ length: 900 }, (_, i) => 1 + i) },
    });
    const expected = (
      await app.inject({
        method: 'POST',
        url: '/get-online-features',
        headers: { 'content-type': 'application/json' },
        payload: body,
      })
    ).body;
    await Promise.all(
      Array.from(
        { length: 8 },
        () =>
          new Promise<void>((resolve) => {
            const request = http.request(
              {
                port,
                host: '127.0.0.1',
                method: 'POST',
                path: '/get-online-features',
                headers: { 'content-type': 'application/json' },
              },
              (response) => {
                response.once('data', () => request.destroy());
                response.on('error', () => undefined);
                response.on('close', () => resolve());
              },
            );
            request.on('error', () => resolve());
            request.end(body);
          }),
      ),
    );
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => post(body, i % 2 === 0)));
    for (const answer of after) expect(answer.text).toBe(expected);
  });
});
