/**
 * The dashboard's feature views page on real services: the materializer consumes a real topic
 * feeding three views, writes the online store and dead-letters what it cannot decode, counting
 * the letters in Postgres; the page shows each view's online key count (a SCAN of the real
 * Redis) and its dead letters by code, equal to the letters in the dead-letter topic, and
 * a materializer run again over the same events adds no count. A stream view's aggregations
 * are listed with their windows. The same page in headless Chromium, its links followed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../../../scripts/chromium.ts';
import { Materializer } from '../../../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../../../services/materializer/metrics.ts';
import { PostgresFeatureViewStats } from '../../../services/serving/ui/feature-views.ts';
import type { RepoSpec, StreamFeatureViewSpec } from '../../../shared/definitions/types.ts';
import { DLQ_HEADERS } from '../../../shared/events/dead-letter.ts';
import { FEATURE_VIEW_HEADER } from '../../../shared/events/dead-letter-counts.ts';
import { createLogger } from '../../../shared/logger.ts';
import { createPool, type PgPool } from '../../../shared/postgres/index.ts';
import { StaticDefinitions } from '../../../shared/registry/live.ts';
import { PostgresDeadLetterCounts } from '../../../shared/stores/offline/postgres/dead-letter-counts.ts';
import { RedisKeyCounter } from '../../../shared/stores/online/key-count.ts';
import { RedisOnlineStore } from '../../../shared/stores/online/redis.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { IncomingMessage } from '../../../shared/stream/port.ts';
import { ROOT } from '../../support/cli.ts';
import { services, uniqueName } from '../../support/env.ts';
import { type Harness, harness, servingSpec } from '../serving/support.ts';

/** Recent: driver_hourly_stats has a 1-day ttl, and the store keeps no value past it and its grace. */
const T0 = Date.now() - 60_000;
const schema = uniqueName('ui_fv');
const topic = uniqueName('ui_fv_src');
const prefix = uniqueName('ui_fv_online');
/** driver_hourly_stats (through the push source), driver_profile and customer_stats, all on `topic`. */
const materialized = servingSpec(topic);
const tripStats: StreamFeatureViewSpec = {
  kind: 'streamFeatureView',
  name: 'driver_trip_stats',
  entities: ['driver'],
  source: 'driver_stats_source',
  schema: [{ name: 'conv_rate', type: 'float64' }],
  aggregations: [
    {
      column: 'conv_rate',
      function: 'mean',
      windowMs: 3_600_000,
      resolutionMs: 300_000,
      name: 'conv_rate_mean_1h',
      type: 'float64',
    },
    {
      column: 'conv_rate',
      function: 'count',
      windowMs: 86_400_000,
      resolutionMs: 3_600_000,
      name: 'conv_rate_count_1d',
      type: 'int64',
    },
  ],
  online: true,
  offline: true,
};
/** What the dashboard shows: the materialized views and a stream view the materializer does not run here. */
const shown: RepoSpec = { ...materialized, streamFeatureViews: [tripStats] };

const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
let pool: PgPool;
let online: RedisOnlineStore;
let counter: RedisKeyCounter;
let counts: PostgresDeadLetterCounts;
let h: Harness;
const materializers: Materializer[] = [];

async function materialize(): Promise<Materializer> {
  const m = new Materializer(
    {
      definitions: new StaticDefinitions(materialized),
      stream,
      offline: h.offline,
      online,
      metrics: createMaterializerMetrics(new Registry()),
      logger: createLogger('test', 'silent'),
      deadLetterCounts: counts,
    },
    { groupPrefix: uniqueName('mat'), start: { from: 'beginning' } },
  );
  materializers.push(m);
  await m.start();
  return m;
}

