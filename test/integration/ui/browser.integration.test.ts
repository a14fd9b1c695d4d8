/**
 * The dashboard and the report in headless Chromium (Debian's package, over the DevTools
 * protocol) against a real monitor schema: the models page, a model over time, a drifted window,
 * keyboard navigation, API keys, and the report file opened from disk. Each page must draw its
 * charts with no console error and no request beyond the server (or the file itself).
 * Screenshots go to .scratch/ui-screenshots/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MonitorFixture, monitorFixture } from '../../../fixtures/monitor-fixture.ts';
import { Browser, type Page } from '../../../scripts/chromium.ts';
import { buildReport, reportHtml } from '../../../services/serving/ui/report.ts';
import { openMonitorQueries } from '../../../shared/monitoring/queries.ts';
import { ROOT } from '../../support/cli.ts';
import { services, uniqueName } from '../../support/env.ts';
import { type Harness, harness } from '../serving/support.ts';

const KEY = 'browser-test-key';
const SHOTS = path.join(ROOT, '.scratch', 'ui-screenshots');
let fx: MonitorFixture;
let h: Harness;
let origin: string;
let browser: Browser;
let closeQueries: () => Promise<void>;
let queries: ReturnType<typeof openMonitorQueries>['queries'];

beforeAll(async () => {
  browser = await Browser.launch();
  fx = await monitorFixture({
    databaseUrl: services().DATABASE_URL,
    windows: 40,
    drifted: (i) => (i >= 20 && i < 24) || i >= 37,
  });
  const opened = openMonitorQueries({ pool: fx.pool, schema: fx.schema });
  queries = opened.queries;
  closeQueries = opened.close;
  h = await harness(uniqueName('ui_browser'), { monitorQueries: queries, config: { apiKeys: [KEY] } });
  origin = await h.app.listen({ port: 0, host: '127.0.0.1' });
  await mkdir(SHOTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await closeQueries?.();
  await h?.close();
  await fx?.drop();
});

async function shot(page: Page, name: string): Promise<void> {
  await writeFile(path.join(SHOTS, `${name}.png`), await page.screenshot());
}

/** Every request stayed on the server (or was inline data). */
function expectLocal(page: Page, allowed: string): void {
  const outside = page.requests.filter((u) => !u.startsWith(allowed) && !u.startsWith('data:'));
  expect(outside).toEqual([]);
}

const charts = (page: Page) => page.waitFor<string>('document.documentElement.dataset.charts');

describe('dashboard in headless Chromium', () => {
  it('goes from the models page to a model to a drifted window, charts drawn, all local', async () => {
    const page = await browser.page();
    // The key once in the URL: the server sets its cookie and redirects to the page without it.
    await page.goto(`${origin}/ui?key=${KEY}`);
    expect(await page.evaluate('location.pathname + location.search')).toBe('/ui');
    expect(await page.evaluate('document.title')).toBe('Models · Tributary');
    await shot(page, 'models');

    // By keyboard: Tab to the model's link, Enter follows it.
    let focused = '';
    for (let i = 0; i < 30 && !focused.endsWith(`/ui/models/${fx.model}`); i++) {
      await page.press('Tab');
      focused = await page.evaluate<string>('document.activeElement && document.activeElement.href || ""');
    }
    expect(focused).toBe(`${origin}/ui/models/${fx.model}`);
    await page.loaded(() => page.press('Enter'));
    expect(await page.evaluate('location.pathname')).toBe(`/ui/models/${fx.model}`);

    // The dataset share chart and one score chart per column (x, color, prediction).
    expect(Number(await charts(page))).toBe(4);
    const chartInfo = await page.evaluate<{ canvases: number; series: number[] }>(`({
      canvases: document.querySelectorAll('.chart canvas').length,
      series: [...document.querySelectorAll('.chart')].map((c) => c.querySelectorAll('.u-legend .u-series').length),
    })`);
    expect(chartInfo.canvases).toBe(4);
    // x, the score (or share), its threshold, the drifted marks.
    expect(chartInfo.series).toEqual([4, 4, 4, 4]);
    const data = await page.evaluate<{ windows: { drifted: boolean }[]; columns: { score: unknown[] }[] }>(
      'JSON.parse(document.getElementById("tributary-data").textContent).model',
    );
    expect(data.windows).toHaveLength(40);
    for (const c of data.columns) expect(c.score).toHaveLength(40);
    const drifted = fx.windows.filter((w) => w.dataset.drifted).length;
    expect(data.windows.filter((w) => w.drifted)).toHaveLength(drifted);
    expect(await page.evaluate('document.querySelectorAll("#windows tr.drifted").length')).toBe(drifted);
    await shot(page, 'model');

    // A drifted window, from its link in the windows table.
    const target = await page.evaluate<string>('document.querySelector("#windows tr.drifted a").href');
    await page.loaded(() => page.evaluate('document.querySelector("#windows tr.drifted a").click()'));
    expect(await page.evaluate('location.href')).toBe(target);
    // Two numeric histograms (x, prediction) and the colour shares.
    expect(Number(await charts(page))).toBe(3);
    expect(await page.evaluate('document.querySelectorAll("[data-chart=hist] canvas").length')).toBe(2);
    expect(await page.evaluate('document.querySelectorAll("[data-chart=shares] canvas").length')).toBe(1);
    expect(await page.evaluate('document.body.innerText')).toMatch(/Missing from the window: (red|green)/);
    await shot(page, 'window');

    expect(page.consoleErrors).toEqual([]);
    expectLocal(page, origin);
  });

  it('shows no page and no data without a key', async () => {
    const page = await browser.page();
    for (const url of [
      '/ui',
      `/ui/models/${fx.model}`,
      `/ui/models/${fx.model}/windows/${fx.windows[0]!.id}`,
    ]) {
      await page.goto(`${origin}${url}`);
      expect(await page.evaluate('document.title')).toBe('Sign in · Tributary');
      expect(await page.evaluate('document.getElementById("tributary-data")')).toBeNull();
      expect(await page.evaluate<string>('document.body.innerText')).not.toContain(fx.model);
    }
    await shot(page, 'login');
    // Signing in with the form goes on to the page asked for.
    await page.loaded(() =>
      page.evaluate(
        `document.querySelector('input[name=key]').value = ${JSON.stringify(KEY)}; document.querySelector('form.login').submit()`,
      ),
    );
    expect(await page.evaluate('location.pathname')).toBe(
      `/ui/models/${fx.model}/windows/${fx.windows[0]!.id}`,
    );
    expect(Number(await charts(page))).toBe(3);
    // The 401 answers themselves are logged by Chromium as failed loads; nothing else may be.
    expect(page.consoleErrors.filter((e) => !e.includes('401'))).toEqual([]);
    expectLocal(page, origin);
  });

  it('opens the report from disk and draws it with no request at all', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-report-browser-'));
    try {
      const file = path.join(dir, 'drift.html');
      await writeFile(file, reportHtml(await buildReport(queries, fx.model, { limit: 500 })));
      const page = await browser.page();
      const url = pathToFileURL(file).href;
      await page.goto(url);
      // 4 model charts, then the latest and the drifted windows with 3 charts each.
      const windows = 1 + fx.windows.slice(1).filter((w) => w.dataset.drifted).length;
      expect(Number(await charts(page))).toBe(4 + 3 * windows);
      await shot(page, 'report');
      expect(page.consoleErrors).toEqual([]);
      expect(page.requests.filter((u) => u !== url && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
