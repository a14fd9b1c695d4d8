/**
 * Every malformed request is a coded 4xx in the `{"error":{"code","message"}}` shape, on a
 * listening server (431 and bad URLs are answered by Node's HTTP parser, before any route), and
 * the message names what is wrong. Failures of a store reach the client without its driver's
 * internals.
 */
import { connect } from 'node:net';
import {
  Field,
  Float64,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMillisecond,
  tableToIPC,
  vectorFromArray,
} from 'apache-arrow';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverLayout } from '../../../fixtures/driver-spec.ts';
import { openMonitorQueries } from '../../../shared/monitoring/queries.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { services, uniqueName } from '../../support/env.ts';
import { closedPort } from '../stores/closed-port.ts';
import { type Harness, harness } from './support.ts';

const ARROW = 'application/vnd.apache.arrow.stream';
const JSON_TYPE = { 'content-type': 'application/json' };

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

/** Entity rows as an Arrow IPC stream: one driver at one time, plus `extra` columns. */
function arrowRows(extra: Record<string, ReturnType<typeof vectorFromArray>> = {}): Uint8Array {
  return tableToIPC(
    new Table({
      driver_id: vectorFromArray([1n], new Int64()),
      event_timestamp: vectorFromArray([1_715_342_400_000], new TimestampMillisecond()),
      ...extra,
    } as never),
    'stream',
  );
}

/** An Arrow stream whose schema names `driver_id` twice (a JSON object cannot). */
function arrowWithRepeatedColumn(): Uint8Array {
  const ids = vectorFromArray([1n], new Int64());
  const times = vectorFromArray([1_715_342_400_000], new TimestampMillisecond());
  const schema = new Schema([
    new Field('driver_id', ids.type),
    new Field('event_timestamp', times.type),
    new Field('driver_id', ids.type),
  ]);
  const data = makeData({
    type: new Struct(schema.fields),
    length: 1,
    nullCount: 0,
    children: [ids.data[0]!, times.data[0]!, ids.data[0]!],
  });
  return tableToIPC(new Table([new RecordBatch(schema, data)]), 'stream');
}

interface Case {
  name: string;
  path: string;
  init: RequestInit;
  status: number;
  code: string;
  /** Texts the message must contain. */
  says?: string[];
}

const ONLINE = '/get-online-features';
const HISTORICAL = '/get-historical-features';
const HISTORICAL_ARROW = `${HISTORICAL}?features=driver_hourly_stats:conv_rate`;
const post = (body: RequestInit['body'], headers: Record<string, string> = JSON_TYPE): RequestInit => ({
  method: 'POST',
  body,
  headers,
});
const lookup = (entities: unknown) =>
  JSON.stringify({ features: ['driver_hourly_stats:conv_rate'], entities });

