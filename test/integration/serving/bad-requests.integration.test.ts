/**
 * Every malformed request is a coded 4xx in the `{"error":{"code","message"}}` shape, on a
 * listening server (431 and bad URLs are answered by Node's HTTP parser, before any route).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../support/env.ts';
import { type Harness, harness } from './support.ts';

/** Sends raw bytes and returns the status line's code and the body. */
function raw(port: number, request: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.end(request);
  });
}

describe('serving: bad requests are coded 4xx', () => {
  let h: Harness;
  let base: string;
  let port: number;

  beforeAll(async () => {
    h = await harness(uniqueName('serving_bad'));
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as { port: number }).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await h.close();
  });

  const cases: {
    name: string;
    path: string;
    init: RequestInit;
    status: number;
    code: string;
    says?: string;
  }[] = [
    {
      name: 'historical, no body',
      path: '/get-historical-features',
      init: { method: 'POST' },
      status: 400,
      code: 'TRIB_BAD_REQUEST',
    },
    {
      name: 'historical, a body without content type',
      path: '/get-historical-features',
      init: { method: 'POST', body: new Uint8Array([1, 2, 3]) },
      status: 415,
      code: 'TRIB_UNSUPPORTED_MEDIA_TYPE',
      says: 'application/json',
    },
    {
      name: 'historical, an unknown content type',
      path: '/get-historical-features',
      init: { method: 'POST', body: 'x', headers: { 'content-type': 'text/csv' } },
      status: 415,
      code: 'TRIB_UNSUPPORTED_MEDIA_TYPE',
      says: 'application/vnd.apache.arrow.stream',
    },
    {
      name: 'online, no body',
      path: '/get-online-features',
      init: { method: 'POST' },
      status: 400,
      code: 'TRIB_BAD_REQUEST',
    },
    {
      name: 'online, empty JSON body',
      path: '/get-online-features',
      init: { method: 'POST', body: '', headers: { 'content-type': 'application/json' } },
      status: 400,
      code: 'TRIB_BAD_REQUEST',
    },
    {
      name: 'online, broken JSON',
      path: '/get-online-features',
      init: { method: 'POST', body: '{"features":', headers: { 'content-type': 'application/json' } },
      status: 400,
      code: 'TRIB_BAD_REQUEST',
      says: 'JSON',
    },
    {
      name: 'push, __proto__ key',
      path: '/push',
      init: {
        method: 'POST',
        body: '{"push_source_name":"driver_stats_push","df":{"__proto__":[1]}}',
        headers: { 'content-type': 'application/json' },
      },
      status: 400,
      code: 'TRIB_BAD_REQUEST',
      says: '__proto__',
    },
    {
      name: 'online, constructor.prototype key',
      path: '/get-online-features',
      init: {
        method: 'POST',
        body: '{"features":["driver_hourly_stats:conv_rate"],"entities":{"constructor":{"prototype":{"x":1}}}}',
        headers: { 'content-type': 'application/json' },
      },
      status: 400,
      code: 'TRIB_BAD_REQUEST',
    },
    {
      name: 'push, extra property',
      path: '/push',
      init: {
        method: 'POST',
        body: '{"push_source_name":"driver_stats_push","df":{},"colour":1}',
        headers: { 'content-type': 'application/json' },
      },
      status: 400,
      code: 'TRIB_BAD_REQUEST',
      says: 'colour',
    },
    { name: 'unknown route', path: '/nope', init: { method: 'GET' }, status: 404, code: 'TRIB_NOT_FOUND' },
    {
      name: 'passthrough column named like a feature',
      path: '/get-historical-features',
      init: {
        method: 'POST',
        body: JSON.stringify({
          features: ['driver_hourly_stats:conv_rate'],
          entities: { driver_id: [1], event_timestamp: ['2026-01-01T00:00:00Z'], conv_rate: [0.5] },
        }),
        headers: { 'content-type': 'application/json' },
      },
      status: 400,
      code: 'TRIB_BAD_REQUEST',
      says: 'conv_rate',
    },
  ];

  it.each(cases)('$name → $status $code', async (c) => {
    const response = await fetch(`${base}${c.path}`, c.init);
    const text = await response.text();
    expect(response.status, text).toBe(c.status);
    const body = JSON.parse(text);
    expect(body.error.code, text).toBe(c.code);
    expect(typeof body.error.message).toBe('string');
    if (c.says) expect(body.error.message).toContain(c.says);
  });

  it('answers headers too large with 431 in the error shape', async () => {
    const big = 'x'.repeat(20_000);
    const r = await raw(
      port,
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\nConnection: close\r\n\r\n`,
    );
    expect(r.status).toBe(431);
    expect(JSON.parse(r.body).error.code).toBe('TRIB_HEADERS_TOO_LARGE');
  });

  it('answers a malformed URL with 400 in the error shape', async () => {
    const r = await raw(port, 'GET /feature-views/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(r.status, r.body).toBe(400);
    expect(JSON.parse(r.body).error.code).toBe('TRIB_BAD_REQUEST');
    const bad = await raw(port, 'GET /% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(bad.status, bad.body).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe('TRIB_BAD_REQUEST');
  });
});
