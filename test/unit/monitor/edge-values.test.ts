/**
 * Values at the edges of what a reference and a window hold: booleans spelled differently by the
 * training data and by live JSON, a reference whose spread overflows a double, and columns with no
 * value at all in a window. The service must give the answer the statistics library gives.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bool, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePrediction } from '../../../services/monitor/decode.ts';
import { scoreWindow } from '../../../services/monitor/scoring.ts';
import { WindowState } from '../../../services/monitor/window.ts';
import { ProfileBuilder } from '../../../shared/profiles/builder.ts';
import { readColumnBatches } from '../../../shared/profiles/input.ts';
import type { NumericColumnProfile, ReferenceProfile } from '../../../shared/profiles/types.ts';
import {
  categoricalDrift,
  categoryKey,
  numericDrift,
  numericDriftFromGrid,
  STD_UNDEFINED,
  sortFinite,
  WindowHistogram,
} from '../../../shared/stats/index.ts';
import { rng } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-edge-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function profileOf(path: string): Promise<ReferenceProfile> {
  const builder = new ProfileBuilder({ model: 'm', modelVersion: '1', source: path, now: () => new Date(0) });
  for await (const batch of readColumnBatches(path, { batchRows: 64 })) builder.add(batch);
  return builder.finish();
}

/** What Postgres gives back: the profile through JSON (NaN and ±Infinity become null). */
function stored<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const SPEC = { overrides: {}, datasetDriftThreshold: 0.5 };

describe('boolean categories', () => {
  it('spell every boolean spelling true / false, and leave other text alone', () => {
    for (const v of ['True', 'TRUE', 'true', true]) expect(categoryKey(v)).toBe('true');
    for (const v of ['False', 'FALSE', 'false', false]) expect(categoryKey(v)).toBe('false');
    for (const v of ['Truee', 'yes', 't', '1', ' True']) expect(categoryKey(v)).toBe(v);
    expect(categoryKey(1)).toBe('1');
  });

  it('put a pandas CSV reference (True/False) and JSON predictions (true/false) in the same categories', async () => {
    // pandas' to_csv of a bool column, with a missing value (an object column then).
    const random = rng(5);
    const lines = ['flag,prediction'];
    for (let i = 0; i < 4_000; i++) lines.push(`${random() < 0.3 ? 'True' : 'False'},${random()}`);
    lines.push(',0.5');
    const csv = join(dir, 'pandas.csv');
    await writeFile(csv, `${lines.join('\n')}\n`);
    const profile = stored(await profileOf(csv));
    const flag = profile.columns.find((c) => c.name === 'flag')!;
    expect(flag.kind).toBe('categorical');
    if (flag.kind !== 'categorical') return;
    expect(flag.categories.map((c) => c.value).sort()).toEqual(['false', 'true']);
    expect(flag.missing).toBe(1);

    // The same distribution, live: JSON booleans through the monitor's decoder.
    const window = new WindowState('1', profile, ['flag', 'prediction']);
    const live = rng(6);
    for (let i = 0; i < 1_000; i++) {
      const body = {
        prediction_id: String(i),
        model: 'm',
        model_version: '1',
        event_timestamp: 1_000 + i,
        features: { flag: live() < 0.3 },
        prediction: live(),
      };
      const decoded = decodePrediction(Buffer.from(JSON.stringify(body)), ['flag', 'prediction']);
      if (!decoded.ok) throw new Error(decoded.reason);
      window.add(decoded.prediction.eventTime, decoded.prediction.values);
    }
    const column = window.columns.get('flag')!;
    if (column.kind !== 'categorical') throw new Error('flag should be categorical');
    expect([...column.counts.keys()].sort()).toEqual(['false', 'true']);
    const scored = scoreWindow(window, SPEC);
    const verdict = scored.features.find((f) => f.name === 'flag')!;
    expect(verdict).toMatchObject({ kind: 'categorical', method: 'z', measured: true, drifted: false });
    // Before, `True`/`False` against `true`/`false` were four categories, two of them unseen.
    expect(verdict.score).toBeGreaterThan(0.05);
  });

  it('give an Arrow bool column the categories of its CSV spelling', async () => {
    const values = [true, false, true, true, null, false];
    const arrow = join(dir, 'flags.arrow');
    await writeFile(arrow, tableToIPC(new Table({ flag: vectorFromArray(values, new Bool()) }), 'file'));
    const csv = join(dir, 'flags.csv');
    // One column would make the missing value a blank line, which CSV readers skip: add an id.
    const rows = values.map((v, i) => `${i},${v === null ? '' : v ? 'True' : 'False'}`);
    await writeFile(csv, `row,flag\n${rows.join('\n')}\n`);
    const [a, c] = [await profileOf(arrow), await profileOf(csv)];
    expect(a.columns).toEqual(c.columns.filter((column) => column.name === 'flag'));
    expect(a.columns[0]).toMatchObject({ kind: 'categorical', missing: 1, otherCount: 0 });
  });

  it('read a profile stored with `True` and a checkpoint holding `True` as the category true', () => {
    const profile: ReferenceProfile = {
      format: 1,
      model: 'm',
      modelVersion: '1',
      createdAt: new Date(0).toISOString(),
      source: 'older build',
      rows: 100,
      columns: [
        {
          name: 'flag',
          kind: 'categorical',
          count: 100,
          missing: 0,
          missingShare: 0,
          categories: [
            { value: 'True', count: 60 },
            { value: 'False', count: 40 },
          ],
          otherCount: 0,
          distinct: 2,
          distinctCapped: false,
        },
      ],
    };
    const window = new WindowState('1', profile, ['flag']);
    for (let i = 0; i < 60; i++) window.add(i, { flag: i % 5 < 3 });
    const snapshot = window.snapshot();
    snapshot.columns['flag'] = {
      kind: 'categorical',
      missing: 0,
      counts: [
        ['True', 36],
        ['false', 24],
      ],
    };
    const restored = WindowState.restore(snapshot, profile, ['flag'])!;
    const column = restored.columns.get('flag')!;
    if (column.kind !== 'categorical') throw new Error('flag should be categorical');
    expect([...column.referenceCounts()]).toEqual([
      ['true', 60],
      ['false', 40],
    ]);
    expect(new Map(column.counts)).toEqual(
      new Map([
        ['true', 36],
        ['false', 24],
      ]),
    );
    const library = categoricalDrift({ True: 60, False: 40 }, [
      ...Array<boolean>(36).fill(true),
      ...Array<boolean>(24).fill(false),
    ]);
    const verdict = scoreWindow(restored, SPEC).features[0]!;
    expect(library.unseenCategories).toBeUndefined();
    expect(verdict).toMatchObject({ method: library.method, score: library.score, measured: true });
  });
});