const cases: Case[] = [
  // no body, empty bodies, content types
  {
    name: 'historical, no body',
    path: HISTORICAL,
    init: { method: 'POST' },
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['empty', 'application/json', ARROW],
  },
  {
    name: 'historical, a body without content type',
    path: HISTORICAL,
    init: { method: 'POST', body: new Uint8Array([1, 2, 3]) },
    status: 415,
    code: 'TRIB_UNSUPPORTED_MEDIA_TYPE',
    says: ['without a content type', 'application/json', ARROW],
  },
  {
    name: 'historical, an unknown content type',
    path: HISTORICAL,
    init: post('x', { 'content-type': 'text/csv' }),
    status: 415,
    code: 'TRIB_UNSUPPORTED_MEDIA_TYPE',
    says: ['text/csv', 'application/json', ARROW],
  },
  {
    name: 'online, text/plain (fastify would read it as a string)',
    path: ONLINE,
    init: post('{}', { 'content-type': 'text/plain' }),
    status: 415,
    code: 'TRIB_UNSUPPORTED_MEDIA_TYPE',
    says: ['text/plain', 'application/json'],
  },
  {
    name: 'online, an Arrow body (only historical retrieval reads Arrow)',
    path: ONLINE,
    init: post(arrowRows(), { 'content-type': ARROW }),
    status: 415,
    code: 'TRIB_UNSUPPORTED_MEDIA_TYPE',
    says: [ARROW, 'application/json'],
  },
  {
    name: 'push, an Arrow body',
    path: '/push',
    init: post(arrowRows(), { 'content-type': ARROW }),
    status: 415,
    code: 'TRIB_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'online, no body',
    path: ONLINE,
    init: { method: 'POST' },
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['JSON object'],
  },
  { name: 'online, empty JSON body', path: ONLINE, init: post(''), status: 400, code: 'TRIB_BAD_REQUEST' },
  {
    name: 'push, a body of blanks',
    path: '/push',
    init: post('  \n'),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['empty'],
  },
  {
    name: 'online, broken JSON',
    path: ONLINE,
    init: post('{"features":'),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['not valid JSON'],
  },
  {
    name: 'online, a JSON array for a body',
    path: ONLINE,
    init: post('[1]'),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['must be a JSON object'],
  },
  {
    name: 'historical, a JSON body with the features in the query string',
    path: HISTORICAL_ARROW,
    init: post(JSON.stringify({ entities: { driver_id: [1], event_timestamp: [1] } })),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['query string'],
  },
  // keys that reach a prototype
  {
    name: 'push, __proto__ key',
    path: '/push',
    init: post('{"push_source_name":"driver_stats_push","df":{"__proto__":[1]}}'),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['body.df.__proto__', 'prototype'],
  },
  {
    name: 'online, constructor.prototype key',
    path: ONLINE,
    init: post(lookup({ constructor: { prototype: { x: 1 } } })),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['body.entities.constructor.prototype'],
  },
  {
    name: 'historical, __proto__ under 100,000 nested arrays (no stack overflow)',
    path: HISTORICAL,
    init: post(`{"entities":{"x":${'['.repeat(100_000)}{"__proto__":1}${']'.repeat(100_000)}}}`),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['[0][0][0]', '__proto__'],
  },
  {
    name: 'historical, an Arrow column named __proto__',
    path: HISTORICAL_ARROW,
    init: post(arrowRows({ ['__proto__']: vectorFromArray([1], new Float64()) }), { 'content-type': ARROW }),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['__proto__'],
  },
  // schema violations name the property
  {
    name: 'push, extra property',
    path: '/push',
    init: post('{"push_source_name":"driver_stats_push","df":{},"colour":1}'),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ["unknown property 'colour'"],
  },
  {
    name: 'online, a feature reference that is not a string',
    path: ONLINE,
    init: post('{"features":["driver_hourly_stats:conv_rate", 7],"entities":{"driver_id":[1]}}'),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['body.features[1] must be a string'],
  },
  {
    name: 'online, an entity column that is not an array',
    path: ONLINE,
    init: post(lookup({ driver_id: 1 })),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['body.entities.driver_id must be an array'],
  },
  {
    name: 'push, to outside its values',
    path: '/push',
    init: post('{"push_source_name":"driver_stats_push","df":{},"to":"both"}'),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['body.to must be one of'],
  },
  {
    name: 'online, an int64 key beyond 2^53 as a JSON number',
    path: ONLINE,
    init: post(`{"features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":[9007199254740993]}}`),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['entities.driver_id[0]', 'decimal string'],
  },
  // historical: columns
  {
    name: 'historical, passthrough column named like a feature (JSON)',
    path: HISTORICAL,
    init: post(
      JSON.stringify({
        features: ['driver_hourly_stats:conv_rate'],
        entities: { driver_id: [1], event_timestamp: ['2026-01-01T00:00:00Z'], conv_rate: [0.5] },
      }),
    ),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ["'conv_rate'", 'full_feature_names'],
  },
  {
    name: 'historical, passthrough column named like a full feature name',
    path: HISTORICAL,
    init: post(
      JSON.stringify({
        features: ['driver_hourly_stats:conv_rate'],
        full_feature_names: true,
        entities: { driver_id: [1], event_timestamp: [1], driver_hourly_stats__conv_rate: [0.5] },
      }),
    ),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ["'driver_hourly_stats__conv_rate'"],
  },
  {
    name: 'historical, passthrough column named like a feature (Arrow)',
    path: HISTORICAL_ARROW,
    init: post(arrowRows({ conv_rate: vectorFromArray([0.5], new Float64()) }), { 'content-type': ARROW }),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ["'conv_rate'"],
  },
  {
    name: 'historical, an Arrow schema naming a column twice',
    path: HISTORICAL_ARROW,
    init: post(arrowWithRepeatedColumn(), { 'content-type': ARROW }),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ["'driver_id'"],
  },
  {
    name: 'historical, an Arrow body without features in the query string',
    path: HISTORICAL,
    init: post(arrowRows(), { 'content-type': ARROW }),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['query string', '?features='],
  },
  {
    name: 'historical, an unknown query parameter',
    path: `${HISTORICAL_ARROW}&colour=red`,
    init: post(arrowRows(), { 'content-type': ARROW }),
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ["querystring has an unknown property 'colour'"],
  },
  // sizes and routes
  {
    name: 'online, a body over 1 MiB',
    path: ONLINE,
    init: post(lookup({ driver_id: Array(600_000).fill(1) })),
    status: 413,
    code: 'TRIB_BODY_TOO_LARGE',
    says: ['1 MiB'],
  },
  { name: 'unknown route', path: '/nope', init: { method: 'GET' }, status: 404, code: 'TRIB_NOT_FOUND' },
  {
    name: 'unknown route, with an empty JSON body (the 404 wins)',
    path: '/nope',
    init: post(''),
    status: 404,
    code: 'TRIB_NOT_FOUND',
  },
  {
    name: 'unknown route, with a body without content type',
    path: '/nope',
    init: { method: 'POST', body: new Uint8Array([1]) },
    status: 404,
    code: 'TRIB_NOT_FOUND',
  },
  {
    name: 'a registry route with the wrong method',
    path: '/feature-views',
    init: post('{}'),
    status: 404,
    code: 'TRIB_NOT_FOUND',
    says: ['POST /feature-views'],
  },
  {
    name: 'monitor route, a bad time (served by serve)',
    path: '/monitors/m/windows?from=yesterday',
    init: { method: 'GET' },
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['from='],
  },
  {
    name: 'monitor route, a query value outside its values',
    path: '/monitors/m/windows?drifted=maybe',
    init: { method: 'GET' },
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['querystring.drifted'],
  },
  {
    name: 'monitor route, an empty model',
    path: '/monitors//drift',
    init: { method: 'GET' },
    status: 400,
    code: 'TRIB_BAD_REQUEST',
    says: ['params.model'],
  },
];

