import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isTributaryError } from '../../../shared/errors.ts';
import type { ViewLayout } from '../../../shared/model/layout.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import { JsonRecord } from '../../../shared/stores/online/json-record.ts';
import { scanJsonArray } from '../../../shared/stores/online/json-tokens.ts';
import type { OnlineRecordJson } from '../../../shared/stores/online/port.ts';
import {
  DEFAULT_TTL_GRACE_MS,
  RedisOnlineStore,
  type RedisOnlineStoreOptions,
} from '../../../shared/stores/online/redis.ts';
import { readValueLengths } from '../../../shared/stores/online/value-lengths.ts';
import { services, uniqueName } from '../../support/env.ts';
import { closedPort } from './closed-port.ts';
import { DAY, describeOnlineStorePort, row, viewNamed } from './online-port.suite.ts';

const prefix = uniqueName('online');
const WRITE_LATEST_LUA = readFileSync(
  new URL('../../../shared/stores/online/lua/write_latest.lua', import.meta.url),
  'utf8',
);

/** A record's values' texts, cut by its stored value lengths. */
function valueTexts(record: OnlineRecordJson): string[] {
  expect(record).toBeInstanceOf(JsonRecord);
  const bounds = new Int32Array(64);
  const { lengths, lengthsFrom, lengthsTo, valuesJson } = record as JsonRecord;
  const count = readValueLengths(lengths!, lengthsFrom, lengthsTo, valuesJson.length, bounds, 0, 32);
  const json = Buffer.from(record.valuesJson);
  return Array.from({ length: count }, (_, k) => json.toString('utf8', bounds[2 * k], bounds[2 * k + 1]));
}

/** The values' texts as scanning the JSON finds them. */
function scannedTexts(valuesJson: Uint8Array): string[] {
  const bounds = new Int32Array(64);
  const count = scanJsonArray(valuesJson, bounds);
  const json = Buffer.from(valuesJson);
  return Array.from({ length: count }, (_, k) => json.toString('utf8', bounds[2 * k], bounds[2 * k + 1]));
}
// Exact expiry (no grace) unless a test asks otherwise: the port suite checks the mechanism.
const newStore = (options: Partial<RedisOnlineStoreOptions> = {}) =>
  new RedisOnlineStore({ url: services().REDIS_URL, prefix, ttlGraceMs: 0, ...options });

describeOnlineStorePort('RedisOnlineStore', {
  create: () => newStore(),
  unreachable: async () => new RedisOnlineStore({ url: `redis://127.0.0.1:${await closedPort()}`, prefix }),
});