/** Until the materializer has committed every event: its batches, letters counted, are done. */
async function caughtUp(m: Materializer): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await m.lag()) > 0 || m.health().consumers === 0) {
    if (Date.now() > deadline) throw new Error('the materializer did not catch up');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const event = (driver: number, fields: Record<string, unknown> = {}) => ({
  value: JSON.stringify({
    driver_id: driver,
    event_timestamp: new Date(T0 + driver * 1000).toISOString(),
    rating: 4.5,
    conv_rate: 0.5,
    avg_daily_trips: 3,
    ...fields,
  }),
});

beforeAll(async () => {
  const admin = await stream.admin();
  await admin.ensureTopics([{ topic }, { topic: `${topic}.dlq` }]);
  await admin.close();
  pool = createPool({ connectionString: services().DATABASE_URL, max: 3 });
  online = new RedisOnlineStore({ url: services().REDIS_URL, prefix });
  // The shared Redis holds other tests' keys, and a loaded machine is slow: a generous
  // budget, so the counts are exact (the cap has its own test, online-key-count).
  counter = new RedisKeyCounter({
    url: services().REDIS_URL,
    prefix,
    cacheMs: 0,
    budgetMs: 20_000,
    maxCalls: 1e6,
  });
  counts = new PostgresDeadLetterCounts(pool, schema);
  const offline = new PostgresFeatureViewStats(pool, schema);
  h = await harness(
    schema,
    {
      featureViewStats: {
        offline: (v) => offline.offline(v),
        onlineKeys: (v) => counter.countKeys(v),
        deadLetters: (t) => counts.ofTopic(t),
      },
    },
    shown,
  );
  const producer = await stream.producer();
  // Drivers 1–3 are fine for the driver views; driver 4's rating is text, which driver_profile
  // refuses; none has a customer_id, which customer_stats needs; one message is not JSON.
  await producer.send(topic, [
    event(1),
    event(2),
    event(3),
    event(4, { rating: 'high' }),
    { value: 'not json' },
  ]);
  await producer.close();
  await materialize();
}, 60_000);

afterAll(async () => {
  for (const m of materializers) await m.stop();
  await counter.close();
  await online.close();
  await h.close();
  await pool.end();
  const admin = await stream.admin();
  await admin.deleteTopics([topic, `${topic}.dlq`]);
  await admin.close();
  await stream.close();
});

const get = (url: string) => h.app.inject({ method: 'GET', url });

/** The letters in the dead-letter topic, once there are `expected` of them. */
async function letters(expected: number): Promise<IncomingMessage[]> {
  const consumer = await stream.consumer({
    groupId: uniqueName('reader'),
    topics: [`${topic}.dlq`],
    start: { from: 'beginning' },
  });
  const messages: IncomingMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`read ${messages.length} of ${expected} letters`)),
        30_000,
      );
      void consumer.run(async (batch) => {
        messages.push(...batch.messages);
        if (messages.length >= expected) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await consumer.close();
  }
  return messages;
}