describe('serving: bad requests are coded 4xx', () => {
  let h: Harness;
  let base: string;
  let port: number;

  beforeAll(async () => {
    // With the monitor's read side, as `tributary serve` mounts it (those routes validate
    // their parameters before any query, so its tables need not exist).
    const monitoring = openMonitorQueries({
      databaseUrl: services().DATABASE_URL,
      schema: uniqueName('mon_bad'),
    });
    h = await harness(uniqueName('serving_bad'), { monitorQueries: monitoring.queries });
    const close = h.close;
    h.close = async () => {
      await close();
      await monitoring.close();
    };
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as { port: number }).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(cases)('$name → $status $code', async (c) => {
    const response = await fetch(`${base}${c.path}`, c.init);
    const text = await response.text();
    expect(response.status, text).toBe(c.status);
    const body = JSON.parse(text);
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.code, text).toBe(c.code);
    expect(typeof body.error.message).toBe('string');
    for (const part of c.says ?? []) expect(body.error.message, text).toContain(part);
  });

  it('reads a JSON body that starts with a byte order mark', async () => {
    const response = await fetch(`${base}${ONLINE}`, post(`\uFEFF${lookup({ driver_id: [1] })}`));
    expect(response.status, await response.clone().text()).toBe(200);
    const answer = (await response.json()) as { metadata: { feature_names: string[] } };
    expect(answer.metadata.feature_names).toEqual(['driver_id', 'conv_rate']);
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
    for (const url of ['/feature-views/%zz', '/%', '/monitors/%zz/windows']) {
      const r = await raw(port, `GET ${url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(r.status, r.body).toBe(400);
      const error = JSON.parse(r.body).error;
      expect(error.code).toBe('TRIB_BAD_REQUEST');
      expect(error.message).toContain(url);
    }
  });

  it('answers a request Node cannot parse with 400 in the error shape', async () => {
    for (const request of [
      'GARBAGE\r\n\r\n',
      'POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
      'POST /push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    ]) {
      const r = await raw(port, request);
      expect(r.status, request).toBe(400);
      expect(JSON.parse(r.body).error.code).toBe('TRIB_BAD_REQUEST');
    }
  });
});

describe('serving: store failures reach the client without driver internals (Redis)', () => {
  const prefix = uniqueName('serving_bad');
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(services().REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('Redis unreachable: 503 TRIB_ONLINE_STORE_UNAVAILABLE, no ioredis option names', async () => {
    const online = new RedisOnlineStore({ url: `redis://127.0.0.1:${await closedPort()}`, prefix });
    const h = await harness(uniqueName('serving_bad_redis'), { online });
    try {
      const res = await h.app.inject({
        method: 'POST',
        url: ONLINE,
        headers: JSON_TYPE,
        payload: lookup({ driver_id: [1] }),
      });
      expect(res.statusCode, res.body).toBe(503);
      const error = res.json().error;
      expect(error.code).toBe('TRIB_ONLINE_STORE_UNAVAILABLE');
      expect(error.message).toContain('REDIS_URL');
      expect(error.message).not.toMatch(/maxRetriesPerRequest|max retries|ECONNREFUSED/i);
    } finally {
      await h.close();
      await online.close();
    }
  });

  it('a stored value it cannot read: 500 TRIB_INTERNAL naming the request id, not the value', async () => {
    const online = new RedisOnlineStore({ url: services().REDIS_URL, prefix });
    const h = await harness(uniqueName('serving_bad_value'), { online });
    try {
      const view = driverLayout(h.spec, 'driver_hourly_stats');
      await redis.set(online.keyOf(view, [1n]), 'x:1:[1]');
      const res = await h.app.inject({
        method: 'POST',
        url: ONLINE,
        headers: JSON_TYPE,
        payload: lookup({ driver_id: [1] }),
      });
      expect(res.statusCode, res.body).toBe(500);
      const error = res.json().error;
      expect(error.code).toBe('TRIB_INTERNAL');
      expect(error.message).toMatch(/request req-\w+/);
      expect(error.message).not.toContain('online store');
    } finally {
      await h.close();
      await online.close();
    }
  });
});
