/**
 * npm run bench:dashboard — the dashboard's model page and `tributary report` at 1,000 windows.
 *
 * A monitor's drift history is seeded into Postgres the way the UI tests seed theirs
 * (fixtures/monitor-fixture.ts: the monitor's own WindowProcessor scores each window against
 * a stored profile, the monitor's Postgres store checkpoints it): WINDOWS windows of ROWS
 * predictions over NUMERIC numeric and CATEGORICAL categorical features and the prediction, a
 * few stretches of them drifted. The real serving app (`buildApp`, no API keys, logger silent)
 * serves /ui on 127.0.0.1 in this process; Debian's headless chromium (installed with apt-get
 * when missing, as the browser tests do) loads the model page over the DevTools protocol.
 *
 * Figures, medians over BENCH_RUNS runs:
 * - interactive: navigation start to `data-charts-ms` on `<html>`, which the page's script sets
 *   when its last chart is drawn (its value is `performance.now()` then, so it is that time).
 *   cold: the first load in a freshly started chromium; warm: the same URL again in the same tab,
 *   WARM_LOADS times (median of those per run). Also the navigation timing's response end and
 *   load event, and the server's time to render the page (fetched alone, HTML only) and its size.
 * - report: what `tributary report --model M --last WINDOWS --out x.html` does, in this process
 *   (the functions the command calls: buildReport, reportHtml, writeFile), and the command itself
 *   as a process (`node bin/tributary.mjs report ...`): wall time and file size.
 *
 * Baselines, in the same run: the same page limited to BASELINE_WINDOWS windows (`?limit=10`:
 * the same columns, charts and code path, so the difference is the cost of the windows
 * themselves, not of starting a page and its charting library); for the report process,
 * `node bin/tributary.mjs --help` (the CLI's start, which a one-shot command pays whatever it
 * does).
 *
 * Knobs: BENCH_RUNS (3), BENCH_WINDOWS (1000), BENCH_NUMERIC (20), BENCH_CATEGORICAL (5),
 * BENCH_ROWS (300 predictions a window), BENCH_WARM_LOADS (5), BENCH_BASELINE_WINDOWS (10).
 * Services: .services.env / the usual variables, else throwaway ones.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveDashboard } from '../fixtures/dashboard-server.ts';
import { monitorFixture } from '../fixtures/monitor-fixture.ts';
import { Browser, type Page } from '../scripts/chromium.ts';
import { buildReport, reportHtml } from '../services/serving/ui/report.ts';
import { benchServices, knob, median } from './support.ts';

const RUNS = knob('BENCH_RUNS', 3);
const WINDOWS = knob('BENCH_WINDOWS', 1_000);
const NUMERIC = knob('BENCH_NUMERIC', 20);
const CATEGORICAL = knob('BENCH_CATEGORICAL', 5);
const ROWS = knob('BENCH_ROWS', 300);
const WARM_LOADS = knob('BENCH_WARM_LOADS', 5);
const BASELINE_WINDOWS = knob('BENCH_BASELINE_WINDOWS', 10);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'tributary.mjs');

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const loads: number[][] = [loadavg()];

const { env, childEnv, stop } = await benchServices();

// Drifted stretches spread over the history, and the newest windows, as a model owner would
// see them: a few marks among hundreds of windows, the latest window drifted.
const drifted = (i: number) =>
  (i >= WINDOWS * 0.3 && i < WINDOWS * 0.3 + 20) ||
  (i >= WINDOWS * 0.7 && i < WINDOWS * 0.7 + 10) ||
  i >= WINDOWS - 25;
const seedStarted = performance.now();
const fx = await monitorFixture({
  databaseUrl: env.DATABASE_URL,
  windows: WINDOWS,
  drifted,
  rowsPerWindow: ROWS,
  numeric: NUMERIC,
  categorical: CATEGORICAL,
  prefix: 'bench_dash',
});
const seedSeconds = (performance.now() - seedStarted) / 1000;
process.stderr.write(`seeded ${fx.windows.length} windows of ${fx.model} in ${seedSeconds.toFixed(1)} s\n`);

const server = await serveDashboard(fx);
const { origin } = server;
const pageUrl = (limit: number) => `${origin}/ui/models/${fx.model}?limit=${limit}`;

interface Load {
  /** Navigation start to the last chart drawn. */
  interactiveMs: number;
  responseEndMs: number;
  loadEventMs: number;
  charts: number;
}

