/** Loads the scipy-computed golden file, test/fixtures/golden/drift-stats.json (compute.py beside it regenerates it). */

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface NumericCase {
  name: string;
  kind: 'numeric';
  reference: number[];
  current: number[];
  expected: Record<string, number | number[]>;
}

export interface CategoricalCase {
  name: string;
  kind: 'categorical';
  reference: string[];
  current: string[];
  expected: Record<string, number | number[] | string[]>;
}

export type GoldenCase = NumericCase | CategoricalCase;

export const golden = JSON.parse(
  readFileSync(path.resolve(repoRoot, 'test/fixtures/golden/drift-stats.json'), 'utf8'),
) as { generator: string; definitions: Record<string, string>; cases: GoldenCase[] };

export const numericCases = golden.cases.filter((c): c is NumericCase => c.kind === 'numeric');
export const categoricalCases = golden.cases.filter((c): c is CategoricalCase => c.kind === 'categorical');

/** Default relative tolerance against scipy. */
export const RTOL = 1e-9;

/** Asserts |actual − expected| <= rtol·|expected| (exact equality for 0 and infinities). */
export function expectClose(actual: number | undefined | null, expected: number, rtol = RTOL): void {
  expect(actual).toBeTypeOf('number');
  const a = actual as number;
  if (expected === 0 || !Number.isFinite(expected)) {
    expect(a).toBe(expected);
    return;
  }
  const rel = Math.abs(a - expected) / Math.abs(expected);
  if (!(rel <= rtol))
    expect.fail(`expected ${a} to be within ${rtol} (relative) of ${expected}; rel error ${rel}`);
}

/** Sorted copy of a numeric sample. */
export function sorted(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** Typed access to an expected number. */
export function num(c: GoldenCase, key: string): number {
  const v = c.expected[key];
  if (typeof v !== 'number') throw new Error(`${c.name}: expected.${key} is not a number`);
  return v;
}

/** Typed access to an expected number array. */
export function nums(c: GoldenCase, key: string): number[] {
  const v = c.expected[key];
  if (!Array.isArray(v)) throw new Error(`${c.name}: expected.${key} is not an array`);
  return v as number[];
}
