/**
 * The dashboard's pages as served by the serving app, on a real monitor schema and offline
 * store: links between the pages, the data each one embeds, and API-key enforcement (Bearer,
 * `?key=` → cookie, login form) with no page or data shown without a key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MonitorFixture, monitorFixture } from '../../../fixtures/monitor-fixture.ts';
import { PostgresFeatureViewStats } from '../../../services/serving/ui/feature-views.ts';
import { openMonitorQueries } from '../../../shared/monitoring/queries.ts';
import { services, uniqueName } from '../../support/env.ts';
import { type Harness, harness, row } from '../serving/support.ts';

const KEY = 'ui-test-key';
let fx: MonitorFixture;
let h: Harness;
let close: () => Promise<void>;

beforeAll(async () => {
  fx = await monitorFixture({
    databaseUrl: services().DATABASE_URL,
    windows: 8,
    drifted: (i) => i >= 5,
    keepWindowDetail: 6,
  });
  const monitoring = openMonitorQueries({ pool: fx.pool, schema: fx.schema });
  close = monitoring.close;
  const schema = uniqueName('ui_offline');
  h = await harness(schema, {
    monitorQueries: monitoring.queries,
    config: { apiKeys: [KEY] },
    featureViewStats: new PostgresFeatureViewStats(fx.pool, schema),
  });
  await h.write('driver_profile', [
    row([1001], Date.parse('2026-11-20T09:00:00Z'), [4.5, null, null, null, null]),
  ]);
});
afterAll(async () => {
  await close();
  await h.close();
  await fx.drop();
});

const auth = { authorization: `Bearer ${KEY}` };
const get = (url: string, headers: Record<string, string> = auth) =>
  h.app.inject({ method: 'GET', url, headers });

describe('dashboard pages', () => {
  it('lists the model with its latest verdict, linking to its page and latest window', async () => {
    const r = await get('/ui');
    expect(r.statusCode, r.body).toBe(200);
    expect(r.headers['content-type']).toContain('text/html');
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.body).toContain(`href="/ui/models/${fx.model}"`);
    expect(r.body).toContain(`href="/ui/models/${fx.model}/windows/${fx.windows[0]!.id}"`);
    expect(r.body).toMatch(/class="badge drifted"/);
  });

  it('shows a model over time with every window, retraining request and a chart per column', async () => {
    const r = await get(`/ui/models/${fx.model}`);
    expect(r.statusCode, r.body).toBe(200);
    const json = /<script type="application\/json" id="tributary-data">(.*?)<\/script>/s.exec(r.body)![1]!;
    const data = JSON.parse(json);
    expect(data.model.windows).toHaveLength(8);
    expect(data.model.windows.map((w: { drifted: boolean }) => w.drifted)).toEqual(
      [...fx.windows].reverse().map((w) => w.dataset.drifted),
    );
    expect(data.model.columns.map((c: { name: string }) => c.name)).toEqual(['x', 'color', 'prediction']);
    expect(data.model.retrains.length).toBe(fx.retrains.length);
    expect(fx.retrains.length).toBeGreaterThan(0);
    expect(r.body.match(/data-chart="score"/g)).toHaveLength(3);
    for (const w of fx.windows) expect(r.body).toContain(`/ui/models/${fx.model}/windows/${w.id}`);
  });

  it('narrows the model page to a time range from the query string', async () => {
    const from = new Date(fx.windows[2]!.window.end).toISOString().slice(0, 16);
    const r = await get(`/ui/models/${fx.model}?from=${encodeURIComponent(from)}&limit=2`);
    expect(r.statusCode, r.body).toBe(200);
    const data = JSON.parse(/id="tributary-data">(.*?)<\/script>/s.exec(r.body)![1]!);
    expect(data.model.windows.map((w: { id: string }) => w.id)).toEqual([
      fx.windows[1]!.id,
      fx.windows[0]!.id,
    ]);
    expect((await get(`/ui/models/${fx.model}?from=yesterday`)).statusCode).toBe(400);
  });

  it('shows a window with its histograms, shares and verdicts; an old one says its detail is gone', async () => {
    const r = await get(`/ui/models/${fx.model}/windows/${fx.windows[0]!.id}`);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.body).toContain('data-chart="hist"');
    expect(r.body).toContain('data-chart="shares"');
    expect(r.body).toMatch(/Missing from the window: <code>(green|red)<\/code>/);
    const old = await get(`/ui/models/${fx.model}/windows/${fx.windows[7]!.id}`);
    expect(old.statusCode).toBe(200);
    expect(old.body).toContain('TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL');
    const missing = await get(`/ui/models/${fx.model}/windows/nope`);
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toContain('TRIB_NOT_FOUND');
  });

  it('lists feature views with freshness from the offline store, each with its own page', async () => {
    const r = await get('/ui/feature-views');
    expect(r.statusCode, r.body).toBe(200);
    expect(r.body).toContain('href="/ui/feature-views/driver_profile"');
    expect(r.body).toContain('2026-11-20T09:00:00Z');
    const one = await get('/ui/feature-views/driver_profile');
    expect(one.statusCode).toBe(200);
    expect(one.body).toContain('rating');
    expect((await get('/ui/feature-views/none')).statusCode).toBe(404);
  });

  it('serves uPlot and its own assets itself', async () => {
    for (const a of ['uPlot.iife.min.js', 'uPlot.min.css', 'dashboard.js', 'dashboard.css']) {
      const r = await get(`/ui/assets/${a}`, {});
      expect(r.statusCode, a).toBe(200);
      expect(r.body.length).toBeGreaterThan(500);
    }
  });
});

describe('dashboard with API keys', () => {
  it.each(['/ui', `/ui/models/x`, '/ui/models/x/windows/y', '/ui/feature-views'])(
    'refuses %s without a key, with a login form and no data',
    async (url) => {
      const r = await get(url, {});
      expect(r.statusCode).toBe(401);
      expect(r.body).toContain('<form method="post" action="/ui/login"');
      expect(r.body).not.toContain('tributary-data');
      expect(r.body).not.toContain(fx.model);
    },
  );

  it('refuses a wrong key, a wrong cookie, and the JSON routes without a Bearer key', async () => {
    expect((await get('/ui?key=wrong', {})).statusCode).toBe(401);
    expect((await get('/ui', { cookie: 'tributary_ui=forged' })).statusCode).toBe(401);
    expect((await get(`/monitors/${fx.model}/windows`, {})).statusCode).toBe(401);
  });

  it('takes ?key= once: sets an HttpOnly SameSite=Strict cookie and redirects without the key', async () => {
    const r = await get(`/ui/models/${fx.model}?key=${KEY}&limit=3`, {});
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe(`/ui/models/${fx.model}?limit=3`);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(/^tributary_ui=[\w-]+; Path=\/ui; HttpOnly; SameSite=Strict/);
    expect(cookie).not.toContain(KEY);
    const page = await get(`/ui/models/${fx.model}?limit=3`, { cookie: cookie.split(';')[0]! });
    expect(page.statusCode).toBe(200);
    // The cookie is for the pages only, not the JSON API.
    expect((await get(`/monitors/${fx.model}/windows`, { cookie: cookie.split(';')[0]! })).statusCode).toBe(
      401,
    );
  });

  it('signs in with the login form and goes back to the page asked for', async () => {
    const bad = await h.app.inject({
      method: 'POST',
      url: '/ui/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'key=nope&next=%2Fui%2Ffeature-views',
    });
    expect(bad.statusCode).toBe(401);
    const ok = await h.app.inject({
      method: 'POST',
      url: '/ui/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `key=${KEY}&next=${encodeURIComponent('https://evil.example/')}`,
    });
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/ui');
    expect(String(ok.headers['set-cookie'])).toContain('HttpOnly; SameSite=Strict');
  });
});