async function load(page: Page, url: string): Promise<Load> {
  await page.goto(url);
  const ms = await page.waitFor<string>('document.documentElement.dataset.chartsMs', 30_000);
  const timing = await page.evaluate<{ responseEnd: number; loadEventEnd: number }>(
    `(() => { const n = performance.getEntriesByType('navigation')[0]; return { responseEnd: n.responseEnd, loadEventEnd: n.loadEventEnd }; })()`,
  );
  const charts = Number(await page.evaluate<string>('document.documentElement.dataset.charts'));
  return {
    interactiveMs: Number(ms),
    responseEndMs: round1(timing.responseEnd),
    loadEventMs: round1(timing.loadEventEnd),
    charts,
  };
}

/** A fresh chromium: one cold load of `url`, then WARM_LOADS more in the same tab. */
async function session(url: string): Promise<{ cold: Load; warm: Load[]; consoleErrors: string[] }> {
  const browser = await Browser.launch();
  try {
    const page = await browser.page();
    const cold = await load(page, url);
    const warm: Load[] = [];
    for (let i = 0; i < WARM_LOADS; i++) warm.push(await load(page, url));
    return { cold, warm, consoleErrors: page.consoleErrors };
  } finally {
    await browser.close();
  }
}

/** The server alone: the page's HTML (its data inline), fetched and read to the end. */
async function serverRender(url: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const res = await fetch(url);
  const bytes = (await res.arrayBuffer()).byteLength;
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms: performance.now() - started, bytes };
}