/** (view or '*', code) → count, from the letters themselves. */
function tallyOf(messages: IncomingMessage[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const m of messages) {
    const key = `${m.headers[FEATURE_VIEW_HEADER] ?? '*'} ${m.headers[DLQ_HEADERS.errorCode]}`;
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

/** (view or '*', code) → count, from the counts the pages read. */
async function countedUntil(total: number): Promise<Record<string, number>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const tallies = await counts.ofTopic(topic);
    if (tallies.reduce((n, t) => n + t.count, 0) >= total || Date.now() > deadline) {
      return Object.fromEntries(tallies.map((t) => [`${t.view ?? '*'} ${t.code}`, t.count]));
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The text of the cells marked `attribute` in the row of `view`. */
function cell(body: string, view: string, attribute: string): string {
  const row = new RegExp(`<tr data-view="${view}">(.*?)</tr>`, 's').exec(body)?.[1] ?? '';
  return (
    new RegExp(`<td class="num" ${attribute}>(.*?)</td>`, 's').exec(row)?.[1]?.replace(/<[^>]+>/g, '') ?? ''
  );
}

describe('feature views page on real services', () => {
  it('counts each dead letter of the topic once, by view and code, as the topic holds them', async () => {
    const topicLetters = await letters(6);
    expect(topicLetters).toHaveLength(6);
    const fromTopic = tallyOf(topicLetters);
    expect(fromTopic['driver_profile TRIB_WRONG_TYPE']).toBe(1);
    expect(fromTopic['* TRIB_DECODE_FAILED']).toBe(1);
    expect(await countedUntil(6)).toEqual(fromTopic);
  });

  it("lists each view's online key count and dead-letter total", async () => {
    const r = await get('/ui/feature-views');
    expect(r.statusCode, r.body).toBe(200);
    // The materializer wrote drivers 1–4 to driver_hourly_stats, 1–3 to driver_profile.
    expect(cell(r.body, 'driver_hourly_stats', 'data-online-keys')).toBe('4');
    expect(cell(r.body, 'driver_profile', 'data-online-keys')).toBe('3');
    expect(cell(r.body, 'customer_stats', 'data-online-keys')).toBe('0');
    // Its own letter and the message that was not JSON, which no view could read.
    expect(cell(r.body, 'driver_profile', 'data-dead-letters')).toBe('2');
    expect(cell(r.body, 'customer_stats', 'data-dead-letters')).toBe('5');
    expect(cell(r.body, 'driver_hourly_stats', 'data-dead-letters')).toBe('1');
  });

  it("shows a view's dead letters by code with the latest reason", async () => {
    const r = await get('/ui/feature-views/driver_profile');
    expect(r.statusCode, r.body).toBe(200);
    expect(r.body).toContain('id="dead-letters"');
    expect(r.body).toMatch(
      /<tr data-code="TRIB_WRONG_TYPE"><td><code>TRIB_WRONG_TYPE<\/code><\/td><td class="num">1<\/td><td>[^<]*rating[^<]*<\/td>/,
    );
    expect(r.body).toMatch(
      /<tr data-code="TRIB_DECODE_FAILED"><td><code>TRIB_DECODE_FAILED<\/code> \(whole message, before any view\)<\/td><td class="num">1<\/td>/,
    );
    expect(r.body).toMatch(/<dd data-online-keys>3<\/dd>/);
  });

  it('lists a stream view with each aggregation, its column, window and resolution', async () => {
    const list = await get('/ui/feature-views');
    expect(list.body).toContain('<h2>Aggregated views</h2>');
    const r = await get('/ui/feature-views/driver_trip_stats');
    expect(r.statusCode, r.body).toBe(200);
    for (const body of [list.body, r.body]) {
      expect(body).toContain(
        '<tr data-aggregation="conv_rate_mean_1h"><td>conv_rate_mean_1h</td><td>mean</td><td><code>conv_rate</code></td><td>60 min</td><td>5 min</td></tr>',
      );
      expect(body).toContain(
        '<tr data-aggregation="conv_rate_count_1d"><td>conv_rate_count_1d</td><td>count</td><td><code>conv_rate</code></td><td>24.0 h</td><td>60 min</td></tr>',
      );
    }
  });

  it('shows the counts in headless Chromium, the dead letters a link away, all local', async () => {
    const browser = await Browser.launch();
    try {
      const origin = await h.app.listen({ port: 0, host: '127.0.0.1' });
      const page = await browser.page();
      await page.goto(`${origin}/ui/feature-views`);
      const text = (view: string, attribute: string) =>
        page.evaluate<string>(
          `document.querySelector('tr[data-view="${view}"] [${attribute}]').innerText.trim()`,
        );
      expect(await text('driver_hourly_stats', 'data-online-keys')).toBe('4');
      expect(await text('driver_profile', 'data-online-keys')).toBe('3');
      expect(await text('driver_profile', 'data-dead-letters')).toBe('2');
      const shots = path.join(ROOT, '.scratch', 'ui-screenshots');
      await mkdir(shots, { recursive: true });
      await writeFile(path.join(shots, 'feature-views.png'), await page.screenshot());
      await page.loaded(() =>
        page.evaluate(
          `document.querySelector('tr[data-view="driver_profile"] [data-dead-letters] a').click()`,
        ),
      );
      expect(await page.evaluate('location.pathname + location.hash')).toBe(
        '/ui/feature-views/driver_profile#dead-letters',
      );
      const rows = await page.evaluate<string[]>(
        `[...document.querySelectorAll('tr[data-code]')].map((r) => r.dataset.code + ' ' + r.cells[1].innerText)`,
      );
      expect(rows.sort()).toEqual(['TRIB_DECODE_FAILED 1', 'TRIB_WRONG_TYPE 1']);
      await writeFile(path.join(shots, 'feature-view.png'), await page.screenshot());
      expect(page.consoleErrors).toEqual([]);
      expect(page.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('a materializer run again over the same events publishes the letters again but counts none twice', async () => {
    const before = await countedUntil(6);
    expect(Object.values(before).reduce((a, b) => a + b, 0)).toBe(6);
    const again = await materialize();
    await caughtUp(again);
    // Published again: the topic now holds every letter twice…
    expect(await letters(12)).toHaveLength(12);
    // …and the counts, recorded before the batch was committed, are those of one run.
    expect(await countedUntil(6)).toEqual(before);
  }, 60_000);
});
