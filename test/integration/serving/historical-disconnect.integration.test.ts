import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../support/env.ts';
import { DAY, type Harness, harness, row } from './support.ts';

const T = Date.UTC(2024, 4, 10, 12, 0, 0);
const ARROW = 'application/vnd.apache.arrow.stream';

/** Connections the serving app holds on Postgres besides this test's own: idle or not. */
async function busyBackends(h: Harness): Promise<number> {
  const { rows } = await h.pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
        AND query ILIKE '%trib_entities%'`,
  );
  return rows[0].n;
}

describe('POST /get-historical-features when the client goes away mid-stream', () => {
  let h: Harness;
  let url: URL;

  beforeAll(async () => {
    h = await harness(uniqueName('serving_gone'));
    await h.write(
      'driver_hourly_stats',
      Array.from({ length: 1_000 }, (_, i) => row([BigInt(i)], T - (i % 50) * 60_000, [i / 10, BigInt(i)])),
    );
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    url = new URL(`http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}/get-historical-features`);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('leaves no query running, returns every connection to the pool and keeps answering', async () => {
    const n = 400_000;
    const body = JSON.stringify({
      entities: {
        driver_id: Array.from({ length: n }, (_, i) => i % 1_000),
        event_timestamp: Array.from({ length: n }, () => T + DAY / 2),
      },
      features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:avg_daily_trips'],
    });
    // Read the first piece of the Arrow stream, then hang up.
    const received = await new Promise<number>((resolve, reject) => {
      const request = http.request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: ARROW },
      });
      request.on('response', (response) => {
        if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
        response.once('data', (chunk: Buffer) => {
          request.destroy();
          resolve(chunk.length);
        });
      });
      request.on('error', (error) => {
        if (!request.destroyed) reject(error);
      });
      request.end(body);
    });
    expect(received).toBeGreaterThan(0);

    // Whichever notices first (the abort signal or the destroyed response stream) ends the query.
    await expect.poll(() => busyBackends(h), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => h.pool.totalCount - h.pool.idleCount, { timeout: 10_000 }).toBe(0);

    const after = await h.app.inject({
      method: 'POST',
      url: '/get-historical-features',
      payload: {
        entities: { driver_id: [7], event_timestamp: [T + DAY / 2] },
        features: ['driver_hourly_stats:conv_rate'],
      },
    });
    expect(after.statusCode).toBe(200);
    expect(after.json().columns.conv_rate).toEqual([0.7]);
  });
});
