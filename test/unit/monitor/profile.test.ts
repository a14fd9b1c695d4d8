import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileBuilder, profileNames } from '../../../shared/profiles/builder.ts';
import { detectFormat, parseQuoted, readColumnBatches } from '../../../shared/profiles/input.ts';
import { num, numericCases, nums } from '../stats/golden.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-profile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function profileOf(
  path: string,
  options: Partial<ConstructorParameters<typeof ProfileBuilder>[0]> = {},
) {
  const builder = new ProfileBuilder({ model: 'm', modelVersion: '1', source: path, ...options });
  for await (const batch of readColumnBatches(path, { batchRows: 7 })) builder.add(batch);
  return builder.finish();
}

describe('CSV input', () => {
  it('splits quoted fields with commas, doubled quotes and newlines', () => {
    expect(parseQuoted('a,"b,c","say ""hi""",')).toEqual(['a', 'b,c', 'say "hi"', '']);
    expect(parseQuoted('a,"open')).toBeNull();
  });

  it('streams a CSV file into a profile: kinds, missing shares, categories', async () => {
    const path = join(dir, 'train.csv');
    const lines = ['event_timestamp,driver_hourly_stats__conv_rate,city,score,prediction'];
    for (let i = 0; i < 100; i++) {
      const city = i % 10 === 0 ? '"New York, NY"' : i % 2 === 0 ? 'Paris' : 'Lima';
      lines.push(
        `2026-01-01T00:00:00Z,${i % 5 === 0 ? '' : i / 100},${city},${i % 4 === 0 ? 'NA' : i},${i % 2}`,
      );
    }
    await writeFile(path, `${lines.join('\r\n')}\r\n`);
    expect(await detectFormat(path)).toBe('csv');
    const profile = await profileOf(path, { categorical: ['prediction'] });
    expect(profile.rows).toBe(100);
    expect(profile.columns.map((c) => [c.name, c.kind])).toEqual([
      ['conv_rate', 'numeric'],
      ['city', 'categorical'],
      ['score', 'numeric'],
      ['prediction', 'categorical'],
    ]);
    const conv = profile.columns[0]!;
    expect(conv).toMatchObject({ count: 80, missing: 20, missingShare: 0.2 });
    const city = profile.columns[1]!;
    if (city.kind !== 'categorical') throw new Error('city should be categorical');
    expect(city.categories).toEqual([
      { value: 'Lima', count: 50 },
      { value: 'Paris', count: 40 },
      { value: 'New York, NY', count: 10 },
    ]);
    expect(profile.columns[2]).toMatchObject({ missing: 25 });
  });

  it('refuses a row with the wrong number of fields, naming the line', async () => {
    const path = join(dir, 'bad.csv');
    await writeFile(path, 'a,b\n1,2\n3\n');
    await expect(profileOf(path)).rejects.toThrow(/line 3 has 1 fields/);
  });
});

describe('Arrow input', () => {
  it('profiles an Arrow IPC file with typed columns', async () => {
    const path = join(dir, 'train.arrow');
    const table = tableFromArrays({
      driver_id: BigInt64Array.from([1n, 2n, 3n, 4n]),
      conv_rate: Float64Array.from([0.1, 0.2, 0.3, 0.4]),
      city: ['a', 'b', 'a', 'a'],
      prediction: Float32Array.from([0, 1, 1, 0]),
    });
    await writeFile(path, tableToIPC(table, 'file'));
    expect(await detectFormat(path)).toBe('arrow');
    const profile = await profileOf(path, { exclude: ['driver_id'] });
    expect(profile.columns.map((c) => [c.name, c.kind, c.count])).toEqual([
      ['conv_rate', 'numeric', 4],
      ['city', 'categorical', 4],
      ['prediction', 'numeric', 4],
    ]);
    expect(profile.columns[0]).toMatchObject({ mean: 0.25, min: 0.1, max: 0.4 });
  });

  it('reads an Arrow IPC stream (what historical retrieval returns), nulls as missing', async () => {
    const path = join(dir, 'train.arrows');
    const table = tableFromArrays({
      conv_rate: [0.5, null, 0.7] as (number | null)[],
      prediction: Float64Array.from([1, 0, 1]),
    });
    await writeFile(path, tableToIPC(table, 'stream'));
    expect(await detectFormat(path)).toBe('arrow');
    const profile = await profileOf(path);
    expect(profile.columns.map((c) => [c.name, c.kind, c.count, c.missing])).toEqual([
      ['conv_rate', 'numeric', 2, 1],
      ['prediction', 'numeric', 3, 0],
    ]);
  });
});

describe('numeric profile statistics', () => {
  it('matches the golden (numpy) decile edges, bin counts, mean and std', () => {
    for (const c of numericCases) {
      const builder = new ProfileBuilder({ model: 'm', modelVersion: '1', source: c.name });
      builder.add({
        names: ['x'],
        columns: [Float64Array.from(c.reference as number[])],
        rows: c.reference.length,
      });
      const x = builder.finish().columns[0]!;
      if (x.kind !== 'numeric') throw new Error('numeric expected');
      const counts = nums(c, 'reference_bin_counts');
      expect(x.binEdges, c.name).toEqual(nums(c, 'bin_edges'));
      expect(x.binCounts.slice(0, counts.length), c.name).toEqual(counts);
      expect(x.std, c.name).toBeCloseTo(num(c, 'reference_std_ddof0'), 12);
      expect(x.mean, c.name).toBeCloseTo(num(c, 'mean_reference'), 12);
    }
  });

  it('stays size-bounded however many rows the reference has', () => {
    const sizeFor = (rows: number) => {
      const builder = new ProfileBuilder({ model: 'm', modelVersion: '1', source: 'x', gridSteps: 200 });
      const values = Float64Array.from({ length: rows }, (_, i) => Math.sin(i) * 1000 + i / rows);
      builder.add({ names: ['x'], columns: [values], rows });
      const profile = builder.finish();
      const x = profile.columns[0]!;
      if (x.kind !== 'numeric') throw new Error('numeric expected');
      expect(x.grid.edges.length).toBeLessThanOrEqual(201);
      return JSON.stringify(profile).length;
    };
    expect(sizeFor(200_000)).toBeLessThan(sizeFor(2_000) * 1.5);
  });

  it('renames view__feature columns to bare names unless two views share one', () => {
    expect(profileNames(['v__a', 'w__b', 'score'], 'score')).toEqual(['a', 'b', 'prediction']);
    expect(profileNames(['v__a', 'w__a'], 'prediction')).toEqual(['v__a', 'w__a']);
  });
});
