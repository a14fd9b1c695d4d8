/**
 * The running monitor, with its profile in Postgres and predictions from Kafka, on values at the
 * edges: a reference built from a pandas CSV (booleans spelled True/False) against JSON booleans,
 * a reference whose std overflows (Postgres keeps it as null), and a feature no prediction carries.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { registerMonitorRoutes } from '../../../services/serving/routes/monitors.ts';
import type { ColumnDrift } from '../../../shared/monitoring/events.ts';
import { openMonitorQueries } from '../../../shared/monitoring/queries.ts';
import { ProfileBuilder } from '../../../shared/profiles/builder.ts';
import { readColumnBatches } from '../../../shared/profiles/input.ts';
import { categoricalDrift, numericDrift, STD_UNDEFINED, sortFinite } from '../../../shared/stats/index.ts';
import { services } from '../../support/env.ts';
import { rng } from '../../unit/monitor/helpers.ts';
import { MonitorHarness, T0 } from './harness.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const REFERENCE_ROWS = 20_000;
const WINDOW_ROWS = 1_500;

/** ±(1…2)·1e200: the mean is finite, (x − mean)² overflows, so the std is not a number. */
function huge(random: () => number, scale: number): number {
  return (random() < 0.5 ? -1 : 1) * (scale + random()) * 1e200;
}

describe('drift monitor on values at the edges (real Kafka and Postgres)', () => {
  it('agrees with the statistics library on pandas booleans, an overflowing std and a feature never sent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-edge-it-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const h = new MonitorHarness({ features: ['v:x', 'v:flag', 'v:gone'], window: { rows: WINDOW_ROWS } });
    cleanups.push(() => h.cleanup());

    // The training data as pandas writes it: `True`/`False`, and a column `gone` the model has.
    const random = rng(31);
    const reference = { x: [] as number[], flag: [] as boolean[] };
    const lines = ['x,flag,gone,prediction'];
    for (let i = 0; i < REFERENCE_ROWS; i++) {
      const x = huge(random, 1);
      const flag = random() < 0.3;
      reference.x.push(x);
      reference.flag.push(flag);
      lines.push(`${x},${flag ? 'True' : 'False'},${random()},${random()}`);
    }
    const csv = join(dir, 'training.csv');
    await writeFile(csv, `${lines.join('\n')}\n`);
    const builder = new ProfileBuilder({ model: h.model, modelVersion: '1', source: 'training.csv' });
    for await (const batch of readColumnBatches(csv)) builder.add(batch);
    await h.storeProfile('1', builder.finish());

    await h.start();
    const live = rng(32);
    const window = { x: [] as number[], flag: [] as boolean[] };
    const events = Array.from({ length: WINDOW_ROWS }, (_, i) => {
      const x = huge(live, 2);
      const flag = live() < 0.3;
      window.x.push(x);
      window.flag.push(flag);
      return JSON.stringify({
        prediction_id: `p${i}`,
        model: h.model,
        model_version: '1',
        event_timestamp: T0 + i,
        features: { x, flag },
        prediction: live(),
      });
    });
    await h.send(events);
    await expect.poll(() => h.windowCount(), { timeout: 30_000 }).toBe(1);
    const [drift] = await h.service!.store.windows({ model: h.model, limit: 10 });
    const byName = new Map<string, ColumnDrift>(drift!.features.map((f) => [f.name, f]));

    // x: the library, on the raw values, cannot norm Wasserstein by an overflowed std; neither can
    // the service, whose profile came back from Postgres with std null (it used to take the 0.001
    // floor and report drift with a score of about 1e203).
    const exact = numericDrift({ sorted: sortFinite(reference.x).sorted }, window.x);
    expect(exact).toMatchObject({ method: 'wasserstein', applicable: false, reason: STD_UNDEFINED });
    expect(byName.get('x')).toEqual({
      name: 'x',
      kind: 'numeric',
      method: null,
      score: null,
      threshold: null,
      drifted: false,
      missing_share: 0,
      measured: false,
      reason: STD_UNDEFINED,
    });

    // flag: JSON true/false fall in the reference's True/False categories, as the library counts them.
    const library = categoricalDrift(
      new Map([
        ['True', reference.flag.filter(Boolean).length],
        ['False', reference.flag.filter((f) => !f).length],
      ]),
      window.flag,
    );
    expect(library.unseenCategories).toBeUndefined();
    const flag = byName.get('flag')!;
    expect(flag).toMatchObject({
      kind: 'categorical',
      method: library.method,
      measured: true,
      drifted: false,
    });
    expect(flag.score).toBeCloseTo(library.score!, 12);

    // gone: every prediction lacks it, so it is not measured and names no method.
    expect(byName.get('gone')).toEqual({
      name: 'gone',
      kind: 'numeric',
      method: null,
      score: null,
      threshold: null,
      drifted: false,
      missing_share: 1,
      measured: false,
      reason: 'every value missing',
    });
    expect(drift!.prediction).toMatchObject({ measured: true, method: 'wasserstein' });

    // The query API serves the same verdicts (its response schema keeps null methods and reasons).
    const app = Fastify();
    const { queries, close } = openMonitorQueries({ databaseUrl: services().DATABASE_URL, schema: h.schema });
    registerMonitorRoutes(app, { queries });
    try {
      const list = await app.inject({ method: 'GET', url: `/monitors/${h.model}/windows` });
      expect(list.statusCode).toBe(200);
      expect(list.json().windows).toEqual([drift]);
      const summary = (await app.inject({ method: 'GET', url: `/monitors/${h.model}/drift` })).json();
      expect(summary.columns.find((c: { name: string }) => c.name === 'gone')).toMatchObject({
        method: null,
        latest_score: null,
        latest_drifted: false,
      });
    } finally {
      await app.close();
      await close();
    }
  });
});
