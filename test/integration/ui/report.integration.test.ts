/**
 * `tributary report` as a process against a real monitor schema with closed windows: one
 * self-contained HTML file (no external script, style or request), or the same content as JSON.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MonitorFixture, monitorFixture } from '../../../fixtures/monitor-fixture.ts';
import type { Report } from '../../../services/serving/ui/report.ts';
import { runCli } from '../../support/cli.ts';
import { services } from '../../support/env.ts';

let fx: MonitorFixture;
let dir: string;
beforeAll(async () => {
  fx = await monitorFixture({
    databaseUrl: services().DATABASE_URL,
    windows: 12,
    drifted: (i) => i >= 4 && i < 7,
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-report-'));
});
afterAll(async () => {
  await fx.drop();
  await rm(dir, { recursive: true, force: true });
});

const schema = () => ['--monitor-schema', fx.schema];

describe('tributary report', () => {
  it('writes one self-contained HTML file with the model and its drifted windows', async () => {
    const out = path.join(dir, 'drift.html');
    const r = await runCli(['report', '--model', fx.model, '--out', out, ...schema()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Wrote the drift report of ${fx.model}`);
    expect(r.stdout).toContain('12 windows (3 drifted)');
    const html = await readFile(out, 'utf8');
    // Inlined: no script, style or image comes from anywhere, and the CSP forbids any request.
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+stylesheet/);
    expect(html).toMatch(/http-equiv="Content-Security-Policy" content="default-src (&#39;|')none/);
    expect(html).toContain('uPlot');
    const data = JSON.parse(/id="tributary-data">(.*?)<\/script>/s.exec(html)![1]!);
    expect(data.model.windows).toHaveLength(12);
    // The latest window and the three drifted ones, in full, each an anchor of the file.
    expect(data.windows.map((w: { window: { id: string } }) => w.window.id)).toEqual([
      fx.windows[0]!.id,
      ...fx.windows.filter((w) => w.dataset.drifted).map((w) => w.id),
    ]);
    for (const w of data.windows) expect(html).toContain(`id="w-${w.window.id}"`);
    expect(html.match(/<div class="chart" data-chart="hist"/g)!.length).toBe(4 * 2);
  });

  it('writes the same content as JSON, narrowed by --last or --from/--to', async () => {
    const out = path.join(dir, 'drift.json');
    const r = await runCli([
      'report',
      '--model',
      fx.model,
      '--last',
      '5',
      '--format',
      'json',
      '--out',
      out,
      ...schema(),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(await readFile(out, 'utf8')) as Report;
    expect(report.model.windows.map((w) => w.id)).toEqual(
      fx.windows
        .slice(0, 5)
        .map((w) => w.id)
        .reverse(),
    );
    expect(report.windows[0]!.detail!.columns.map((c) => c.name).sort()).toEqual([
      'color',
      'prediction',
      'x',
    ]);
    const from = new Date(fx.windows[3]!.window.end).toISOString();
    const to = new Date(fx.windows[1]!.window.end).toISOString();
    const ranged = await runCli([
      'report',
      '--model',
      fx.model,
      '--from',
      from,
      '--to',
      to,
      '--format',
      'json',
      '--out',
      out,
      ...schema(),
    ]);
    expect(ranged.code, ranged.stderr).toBe(0);
    const narrowed = JSON.parse(await readFile(out, 'utf8')) as Report;
    expect(narrowed.model.windows.map((w) => w.id)).toEqual([fx.windows[3]!.id, fx.windows[2]!.id]);
  });

  it.each([
    [['--last', '5', '--from', '2026-01-01'], 'TRIB_BAD_REQUEST'],
    [['--last', '0'], 'TRIB_BAD_REQUEST'],
    [['--format', 'pdf'], 'TRIB_BAD_REQUEST'],
    [['--from', 'yesterday'], 'TRIB_BAD_REQUEST'],
    [['--model-version', '99'], 'TRIB_NOT_FOUND'],
  ])('refuses %j with %s and writes nothing', async (args, code) => {
    const out = path.join(dir, `refused-${code}-${args.join('')}.html`);
    const r = await runCli(['report', '--model', fx.model, '--out', out, ...schema(), ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(code);
    await expect(readFile(out)).rejects.toThrow();
  });

  it('needs --model and --out, and says how in --help', async () => {
    const r = await runCli(['report', '--out', path.join(dir, 'x.html')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--model is required');
    const help = await runCli(['report', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: tributary report --model <name>');
  });
});