function run(args: string[]): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tributary ${args.join(' ')}: ${error.message}\n${stderr}`));
      else resolve({ ms: performance.now() - started, stdout });
    });
  });
}

const out = await mkdtemp(path.join(tmpdir(), 'bench-dashboard-'));

interface Sample {
  coldMs: number;
  warmMs: number;
  baselineColdMs: number;
  baselineWarmMs: number;
  coldResponseEndMs: number;
  warmResponseEndMs: number;
  warmLoadEventMs: number;
  serverRenderMs: number;
  pageBytes: number;
  charts: number;
  reportInProcessMs: number;
  reportProcessMs: number;
  reportBytes: number;
  cliStartMs: number;
  consoleErrors: number;
}
const samples: Sample[] = [];
let reportSummary = '';

for (let r = 0; r < RUNS; r++) {
  const full = await session(pageUrl(WINDOWS));
  const base = await session(pageUrl(BASELINE_WINDOWS));
  const render = await serverRender(pageUrl(WINDOWS));

  // What the command does between opening its queries and printing its line.
  const file = path.join(out, `report-${r}.html`);
  const started = performance.now();
  const report = await buildReport(server.queries, fx.model, { limit: WINDOWS });
  await writeFile(file, reportHtml(report));
  const reportInProcessMs = performance.now() - started;
  const reportBytes = (await stat(file)).size;

  const cliFile = path.join(out, `report-cli-${r}.html`);
  const cli = await run([
    'report',
    '--model',
    fx.model,
    '--last',
    String(WINDOWS),
    '--monitor-schema',
    fx.schema,
    '--out',
    cliFile,
  ]);
  reportSummary = cli.stdout.trim();
  const help = await run(['--help']);

  const sample: Sample = {
    coldMs: full.cold.interactiveMs,
    warmMs: median(full.warm.map((l) => l.interactiveMs)),
    baselineColdMs: base.cold.interactiveMs,
    baselineWarmMs: median(base.warm.map((l) => l.interactiveMs)),
    coldResponseEndMs: full.cold.responseEndMs,
    warmResponseEndMs: median(full.warm.map((l) => l.responseEndMs)),
    warmLoadEventMs: median(full.warm.map((l) => l.loadEventMs)),
    serverRenderMs: render.ms,
    pageBytes: render.bytes,
    charts: full.cold.charts,
    reportInProcessMs,
    reportProcessMs: cli.ms,
    reportBytes,
    cliStartMs: help.ms,
    consoleErrors: full.consoleErrors.length + base.consoleErrors.length,
  };
  samples.push(sample);
  loads.push(loadavg());
  process.stderr.write(
    `run ${r + 1}/${RUNS}: interactive cold ${sample.coldMs} ms, warm ${sample.warmMs} ms ` +
      `(${BASELINE_WINDOWS} windows: ${sample.baselineColdMs} / ${sample.baselineWarmMs} ms), ` +
      `report ${sample.reportInProcessMs.toFixed(0)} ms in process, ${sample.reportProcessMs.toFixed(0)} ms as a process\n`,
  );
}

const of = (pick: (s: Sample) => number) => round1(median(samples.map(pick)));
const figures = {
  modelPage: {
    interactiveColdMs: of((s) => s.coldMs),
    interactiveWarmMs: of((s) => s.warmMs),
    responseEndColdMs: of((s) => s.coldResponseEndMs),
    responseEndWarmMs: of((s) => s.warmResponseEndMs),
    loadEventWarmMs: of((s) => s.warmLoadEventMs),
    serverRenderMs: of((s) => s.serverRenderMs),
    htmlBytes: samples[0]?.pageBytes ?? 0,
    charts: samples[0]?.charts ?? 0,
    consoleErrors: samples.reduce((sum, s) => sum + s.consoleErrors, 0),
  },
  baselinePage: {
    windows: BASELINE_WINDOWS,
    interactiveColdMs: of((s) => s.baselineColdMs),
    interactiveWarmMs: of((s) => s.baselineWarmMs),
  },
  report: {
    inProcessMs: of((s) => s.reportInProcessMs),
    processMs: of((s) => s.reportProcessMs),
    cliStartMs: of((s) => s.cliStartMs),
    bytes: samples[0]?.reportBytes ?? 0,
    summary: reportSummary,
  },
  runs: samples.map((s) => ({
    interactiveColdMs: s.coldMs,
    interactiveWarmMs: s.warmMs,
    baselineColdMs: s.baselineColdMs,
    baselineWarmMs: s.baselineWarmMs,
    reportInProcessMs: round1(s.reportInProcessMs),
    reportProcessMs: round1(s.reportProcessMs),
    cliStartMs: round1(s.cliStartMs),
  })),
};

console.log(
  JSON.stringify(
    {
      benchmark: 'dashboard',
      date: new Date().toISOString(),
      setup: {
        runs: RUNS,
        windows: fx.windows.length,
        driftedWindows: fx.windows.filter((w) => w.dataset.drifted).length,
        features: { numeric: NUMERIC, categorical: CATEGORICAL, plusPrediction: true },
        predictionsPerWindow: ROWS,
        seedSeconds: round1(seedSeconds),
        page: `/ui/models/<model>?limit=${WINDOWS}`,
        warmLoadsPerRun: WARM_LOADS,
        interactive:
          'navigation start to data-charts-ms on <html> (set by dashboard.js when its last chart is drawn)',
        cold: 'the first load in a freshly started headless chromium',
        warm: 'the same URL again in the same tab (median of the warm loads of each run)',
        baseline: `the same page with ?limit=${BASELINE_WINDOWS}: the same columns, charts and script, so the difference from the full page is what the windows cost; for the report process, \`tributary --help\` (the CLI's start)`,
        report: `buildReport + reportHtml + writeFile as the command runs them (inProcess), and \`node bin/tributary.mjs report --model <model> --last ${WINDOWS} --out x.html\` as a process`,
        machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loads.map((l) => l.map(round3)) },
        node: process.version,
        note: 'the machine is shared with other jobs (see loadavg, 1/5/15 min, before and after each run): figures are upper bounds',
      },
      figures,
      targets: {
        [`model page of ${WINDOWS} windows interactive <= 1 s (warm)`]:
          figures.modelPage.interactiveWarmMs <= 1000,
        [`model page of ${WINDOWS} windows interactive <= 1 s (cold)`]:
          figures.modelPage.interactiveColdMs <= 1000,
        'report written <= 2 s (in process)': figures.report.inProcessMs <= 2000,
        'report written <= 2 s (as a process)': figures.report.processMs <= 2000,
        'no console error': figures.modelPage.consoleErrors === 0,
      },
    },
    null,
    2,
  ),
);

await rm(out, { recursive: true, force: true });
await server.close();
await fx.drop();
await stop();
