import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverLayout } from '../../../fixtures/driver-spec.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { StreamAdmin, StreamProducer } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';
import { DAY, type Harness, harness, row, servingSpec } from './support.ts';

describe('serving: online lookups, push, auth, ops (Redis, Kafka)', () => {
  let h: Harness;
  let online: RedisOnlineStore;
  let producer: StreamProducer;
  let admin: StreamAdmin;
  const topic = uniqueName('serving_push');
  const now = Date.now();
  // The app's clock runs 2 hours ahead, so a row written 23h ago is outside its 1-day ttl there.
  const appNow = now + 2 * 3_600_000;

  beforeAll(async () => {
    const spec = servingSpec(topic);
    const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
    admin = await stream.admin();
    await admin.ensureTopics([{ topic }]);
    producer = await stream.producer();
    online = new RedisOnlineStore({ url: services().REDIS_URL, prefix: uniqueName('serving') });
    h = await harness(
      uniqueName('serving_online'),
      { online, producer, now: () => appNow, config: { apiKeys: ['k1', 'k2'] } },
      spec,
    );
    const layout = (view: string) => driverLayout(spec, view);
    await online.write(layout('driver_hourly_stats'), [
      row([1001n], now - 60_000, [0.5, 7n]),
      row([1002n], now - 60_000, [null, 3n]),
      row([1003n], now - 23 * 3_600_000, [0.9, 9n]),
    ]);
    await online.write(layout('driver_profile'), [
      row([1001n], now - 10 * DAY, [4.8, 0.1, 'Porto', true, now]),
    ]);
  });
  afterAll(async () => {
    await h?.close();
    await online?.close();
    await producer?.close();
    await admin?.deleteTopics([topic]).catch(() => undefined);
    await admin?.close();
  });

  const auth = { authorization: 'Bearer k2' };

  it('answers in Feast shape: join keys first, statuses, event timestamps', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/get-online-features',
      headers: auth,
      payload: {
        features: [
          'driver_hourly_stats:conv_rate',
          'driver_profile:rating',
          'driver_hourly_stats:avg_daily_trips',
        ],
        entities: { driver_id: [1001, 1002, 1003, 9999] },
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.metadata.feature_names).toEqual(['driver_id', 'conv_rate', 'rating', 'avg_daily_trips']);
    expect(body.results[0]).toEqual({
      values: [1001, 1002, 1003, 9999],
      statuses: ['PRESENT', 'PRESENT', 'PRESENT', 'PRESENT'],
      event_timestamps: Array(4).fill('1970-01-01T00:00:00Z'),
    });
    expect(body.results[1].values).toEqual([0.5, null, null, null]);
    expect(body.results[1].statuses).toEqual(['PRESENT', 'NULL_VALUE', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(body.results[1].event_timestamps[0]).toBe(new Date(now - 60_000).toISOString());
    expect(body.results[1].event_timestamps[3]).toBe('1970-01-01T00:00:00Z');
    expect(body.results[2].values).toEqual([4.8, null, null, null]);
    expect(body.results[2].statuses).toEqual(['PRESENT', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
    expect(body.results[3].values).toEqual([7, 3, null, null]);
  });

  it('names features view__feature with full_feature_names and resolves feature services', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/get-online-features',
      headers: auth,
      payload: {
        feature_service: 'driver_activity',
        entities: { driver_id: [1001] },
        full_feature_names: true,
      },
    });
    expect(res.json().metadata.feature_names).toEqual([
      'driver_id',
      'driver_hourly_stats__conv_rate',
      'driver_hourly_stats__avg_daily_trips',
      'driver_profile__rating',
    ]);
  });

  it('refuses bad lookups with coded 4xx', async () => {
    const bad = async (payload: object, code: string, status = 400) => {
      const res = await h.app.inject({ method: 'POST', url: '/get-online-features', headers: auth, payload });
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json().error.code).toBe(code);
    };
    await bad(
      { features: ['driver_hourly_stats:nope'], entities: { driver_id: [1] } },
      'TRIB_UNKNOWN_FEATURE',
    );
    await bad({ features: ['nope:x'], entities: { driver_id: [1] } }, 'TRIB_UNKNOWN_FEATURE_VIEW');
    await bad({ feature_service: 'nope', entities: { driver_id: [1] } }, 'TRIB_UNKNOWN_FEATURE_SERVICE');
    await bad({ features: ['driver_hourly_stats:conv_rate'], entities: {} }, 'TRIB_MISSING_ENTITY');
    await bad(
      { features: ['driver_hourly_stats:conv_rate'], entities: { driver_id: ['x'] } },
      'TRIB_BAD_REQUEST',
    );
    await bad(
      { features: ['driver_hourly_stats:conv_rate'], entities: { driver_id: [1], rider: [2] } },
      'TRIB_BAD_REQUEST',
    );
    await bad({ features: ['driver_hourly_stats:conv_rate'] }, 'TRIB_BAD_REQUEST');
    await bad(
      { features: ['driver_hourly_stats:conv_rate'], entities: { driver_id: Array(600_000).fill(1) } },
      'TRIB_BODY_TOO_LARGE',
      413,
    );
  });

  it('requires a known API key, except for /health', async () => {
    const payload = { features: ['driver_hourly_stats:conv_rate'], entities: { driver_id: [1001] } };
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'k1' }]) {
      const res = await h.app.inject({ method: 'POST', url: '/get-online-features', headers, payload });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('TRIB_UNAUTHORIZED');
    }
    const ok = await h.app.inject({
      method: 'POST',
      url: '/get-online-features',
      headers: { authorization: 'Bearer k1' },
      payload,
    });
    expect(ok.statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('pushes validated rows to the batch source topic with the x-tributary-to header', async () => {
    const before = await admin.topicSize(topic);
    const res = await h.app.inject({
      method: 'POST',
      url: '/push',
      headers: auth,
      payload: {
        push_source_name: 'driver_stats_push',
        df: {
          driver_id: [1001, 1002],
          event_timestamp: [now, new Date(now).toISOString()],
          conv_rate: [0.1, 0.2],
          avg_daily_trips: [1, 2],
        },
        to: 'online_and_offline',
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', rows: 2, topic, to: 'online_and_offline' });
    expect(await admin.topicSize(topic)).toBe(before + 2);

    const bad = async (payload: object, code: string) => {
      const r = await h.app.inject({ method: 'POST', url: '/push', headers: auth, payload });
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json().error.code).toBe(code);
    };
    await bad({ push_source_name: 'nope', df: { driver_id: [1] } }, 'TRIB_UNKNOWN_PUSH_SOURCE');
    await bad(
      {
        push_source_name: 'driver_stats_push',
        df: { driver_id: ['x'], event_timestamp: [now], conv_rate: [0.1], avg_daily_trips: [1] },
      },
      'TRIB_WRONG_TYPE',
    );
    await bad(
      { push_source_name: 'driver_stats_push', df: { driver_id: [1], conv_rate: [0.1] } },
      'TRIB_MISSING_FIELD',
    );
    await bad(
      { push_source_name: 'driver_stats_push', df: { driver_id: [1] }, to: 'both' },
      'TRIB_BAD_REQUEST',
    );
    const named = async (df: Record<string, unknown[]>, code: string, ...words: string[]) => {
      const r = await h.app.inject({
        method: 'POST',
        url: '/push',
        headers: { ...auth, 'content-type': 'application/json' },
        // Sent as text so that an int64 beyond 2^53 reaches the server as the JSON number it is.
        payload: JSON.stringify({ push_source_name: 'driver_stats_push', df }).replace(
          '"9007199254740993"',
          '9007199254740993',
        ),
      });
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json().error.code).toBe(code);
      for (const word of words) expect(r.json().error.message).toContain(word);
    };
    // A typo: accepted silently before, and the real column then written as NULL.
    await named(
      { driver_id: [1], event_timestamp: [now], conv_rate: [0.1], avg_daily_trip: [1] },
      'TRIB_BAD_REQUEST',
      'avg_daily_trip',
    );
    // A feature left out would overwrite the stored value with NULL.
    await named(
      { driver_id: [1], event_timestamp: [now], conv_rate: [0.1] },
      'TRIB_MISSING_FIELD',
      'avg_daily_trips',
    );
    // 9007199254740993 parses to ...992: another driver.
    await named(
      { driver_id: ['9007199254740993'], event_timestamp: [now], conv_rate: [0.1], avg_daily_trips: [1] },
      'TRIB_BAD_REQUEST',
      'driver_id[0]',
      'decimal string',
    );
    expect(await admin.topicSize(topic)).toBe(before + 2);

    // The same driver as a decimal string is read exactly.
    const exact = await h.app.inject({
      method: 'POST',
      url: '/push',
      headers: auth,
      payload: {
        push_source_name: 'driver_stats_push',
        df: {
          driver_id: ['9007199254740993'],
          event_timestamp: [now],
          conv_rate: [0.3],
          avg_daily_trips: [3],
        },
      },
    });
    expect(exact.statusCode, exact.body).toBe(200);
    expect(await admin.topicSize(topic)).toBe(before + 3);
  });

  it('lists views and services, serves metrics, the OpenAPI document and the docs page', async () => {
    const views = await h.app.inject({ method: 'GET', url: '/feature-views', headers: auth });
    expect(views.json().feature_views.map((v: { name: string }) => v.name)).toEqual([
      'driver_hourly_stats',
      'driver_profile',
      'customer_stats',
    ]);
    const services_ = await h.app.inject({ method: 'GET', url: '/feature-services', headers: auth });
    expect(services_.json().feature_services[0].features).toEqual([
      'driver_hourly_stats:conv_rate',
      'driver_hourly_stats:avg_daily_trips',
      'driver_profile:rating',
    ]);
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics', headers: auth });
    expect(metrics.body).toContain('tributary_http_requests_total');
    const openapi = await h.app.inject({ method: 'GET', url: '/openapi.json', headers: auth });
    expect(Object.keys(openapi.json().paths)).toEqual(
      expect.arrayContaining(['/get-online-features', '/push', '/get-historical-features', '/feature-views']),
    );
    const docs = await h.app.inject({ method: 'GET', url: '/docs/', headers: auth });
    expect(docs.statusCode).toBe(200);
    const missing = await h.app.inject({ method: 'GET', url: '/nope', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('TRIB_NOT_FOUND');
  });
});

describe('serving: /push answers what Kafka said', () => {
  it('is 413 TRIB_MESSAGE_TOO_LARGE when the topic refuses the batch as too large, naming the topic', async () => {
    const topic = uniqueName('serving_push_small');
    const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
    const admin = await stream.admin();
    // A topic that takes record batches of at most 1 KiB: 200 rows are far more.
    await admin.ensureTopics([{ topic, config: { 'max.message.bytes': '1024' } }]);
    const producer = await stream.producer();
    const h = await harness(uniqueName('serving_push_small'), { producer }, servingSpec(topic));
    try {
      const n = 200;
      const res = await h.app.inject({
        method: 'POST',
        url: '/push',
        payload: {
          push_source_name: 'driver_stats_push',
          df: {
            driver_id: Array.from({ length: n }, (_, i) => 1000 + i),
            event_timestamp: Array.from({ length: n }, () => Date.now()),
            conv_rate: Array.from({ length: n }, () => 0.5),
            avg_daily_trips: Array.from({ length: n }, () => 1),
          },
        },
      });
      expect(res.statusCode).toBe(413);
      const error = res.json().error;
      expect(error.code).toBe('TRIB_MESSAGE_TOO_LARGE');
      expect(error.message).toContain(`could not produce to '${topic}'`);
      // Refused as a whole: nothing of the request reached the topic.
      expect(await admin.topicSize(topic)).toBe(0);
    } finally {
      await h.close();
      await producer.close();
      await admin.deleteTopics([topic]).catch(() => undefined);
      await admin.close();
    }
  });
});