describe('RedisOnlineStore (Redis layout and faults)', () => {
  let store: RedisOnlineStore;
  let redis: Redis;

  beforeAll(() => {
    store = newStore();
    redis = new Redis(services().REDIS_URL);
  });
  afterAll(async () => {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      keys.push(...(batch as string[]));
    }
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await store.close();
  });

  const readOne = async (s: RedisOnlineStore, view: ReturnType<typeof viewNamed>, keys: FeatureRow['keys']) =>
    (await s.read([{ view, keys: [keys] }]))[0]![0];

  it('stores the documented layout: <prefix>:<view>:<keys> = <eventTs>:<created>:<value lengths><json>', async () => {
    const view = viewNamed('layout');
    await store.write(view, [row([1001n], 1_700_000_000_000, [0.5, 0.25, 7n], 1_700_000_000_123)]);
    await store.write(view, [row([1002n], 1_700_000_000_000, [null, 0.75, null])]);
    await store.write(view, [row([9007199254740993n], 1, [0, 0, 9007199254740993n])]);
    // Value lengths: one base-64 digit each (width 1), then the JSON array.
    expect(await redis.get(`${prefix}:layout:1001`)).toBe('1700000000000:1700000000123:1343[0.5,0.25,"7"]');
    expect(await redis.get(`${prefix}:layout:1002`)).toBe('1700000000000::1444[null,0.75,null]');
    expect(await redis.get(`${prefix}:layout:9007199254740993`)).toBe('1::111I[0,0,"9007199254740993"]');
    expect(await redis.pttl(`${prefix}:layout:1001`)).toBe(-1);
    const composite = {
      ...view,
      name: 'lay:out',
      joinKeys: [
        { name: 'city', type: 'string' as const },
        { name: 'driver_id', type: 'int64' as const },
      ],
    };
    await store.write(composite, [row(['a:b%c', 7n], 1, [0, 0, 0n])]);
    expect(await redis.exists(`${prefix}:lay%3Aout:a%3Ab%25c:7`)).toBe(1);
  });

  it('readJson answers the records read does, with the values as the stored UTF-8 bytes', async () => {
    const view = viewNamed('read_json');
    await store.write(view, [
      row([1n], 1_700_000_000_000, [0.5, null, 9007199254740993n], 1_700_000_000_123),
    ]);
    await store.write(view, [row([2n], -5, [1, 2, 3n])]);
    // Values the adapter does not write itself: any JSON array is handed back as it is stored,
    // and an event time in another spelling reads as Number() reads it.
    await redis.set(`${prefix}:read_json:3`, '1.5e3::["é🙂,\\"]"]');
    const keys = [[1n], [2n], [3n], [4n]];
    const [records] = await store.readJson([{ view, keys }]);
    expect(
      records!.map(
        (r) =>
          r && {
            eventTimestamp: r.eventTimestamp,
            created: r.created,
            valuesJson: Buffer.from(r.valuesJson).toString('utf8'),
          },
      ),
    ).toEqual([
      {
        eventTimestamp: 1_700_000_000_000,
        created: 1_700_000_000_123,
        valuesJson: '[0.5,null,"9007199254740993"]',
      },
      { eventTimestamp: -5, created: null, valuesJson: '[1,2,"3"]' },
      { eventTimestamp: 1_500, created: null, valuesJson: '["é🙂,\\"]"]' },
      null,
    ]);
    const [decoded] = await store.read([{ view, keys: keys.slice(0, 2) }]);
    expect(decoded!.map((r) => r && { eventTimestamp: r.eventTimestamp, created: r.created })).toEqual(
      records!.slice(0, 2).map((r) => r && { eventTimestamp: r.eventTimestamp, created: r.created }),
    );
  });

  it('round-trips every value type through the stored value lengths, cut as scanning would', async () => {
    const view: ViewLayout = {
      ...viewNamed('ends_types'),
      features: (['float64', 'int64', 'string', 'bool', 'timestamp', 'string', 'float64'] as const).map(
        (type, i) => ({ name: `f${i}`, type }),
      ),
    };
    const strings = ['a,b', 'say "hi", then]', 'back\\slash\\', 'tab\tnew\nline', 'é🙂 ok', '', '\u2028'];
    const rows = strings.map((text, i) =>
      row([BigInt(i)], 1_000 + i, [
        i % 2 ? null : 0.1 * i - 0.35,
        9007199254740993n - BigInt(i),
        text,
        i % 2 === 0,
        1_700_000_000_000 + i,
        i % 3 ? text : null,
        i === 3 ? null : 1e21,
      ]),
    );
    await store.write(view, rows);
    const keys = rows.map((r) => r.keys);
    const [decoded] = await store.read([{ view, keys }]);
    expect(decoded!.map((r) => r?.values)).toEqual(rows.map((r) => r.values));
    const [records] = await store.readJson([{ view, keys }]);
    for (const [i, record] of records!.entries()) {
      const expected = JSON.stringify(rows[i]!.values.map((v) => (typeof v === 'bigint' ? String(v) : v)));
      expect(Buffer.from(record!.valuesJson).toString('utf8')).toBe(expected);
      expect((record as JsonRecord).lengths).not.toBeNull();
      expect(valueTexts(record!)).toEqual(scannedTexts(record!.valuesJson));
    }
  });

  it('reads values stored before the value lengths (a bare JSON array) by scanning them', async () => {
    const view = viewNamed('ends_old');
    await redis.set(`${prefix}:ends_old:1`, '1700000000000:1700000000123:[0.5,null,"9007199254740993"]');
    await redis.set(`${prefix}:ends_old:2`, '5::["é🙂,\\"]",1]');
    const keys = [[1n], [2n]];
    const [decoded] = await store.read([{ view, keys }]);
    expect(decoded).toEqual([
      {
        eventTimestamp: 1_700_000_000_000,
        created: 1_700_000_000_123,
        values: [0.5, null, 9007199254740993n],
      },
      { eventTimestamp: 5, created: null, values: ['é🙂,"]', 1, null] },
    ]);
    const [records] = await store.readJson([{ view, keys }]);
    expect(
      records!.map((r) => r && [Buffer.from(r.valuesJson).toString('utf8'), (r as JsonRecord).lengths]),
    ).toEqual([
      ['[0.5,null,"9007199254740993"]', null],
      ['["é🙂,\\"]",1]', null],
    ]);
  });

  it('keeps last-write-wins across values stored with and without value lengths', async () => {
    const view = viewNamed('ends_lww');
    const key = `${prefix}:ends_lww:1`;
    // An older writer's value, without lengths: a later event (with lengths) replaces it.
    await redis.set(key, '100::[1,1,"1"]');
    expect(await store.write(view, [row([1n], 99, [2, 2, 2n], 5)])).toBe(0);
    expect(await store.write(view, [row([1n], 100, [3, 3, 3n], 5)])).toBe(1);
    expect((await readOne(store, view, [1n]))?.values).toEqual([3, 3, 3n]);
    // An older writer's script call (bare arrays) against the value with lengths: same order.
    const oldWrite = (value: string) => redis.eval(WRITE_LATEST_LUA, 1, key, value, '0') as Promise<number[]>;
    expect(await oldWrite('100:5:[4,4,"4"]')).toEqual([0, 0]);
    expect(await oldWrite('100:6:[5,5,"5"]')).toEqual([1, 0]);
    expect(await redis.get(key)).toBe('100:6:[5,5,"5"]');
    expect(await store.write(view, [row([1n], 100, [6, 6, 6n])])).toBe(0);
    expect(await store.write(view, [row([1n], 101, [7, 7, 7n])])).toBe(1);
    const record = (await store.readJson([{ view, keys: [[1n]] }]))[0]![0];
    expect(valueTexts(record!)).toEqual(['7', '7', '"7"']);
  });

  it('reads a feature appended after values were written (with their lengths) as null', async () => {
    const view = viewNamed('ends_wider');
    await store.write(view, [row([1n], 1, [0.5, null, 3n])]);
    const wider: ViewLayout = { ...view, features: [...view.features, { name: 'rating', type: 'float64' }] };
    expect((await readOne(store, wider, [1n]))?.values).toEqual([0.5, null, 3n, null]);
    const record = (await store.readJson([{ view: wider, keys: [[1n]] }]))[0]![0];
    expect(valueTexts(record!)).toEqual(['0.5', 'null', '"3"']);
  });

  it('read and readJson fail with TRIB_INTERNAL on value lengths not followed by an array', async () => {
    const view = viewNamed('lengths_bad');
    for (const stored of ['1::134', '1::7343[0.5,0.25,"7"]', '1::2343[0.5,0.25,"7"]']) {
      await redis.set(`${prefix}:lengths_bad:1`, stored);
      const error = await store.readJson([{ view, keys: [[1n]] }]).catch((e: unknown) => e);
      expect(isTributaryError(error, 'TRIB_INTERNAL'), stored).toBe(true);
    }
    await redis.set(`${prefix}:lengths_bad:1`, '1::134');
    const error = await store.read([{ view, keys: [[1n]] }]).catch((e: unknown) => e);
    expect(isTributaryError(error, 'TRIB_INTERNAL')).toBe(true);
  });

  it('readJson sends the small reads of one event-loop turn as one MGET, each reader getting its own records', async () => {
    const client = new Redis(services().REDIS_URL);
    const shared = newStore({ redis: client });
    try {
      const view = viewNamed('shared_read');
      const other = viewNamed('shared_read_other');
      const rows = Array.from({ length: 40 }, (_, i) => row([BigInt(i)], 1_000 + i, [i, i, BigInt(i)]));
      await shared.write(view, rows);
      await shared.write(other, rows.slice(0, 3));
      const lookups = [
        [{ view, keys: [[1n]] }],
        [
          { view, keys: [[2n], [99n]] },
          { view: other, keys: [[2n]] },
        ],
        // Above the shared-read size: an MGET of its own.
        [{ view, keys: rows.map((r) => r.keys) }],
        [{ view: other, keys: [[0n], [1n]] }],
      ];
      const mget = vi.spyOn(client, 'mgetBuffer');
      const together = await Promise.all(lookups.map((requests) => shared.readJson(requests)));
      expect(mget).toHaveBeenCalledTimes(2);
      const alone: typeof together = [];
      for (const requests of lookups) alone.push(await shared.readJson(requests));
      expect(together).toEqual(alone);
      expect(together[1]!.map((records) => records.map((r) => r?.eventTimestamp ?? null))).toEqual([
        [1_002, null],
        [1_002],
      ]);
    } finally {
      await shared.close();
      await client.quit();
    }
  });

  it('readJson fails every small read of a shared MGET that fails, retriably', async () => {
    const down = new RedisOnlineStore({ url: `redis://127.0.0.1:${await closedPort()}`, prefix });
    try {
      const view = viewNamed('shared_down');
      const errors = await Promise.all(
        [[[1n]], [[2n], [3n]]].map((keys) => down.readJson([{ view, keys }]).catch((e: unknown) => e)),
      );
      for (const error of errors) expect(isTributaryError(error, 'TRIB_ONLINE_STORE_UNAVAILABLE')).toBe(true);
    } finally {
      await down.close();
    }
  });

  it('readJson fails with TRIB_INTERNAL on a stored value without its prefix', async () => {
    const view = viewNamed('read_json_bad');
    for (const stored of ['[1,2,3]', 'x:1:[1]', ':1:[1]']) {
      await redis.set(`${prefix}:read_json_bad:1`, stored);
      const error = await store.readJson([{ view, keys: [[1n]] }]).catch((e: unknown) => e);
      expect(isTributaryError(error, 'TRIB_INTERNAL'), stored).toBe(true);
    }
  });

  it('sets the expiry to event time + ttl, and a replay leaves it as it was', async () => {
    const view = viewNamed('expiry', 60_000);
    const now = Date.now();
    await store.write(view, [row([1n], now - 30_000, [1, 1, 1n], now)]);
    expect(await redis.pexpiretime(`${prefix}:expiry:1`)).toBe(now - 30_000 + 60_000);
    await store.write(view, [row([1n], now - 30_000, [1, 1, 1n], now)]);
    expect(await redis.pexpiretime(`${prefix}:expiry:1`)).toBe(now - 30_000 + 60_000);
    expect(await redis.exists(`${prefix}:expiry:2`)).toBe(0);
  });

  it('keeps values a week past their ttl by default', async () => {
    const byDefault = new RedisOnlineStore({ url: services().REDIS_URL, prefix });
    try {
      const view = viewNamed('default_grace', 60_000);
      const at = Date.now() - 120_000;
      expect(await byDefault.write(view, [row([1n], at, [1, 1, 1n])])).toBe(1);
      expect(await redis.pexpiretime(`${prefix}:default_grace:1`)).toBe(at + 60_000 + DEFAULT_TTL_GRACE_MS);
      expect(DEFAULT_TTL_GRACE_MS).toBe(7 * DAY);
    } finally {
      await byDefault.close();
    }
  });

  it('keeps a value past its ttl for the configured grace, so serving can tell OUTSIDE_MAX_AGE', async () => {
    const graceful = newStore({ ttlGraceMs: DAY });
    try {
      const view = viewNamed('grace', 60_000);
      const now = Date.now();
      expect(await graceful.write(view, [row([1n], now - 120_000, [1, 1, 1n])])).toBe(1);
      expect((await readOne(graceful, view, [1n]))?.eventTimestamp).toBe(now - 120_000);
      expect(await redis.pexpiretime(`${prefix}:grace:1`)).toBe(now - 120_000 + 60_000 + DAY);
      expect(await graceful.write(view, [row([2n], now - 2 * DAY, [1, 1, 1n])])).toBe(1);
      expect(await redis.exists(`${prefix}:grace:2`)).toBe(0);
    } finally {
      await graceful.close();
    }
  });

  it('writes a large batch as chunked script calls', async () => {
    const chunked = newStore({ rowsPerCall: 100 });
    try {
      const view = viewNamed('chunked');
      const rows = Array.from({ length: 1_234 }, (_, i) => row([BigInt(i % 1_000)], i, [i, i, BigInt(i)]));
      // 1,234 rows over 1,000 entities: each entity takes its latest row once.
      expect(await chunked.write(view, rows)).toBe(1_000);
      const read = await chunked.read([{ view, keys: [[0n], [233n], [234n], [999n]] }]);
      expect(read[0]!.map((r) => r?.eventTimestamp)).toEqual([1_000, 1_233, 234, 999]);
    } finally {
      await chunked.close();
    }
  });

  it('reconnects after its connection is killed', async () => {
    const view = viewNamed('killed');
    await store.write(view, [row([1n], 1, [0, 0, 0n])]);
    const list = (await redis.client('LIST')) as string;
    const ids = list
      .split('\n')
      .filter((line) => line.includes(` name=tributary:${prefix} `))
      .map((line) => /\bid=(\d+)/.exec(line)?.[1]);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) await redis.client('KILL', 'ID', id!);
    // The first command after the kill may fail retriably; the store recovers on its own.
    const first = await store.write(view, [row([1n], 2, [1, 1, 1n])]).catch((e: unknown) => e);
    if (typeof first !== 'number')
      expect(isTributaryError(first, 'TRIB_ONLINE_STORE_UNAVAILABLE')).toBe(true);
    await store.write(view, [row([1n], 2, [1, 1, 1n])]);
    expect((await readOne(store, view, [1n]))?.eventTimestamp).toBe(2);
  });
});
