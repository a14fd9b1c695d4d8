import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../support/env.ts';
import { DAY, type Harness, harness, row } from './support.ts';

const T = Date.UTC(2024, 4, 10, 12, 0, 0); // 2024-05-10T12:00:00Z
const iso = (ms: number) => new Date(ms).toISOString();

describe('POST /get-historical-features (Postgres)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await harness(uniqueName('serving_hist'));
    await h.write('driver_hourly_stats', [
      // driver 1: ties at T - 1h broken by created; NULL created loses.
      row([1n], T - 3_600_000, [0.1, 1n], T - 3_000_000),
      row([1n], T - 3_600_000, [0.2, 2n], T - 2_000_000),
      row([1n], T - 3_600_000, [0.3, 3n], null),
      row([1n], T - 7_200_000, [0.9, 9n], T),
      // driver 2: exactly at t - ttl (excluded)
      row([2n], T - DAY, [2.0, 20n]),
      // driver 3: one millisecond inside the ttl
      row([3n], T - DAY + 1, [3.0, 30n]),
      // driver 4: exactly at t (included) and one after t (excluded)
      row([4n], T, [4.0, 40n]),
      row([4n], T + 1, [4.1, 41n]),
      // driver 6: an older row and a newer one, for several timestamps
      row([6n], T - 10 * DAY, [6.0, 60n]),
      row([6n], T - 1000, [6.5, 65n]),
    ]);
    await h.write('driver_profile', [
      row([1n], T - 30 * DAY, [4.5, 0.77, 'Lisbon', true, Date.UTC(2020, 0, 1)]),
      row([6n], T - 40 * DAY, [3.9, null, null, false, null]),
    ]);
    await h.write('customer_stats', [row(['c-1'], T - 5 * DAY, [12.5])]);
  });
  afterAll(async () => {
    await h?.close();
  });

  async function post(body: unknown, headers: Record<string, string> = {}) {
    return h.app.inject({
      method: 'POST',
      url: '/get-historical-features',
      payload: body as object,
      headers,
    });
  }

  it('takes the latest row at or before t, ties to the greatest created, NULL created losing', async () => {
    const res = await post({
      entities: { driver_id: [1], event_timestamp: [iso(T)] },
      features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:avg_daily_trips'],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().columns).toEqual({
      driver_id: [1],
      event_timestamp: ['2024-05-10T12:00:00Z'],
      conv_rate: [0.2],
      avg_daily_trips: [2],
    });
  });

  it('excludes a row exactly at t - ttl and at t + 1ms; includes t - ttl + 1ms and exactly t', async () => {
    const res = await post({
      entities: { driver_id: [2, 3, 4], event_timestamp: [T, T, T] },
      features: ['driver_hourly_stats:conv_rate'],
    });
    expect(res.json().columns.conv_rate).toEqual([null, 3.0, 4.0]);
  });

  it('gives nulls for entities without rows and for views without ttl keeps old rows', async () => {
    const res = await post({
      entities: { driver_id: [5, 6, 1], event_timestamp: [T, T, T] },
      features: [
        'driver_profile:rating',
        'driver_profile:city',
        'driver_profile:active',
        'driver_profile:signed_up',
      ],
    });
    expect(res.json().columns).toMatchObject({
      rating: [null, 3.9, 4.5],
      city: [null, null, 'Lisbon'],
      active: [null, false, true],
      signed_up: [null, null, '2020-01-01T00:00:00Z'],
    });
  });

  it('keeps input order and duplicate rows, and passes other entity columns through', async () => {
    const times = [T, T - 2 * DAY, T, T - 500, T];
    const res = await post({
      entities: { label: [1, 0, 1, null, 1], driver_id: [6, 6, 1, 6, 6], event_timestamp: times },
      features: ['driver_hourly_stats:conv_rate'],
    });
    const columns = res.json().columns;
    expect(Object.keys(columns)).toEqual(['label', 'driver_id', 'event_timestamp', 'conv_rate']);
    expect(columns.label).toEqual([1, 0, 1, null, 1]);
    expect(columns.driver_id).toEqual([6, 6, 1, 6, 6]);
    // T - 2 days: the ttl hides the row of 10 days before; T - 500ms: the T - 1000 row.
    expect(columns.conv_rate).toEqual([6.5, null, 0.2, 6.5, 6.5]);
  });

  it('reads every timestamp form as the same instant', async () => {
    const forms = [
      '2024-05-10T12:00:00Z',
      '2024-05-10T14:00:00+02:00',
      '2024-05-10T07:00:00-0500',
      '2024-05-10 12:00:00',
      '2024-05-10T12:00:00.000z',
      T,
    ];
    const res = await post({
      entities: { driver_id: forms.map(() => 4), event_timestamp: forms },
      features: ['driver_hourly_stats:conv_rate'],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().columns.conv_rate).toEqual(forms.map(() => 4.0));
    // One millisecond earlier the row at exactly T is not visible yet.
    const before = await post({
      entities: { driver_id: [4], event_timestamp: ['2024-05-10T12:59:59.999+01:00'] },
      features: ['driver_hourly_stats:conv_rate'],
    });
    expect(before.json().columns.conv_rate).toEqual([null]);
  });

  it('joins several views (and entities) with full feature names', async () => {
    const res = await post({
      entities: { driver_id: [1, 6], customer_id: ['c-1', 'c-2'], event_timestamp: [T, T] },
      features: ['driver_profile:conv_rate', 'driver_hourly_stats:conv_rate', 'customer_stats:spend'],
      full_feature_names: true,
    });
    expect(res.statusCode, res.body).toBe(200);
    const columns = res.json().columns;
    expect(Object.keys(columns)).toEqual([
      'driver_id',
      'customer_id',
      'event_timestamp',
      'driver_profile__conv_rate',
      'driver_hourly_stats__conv_rate',
      'customer_stats__spend',
    ]);
    expect(columns.driver_profile__conv_rate).toEqual([0.77, null]);
    expect(columns.driver_hourly_stats__conv_rate).toEqual([0.2, 6.5]);
    expect(columns.customer_stats__spend).toEqual([12.5, null]);
  });

  it('resolves a feature service', async () => {
    const res = await post({
      entities: { driver_id: [1], event_timestamp: [T] },
      feature_service: 'driver_activity',
    });
    expect(Object.keys(res.json().columns)).toEqual([
      'driver_id',
      'event_timestamp',
      'conv_rate',
      'avg_daily_trips',
      'rating',
    ]);
  });

  it('takes Arrow entity rows and answers Arrow when asked', async () => {
    const entities = tableFromArrays({
      driver_id: BigInt64Array.from([4n, 1n, 4n]),
      event_timestamp: Float64Array.from([T, T, T - 1]),
      weight: Float64Array.from([0.5, 1.5, 2.5]),
    });
    const res = await h.app.inject({
      method: 'POST',
      url: '/get-historical-features?features=driver_hourly_stats:conv_rate,driver_hourly_stats:avg_daily_trips',
      payload: Buffer.from(tableToIPC(entities, 'stream')),
      headers: {
        'content-type': 'application/vnd.apache.arrow.stream',
        accept: 'application/vnd.apache.arrow.stream',
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toContain('application/vnd.apache.arrow.stream');
    const table = tableFromIPC(res.rawPayload);
    expect(table.schema.fields.map((f) => f.name)).toEqual([
      'driver_id',
      'event_timestamp',
      'weight',
      'conv_rate',
      'avg_daily_trips',
    ]);
    expect([...table.getChild('conv_rate')!]).toEqual([4.0, 0.2, null]);
    expect([...table.getChild('avg_daily_trips')!]).toEqual([40n, 2n, null]);
    expect([...table.getChild('weight')!]).toEqual([0.5, 1.5, 2.5]);
  });

  it('streams results larger than one chunk in input order', async () => {
    const n = 70_000;
    const ids = Array.from({ length: n }, (_, i) => [1, 4, 6, 5][i % 4]!);
    const res = await post(
      {
        entities: { driver_id: ids, event_timestamp: ids.map(() => T) },
        features: ['driver_hourly_stats:conv_rate'],
      },
      { accept: 'application/vnd.apache.arrow.stream' },
    );
    const table = tableFromIPC(res.rawPayload);
    expect(table.numRows).toBe(n);
    expect(table.batches.length).toBeGreaterThan(1);
    const values = table.getChild('conv_rate')!.toArray();
    const expected: Record<number, number | null> = { 1: 0.2, 4: 4.0, 6: 6.5, 5: null };
    for (let i = 0; i < n; i += 997) expect(table.getChild('conv_rate')!.get(i)).toBe(expected[ids[i]!]);
    expect(values.length).toBe(n);
  });

  describe('bad requests are 4xx with a code', () => {
    const cases: [string, unknown, number, string][] = [
      [
        'unknown feature',
        { entities: { driver_id: [1], event_timestamp: [T] }, features: ['driver_hourly_stats:nope'] },
        400,
        'TRIB_UNKNOWN_FEATURE',
      ],
      [
        'malformed reference',
        { entities: { driver_id: [1], event_timestamp: [T] }, features: ['conv_rate'] },
        400,
        'TRIB_UNKNOWN_FEATURE',
      ],
      [
        'unknown view',
        { entities: { driver_id: [1], event_timestamp: [T] }, features: ['nope:conv_rate'] },
        400,
        'TRIB_UNKNOWN_FEATURE_VIEW',
      ],
      [
        'unknown service',
        { entities: { driver_id: [1], event_timestamp: [T] }, feature_service: 'nope' },
        400,
        'TRIB_UNKNOWN_FEATURE_SERVICE',
      ],
      [
        'missing join key',
        { entities: { event_timestamp: [T] }, features: ['driver_hourly_stats:conv_rate'] },
        400,
        'TRIB_MISSING_ENTITY',
      ],
      [
        'missing timestamp',
        { entities: { driver_id: [1] }, features: ['driver_hourly_stats:conv_rate'] },
        400,
        'TRIB_MISSING_ENTITY',
      ],
      [
        'wrong key type',
        {
          entities: { driver_id: ['abc'], event_timestamp: [T] },
          features: ['driver_hourly_stats:conv_rate'],
        },
        400,
        'TRIB_BAD_REQUEST',
      ],
      [
        'fractional int64 key',
        { entities: { driver_id: [1.5], event_timestamp: [T] }, features: ['driver_hourly_stats:conv_rate'] },
        400,
        'TRIB_BAD_REQUEST',
      ],
      [
        'bad timestamp',
        {
          entities: { driver_id: [1], event_timestamp: ['yesterday'] },
          features: ['driver_hourly_stats:conv_rate'],
        },
        400,
        'TRIB_BAD_REQUEST',
      ],
      [
        'ragged columns',
        {
          entities: { driver_id: [1, 2], event_timestamp: [T] },
          features: ['driver_hourly_stats:conv_rate'],
        },
        400,
        'TRIB_BAD_REQUEST',
      ],
      [
        'name collision',
        {
          entities: { driver_id: [1], event_timestamp: [T] },
          features: ['driver_hourly_stats:conv_rate', 'driver_profile:conv_rate'],
        },
        400,
        'TRIB_BAD_REQUEST',
      ],
      [
        'both features and service',
        {
          entities: { driver_id: [1], event_timestamp: [T] },
          features: ['driver_hourly_stats:conv_rate'],
          feature_service: 'driver_activity',
        },
        400,
        'TRIB_BAD_REQUEST',
      ],
      [
        'unknown body field',
        {
          entities: { driver_id: [1], event_timestamp: [T] },
          features: ['driver_hourly_stats:conv_rate'],
          extra: 1,
        },
        400,
        'TRIB_BAD_REQUEST',
      ],
      [
        'entities not columns',
        { entities: { driver_id: 1 }, features: ['driver_hourly_stats:conv_rate'] },
        400,
        'TRIB_BAD_REQUEST',
      ],
    ];
    for (const [name, body, status, code] of cases) {
      it(name, async () => {
        const res = await post(body);
        expect(res.statusCode, res.body).toBe(status);
        expect(res.json().error.code).toBe(code);
        expect(typeof res.json().error.message).toBe('string');
      });
    }

    it('not an Arrow stream', async () => {
      const res = await h.app.inject({
        method: 'POST',
        url: '/get-historical-features?features=driver_hourly_stats:conv_rate',
        payload: Buffer.from('not arrow at all'),
        headers: { 'content-type': 'application/vnd.apache.arrow.stream' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('TRIB_BAD_REQUEST');
    });

    it('invalid JSON', async () => {
      const res = await h.app.inject({
        method: 'POST',
        url: '/get-historical-features',
        payload: '{"entities": ',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('TRIB_BAD_REQUEST');
    });

    it('unsupported media type', async () => {
      const res = await h.app.inject({
        method: 'POST',
        url: '/get-historical-features',
        payload: 'driver_id,event_timestamp\n1,2024-01-01',
        headers: { 'content-type': 'text/csv' },
      });
      expect(res.statusCode).toBe(415);
      expect(res.json().error.code).toBe('TRIB_UNSUPPORTED_MEDIA_TYPE');
    });
  });
});
