/**
 * The README's pictures of the dashboard, from a real run:
 * `npx tsx scripts/dashboard-screenshots.ts [out-dir]` (default docs/images/).
 *
 * Seeds a monitor's history into Postgres as the UI tests do (fixtures/monitor-fixture.ts:
 * the monitor's WindowProcessor scores 150 windows of 300 predictions over four numeric and two
 * categorical features against a stored profile; two stretches and the newest windows drifted),
 * serves /ui from the real serving app on 127.0.0.1, and captures, in headless chromium at
 * 1200×700:
 * - dashboard-model.png: the model page (the dataset drift share, every column's score with its
 *   threshold, drifted windows marked);
 * - dashboard-window.png: the newest (drifted) window, scrolled to its first column's overlaid
 *   histograms.
 * Services: the usual variables / .services.env, else throwaway ones (removed at the end). The
 * seeded schema is dropped at the end.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDashboard } from '../fixtures/dashboard-server.ts';
import { monitorFixture } from '../fixtures/monitor-fixture.ts';
import { Browser, type Page } from './chromium.ts';
import { servicesUp } from './services.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs', 'images'));
const WIDTH = 1200;
const HEIGHT = 700;

const { env, stop } = await servicesUp({ persist: false });
const fx = await monitorFixture({
  databaseUrl: env.DATABASE_URL,
  model: 'driver_model',
  windows: 150,
  drifted: (i) => (i >= 60 && i < 66) || (i >= 110 && i < 113) || i >= 144,
  numeric: 4,
  categorical: 2,
  prefix: 'shots',
});
const server = await serveDashboard(fx);
const browser = await Browser.launch();
try {
  await mkdir(OUT, { recursive: true });
  const page = await browser.page();
  await page.viewport(WIDTH, HEIGHT);

  const capture = async (url: string, file: string, scrollTo?: string): Promise<void> => {
    await page.goto(`${server.origin}${url}`);
    await page.waitFor('document.documentElement.dataset.chartsMs', 30_000);
    // The section holding the element, its heading (column, method, score, verdict) in view.
    if (scrollTo)
      await page.evaluate(
        `document.querySelector(${JSON.stringify(scrollTo)}).closest('section').scrollIntoView(); window.scrollBy(0, -12)`,
      );
    await check(page, url);
    const png = await page.screenshot({ fullPage: false });
    await writeFile(path.join(OUT, file), png);
    console.log(
      `${path.relative(ROOT, path.join(OUT, file))}: ${url}, ${(png.length / 1024).toFixed(0)} KiB`,
    );
  };

  await capture(`/ui/models/${fx.model}`, 'dashboard-model.png');
  const newest = fx.windows[0]!;
  await capture(
    `/ui/models/${fx.model}/windows/${encodeURIComponent(newest.id)}`,
    'dashboard-window.png',
    '[data-chart=hist]',
  );
} finally {
  await browser.close();
  await server.close();
  await fx.drop();
  await stop();
}

/** A picture of a broken page is worse than none. */
async function check(page: Page, url: string): Promise<void> {
  if (page.consoleErrors.length > 0)
    throw new Error(`${url}: console errors ${page.consoleErrors.join('; ')}`);
  const charts = Number(await page.evaluate<string>('document.documentElement.dataset.charts'));
  if (!(charts > 0)) throw new Error(`${url}: no chart drawn`);
}
