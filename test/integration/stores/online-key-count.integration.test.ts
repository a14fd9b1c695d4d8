/**
 * The dashboard's online key count on the real Redis: keys written by the real online store,
 * counted per view by one bounded SCAN, capped and cached; a prefix with glob characters
 * matches only its own keys.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverHourlyStats, driverSpec } from '../../../fixtures/driver-spec.ts';
import { viewLayout } from '../../../shared/model/layout.ts';
import { escapeGlob, RedisKeyCounter } from '../../../shared/stores/online/key-count.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { services, uniqueName } from '../../support/env.ts';
import { featureRow } from '../../support/rows.ts';

const T0 = Date.parse('2026-11-20T10:00:00Z');
// Glob characters in the prefix: MATCH must take them literally.
const prefix = `${uniqueName('kc')}*[a]`;
const other = `${prefix.slice(0, -4)}X[a]`;
const spec = driverSpec('kc_topic');
const stats = viewLayout(spec.featureViews[0]!, spec.entities);
const other_view = viewLayout({ ...driverHourlyStats(), name: 'driver_other' }, spec.entities);
let store: RedisOnlineStore;
let neighbour: RedisOnlineStore;
const counters: RedisKeyCounter[] = [];

const counter = (options: ConstructorParameters<typeof RedisKeyCounter>[0] = {}) => {
  const c = new RedisKeyCounter({ url: services().REDIS_URL, prefix, ...options });
  counters.push(c);
  return c;
};
const rows = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => featureRow([from + i], T0 + i, [0.5, 0.5, 3]));

beforeAll(async () => {
  store = new RedisOnlineStore({ url: services().REDIS_URL, prefix });
  neighbour = new RedisOnlineStore({ url: services().REDIS_URL, prefix: other });
  expect(await store.write(stats, rows(1, 120))).toBe(120);
  expect(await store.write(other_view, rows(1, 7))).toBe(7);
  // Another deployment's keys, under a prefix the glob `prefix*` would match unescaped.
  expect(await neighbour.write(stats, rows(1, 30))).toBe(30);
});
afterAll(async () => {
  for (const c of counters) await c.close();
  // The views have no ttl: the keys would stay in the shared Redis.
  const redis = new Redis(services().REDIS_URL);
  for (const p of [prefix, other]) {
    const keys = await redis.keys(`${escapeGlob(p)}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
  await store.close();
  await neighbour.close();
});

describe('online key count', () => {
  it('escapes SCAN glob characters', () => {
    expect(escapeGlob('a*b?[c]\\')).toBe('a\\*b\\?\\[c\\]\\\\');
  });

  it("counts each view's keys written by the online store, and only this prefix's", async () => {
    const c = counter();
    expect(await c.countKeys('driver_hourly_stats')).toMatchObject({ keys: 120, capped: false });
    expect(await c.countKeys('driver_other')).toMatchObject({ keys: 7, capped: false });
    expect(await c.countKeys('no_such_view')).toMatchObject({ keys: 0, capped: false });
  });

  it('stops at its call budget and says the count is a lower bound', async () => {
    const c = counter({ countPerCall: 10, maxCalls: 2 });
    const count = await c.countKeys('driver_hourly_stats');
    expect(count.capped).toBe(true);
    expect(count.keys).toBeLessThan(120);
  });

  it('reuses a pass for its cache time, then scans again', async () => {
    let now = Date.now();
    const c = counter({ cacheMs: 30_000, now: () => now });
    expect((await c.countKeys('driver_other')).keys).toBe(7);
    await store.write(other_view, rows(100, 3));
    expect((await c.countKeys('driver_other')).keys).toBe(7);
    now += 30_001;
    expect((await c.countKeys('driver_other')).keys).toBe(10);
  });

  it('fails with TRIB_ONLINE_STORE_UNAVAILABLE when Redis is not there', async () => {
    const c = counter({ url: 'redis://127.0.0.1:1' });
    await expect(c.countKeys('driver_hourly_stats')).rejects.toMatchObject({
      code: 'TRIB_ONLINE_STORE_UNAVAILABLE',
    });
  });
});
