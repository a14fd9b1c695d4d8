import { describe, expect, it } from 'vitest';
import { scoreWindow } from '../../../services/monitor/scoring.ts';
import { WindowState } from '../../../services/monitor/window.ts';
import type { DriftMethod } from '../../../shared/definitions/types.ts';
import { ProfileBuilder } from '../../../shared/profiles/builder.ts';
import {
  categoricalCases as categorical,
  type GoldenCase,
  numericCases as numeric,
} from '../stats/golden.ts';

/**
 * The monitor's whole scoring path — profile builder, window state, scoring — against the
 * scipy-computed golden values: binned methods exactly, KS and Wasserstein within the grid's
 * documented error.
 */
function scoreAs(c: GoldenCase, method: DriftMethod): number | null {
  const builder = new ProfileBuilder({ model: 'm', modelVersion: '1', source: c.name, topK: 1_000 });
  builder.add({
    names: ['x'],
    columns: [c.kind === 'numeric' ? Float64Array.from(c.reference as number[]) : (c.reference as string[])],
    rows: c.reference.length,
  });
  const window = new WindowState('1', builder.finish(), ['x']);
  c.current.forEach((v, i) => {
    window.add(i, [v]);
  });
  const scored = scoreWindow(window, { overrides: { x: { method } }, datasetDriftThreshold: 0.5 });
  return scored.features[0]!.score;
}

describe.each(numeric)('monitor scoring on numeric golden case $name', (c) => {
  it('matches PSI, Jensen–Shannon and Hellinger exactly', () => {
    expect(scoreAs(c, 'psi')).toBeCloseTo(c.expected['psi'] as number, 10);
    expect(scoreAs(c, 'jensenshannon')).toBeCloseTo(c.expected['js_distance_base_e'] as number, 10);
    expect(scoreAs(c, 'hellinger')).toBeCloseTo(c.expected['hellinger'] as number, 10);
  });

  it('matches normed Wasserstein within the grid error', () => {
    const expected = c.expected['wasserstein_normed'] as number;
    const tolerance = c.name === 'constant_reference' ? 0.05 * expected : 1e-3;
    expect(Math.abs(scoreAs(c, 'wasserstein')! - expected)).toBeLessThan(tolerance);
  });

  it('agrees with the KS test on drift at 0.05', () => {
    const p = scoreAs(c, 'ks')!;
    expect(p < 0.05).toBe((c.expected['ks_pvalue_auto'] as number) < 0.05);
  });
});

describe.each(categorical)('monitor scoring on categorical golden case $name', (c) => {
  it('matches PSI, Jensen–Shannon, Hellinger and chi-square', () => {
    expect(scoreAs(c, 'psi')).toBeCloseTo(c.expected['psi'] as number, 10);
    expect(scoreAs(c, 'jensenshannon')).toBeCloseTo(c.expected['js_distance_base_e'] as number, 10);
    expect(scoreAs(c, 'hellinger')).toBeCloseTo(c.expected['hellinger'] as number, 10);
    const p = scoreAs(c, 'chisquare')!;
    const expected = c.expected['chi2_contingency_pvalue'] as number;
    expect(Math.abs(p - expected)).toBeLessThanOrEqual(Math.max(1e-12, expected * 1e-8));
  });
});

// Only the binary cases carry a z-test value.
describe.each(categorical.filter((c) => c.expected['z_pvalue'] !== undefined))(
  'monitor z-test on binary golden case $name',
  (c) => {
    it('matches the z-test p-value', () => {
      expect(scoreAs(c, 'z')).toBeCloseTo(c.expected['z_pvalue'] as number, 12);
    });
  },
);