describe('a reference whose spread overflows a double', () => {
  // ±1e200: the mean is finite, but (x − mean)² overflows, so the population std is not a number.
  const random = rng(9);
  const reference = Array.from({ length: 5_000 }, () => (random() < 0.5 ? -1 : 1) * (1 + random()) * 1e200);
  const current = Array.from({ length: 5_000 }, () => (random() < 0.5 ? -1 : 1) * (2 + random()) * 1e200);

  function built(): ReferenceProfile {
    const builder = new ProfileBuilder({
      model: 'm',
      modelVersion: '1',
      source: 't',
      now: () => new Date(0),
    });
    builder.add({ names: ['x'], columns: [Float64Array.from(reference)], rows: reference.length });
    return builder.finish();
  }

  it('stores the std as null, and the service then agrees with the library: Wasserstein is undefined', () => {
    const inMemory = built();
    const x = inMemory.columns[0] as NumericColumnProfile;
    expect(Number.isFinite(x.grid.std)).toBe(false);
    const profile = stored(inMemory);
    expect((profile.columns[0] as NumericColumnProfile).grid.std).toBeNull();

    const library = numericDrift({ sorted: sortFinite(reference).sorted }, current, {
      method: 'wasserstein',
    });
    expect(library).toMatchObject({ applicable: false, score: null, drifted: false, reason: STD_UNDEFINED });

    for (const p of [inMemory, profile]) {
      const window = new WindowState('1', p, ['x']);
      for (let i = 0; i < current.length; i++) window.add(i, { x: current[i]! });
      // The default policy picks Wasserstein at this size; before, a stored null std became the
      // 0.001 floor and the column drifted with a score of about 1e203.
      const verdict = scoreWindow(window, SPEC).features[0]!;
      expect(verdict).toEqual({
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
    }
  });

  it('keeps the methods that do not divide by the std measurable, stored or not, equal to the exact ones', () => {
    const inMemory = built();
    const profile = stored(inMemory);
    const sorted = sortFinite(reference).sorted;
    for (const method of ['ks', 'psi', 'jensenshannon', 'hellinger'] as const) {
      const exact = numericDrift({ sorted }, current, { method });
      for (const p of [inMemory, profile]) {
        const grid = (p.columns[0] as NumericColumnProfile).grid;
        const hist = new WindowHistogram(grid.edges);
        for (const v of current) hist.add(v);
        const fromGrid = numericDriftFromGrid(grid, hist, { method });
        expect(fromGrid.applicable).toBe(true);
        if (method === 'ks') expect(fromGrid.drifted).toBe(exact.drifted);
        else expect(fromGrid.score).toBeCloseTo(exact.score!, 12);
      }
    }
  });

  it('keeps quantile edges finite between values of opposite sign near the largest double', () => {
    const sorted = Float64Array.from([-1.7e308, -1.6e308, 1.6e308, 1.7e308]);
    const builder = new ProfileBuilder({
      model: 'm',
      modelVersion: '1',
      source: 't',
      now: () => new Date(0),
    });
    builder.add({ names: ['x'], columns: [sorted], rows: sorted.length });
    const x = builder.finish().columns[0] as NumericColumnProfile;
    expect(x.binEdges.every(Number.isFinite)).toBe(true);
    expect(x.grid.edges.every(Number.isFinite)).toBe(true);
    expect(x.binEdges[4]).toBeCloseTo(0, -300); // the median of the four, up to rounding at 1e308
  });

  it('gives the same verdict after a checkpoint whose cell sums overflowed (stored as null)', () => {
    const profile = stored(built());
    // A finite std this time (a constant reference at 1e300: std 0); the window's cell sums overflow.
    const near = Array.from({ length: 100 }, () => 1e300);
    const b = new ProfileBuilder({ model: 'm', modelVersion: '1', source: 't', now: () => new Date(0) });
    b.add({ names: ['x'], columns: [Float64Array.from(near)], rows: near.length });
    const narrow = stored(b.finish());
    expect(Number.isFinite((narrow.columns[0] as NumericColumnProfile).grid.std)).toBe(true);
    const spec = { overrides: { x: { method: 'wasserstein' as const } }, datasetDriftThreshold: 0.5 };
    for (const p of [profile, narrow]) {
      const window = new WindowState('1', p, ['x']);
      for (let i = 0; i < 3_000; i++) window.add(i, { x: 1.7e308 });
      const snapshot = stored(window.snapshot());
      expect(JSON.stringify(snapshot)).toContain('null'); // the overflowed sum
      // Before, the restored null sum read as 0 (and later values made it finite again): the
      // restarted monitor measured a distance the running one had not.
      const restored = WindowState.restore(snapshot, p, ['x'])!;
      restored.add(3_000, { x: 1.7e308 });
      window.add(3_000, { x: 1.7e308 });
      const live = scoreWindow(window, spec).features[0]!;
      expect(scoreWindow(restored, spec).features[0]).toEqual(live);
      expect(live).toMatchObject({ measured: false, method: null, drifted: false });
    }
  });
});

describe('a column with no value in the window', () => {
  it('is reported as not measured: no method, score or threshold, with the reason', async () => {
    const csv = join(dir, 'ref.csv');
    const random = rng(3);
    const lines = ['x,color,prediction'];
    for (let i = 0; i < 2_000; i++) lines.push(`${random()},${random() < 0.5 ? 'red' : 'blue'},${random()}`);
    await writeFile(csv, `${lines.join('\n')}\n`);
    const profile = await profileOf(csv);
    const window = new WindowState('1', profile, ['x', 'color', 'prediction']);
    for (let i = 0; i < 500; i++) window.add(i, { x: null, color: undefined, prediction: random() });
    const scored = scoreWindow(window, { overrides: { x: { method: 'psi' } }, datasetDriftThreshold: 0.5 });
    for (const name of ['x', 'color']) {
      expect(scored.features.find((f) => f.name === name)).toEqual({
        name,
        kind: name === 'x' ? 'numeric' : 'categorical',
        method: null,
        score: null,
        threshold: null,
        drifted: false,
        missing_share: 1,
        measured: false,
        reason: 'every value missing',
      });
    }
    expect(scored.prediction).toMatchObject({ method: 'ks', measured: true, missing_share: 0 });
    expect(scored.prediction).not.toHaveProperty('reason');
    // Unmeasured columns stay in the denominator, as not drifted.
    expect(scored.dataset.drifted_share).toBe(scored.prediction!.drifted ? 1 / 3 : 0);
  });

  it('an empty window is not measured either', () => {
    const random = rng(4);
    const builder = new ProfileBuilder({
      model: 'm',
      modelVersion: '1',
      source: 't',
      now: () => new Date(0),
    });
    builder.add({ names: ['x'], columns: [Float64Array.from({ length: 100 }, () => random())], rows: 100 });
    const window = new WindowState('1', builder.finish(), ['x']);
    expect(scoreWindow(window, SPEC).features[0]).toMatchObject({
      measured: false,
      method: null,
      reason: 'empty window',
    });
  });
});
