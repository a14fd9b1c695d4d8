/**
 * Drift statistics: pure functions, no I/O. Exact versions take sorted samples or count
 * vectors; `sketch.ts` gives bounded-memory KS and Wasserstein for streaming windows.
 */

export type { AlignedCounts, CategoryCounts } from './categories.ts';
export { alignCounts, categoryKey, countCategories } from './categories.ts';
export type { ChiSquareResult } from './chisquare.ts';
export { chiSquareContingency, chiSquareGoodnessOfFit } from './chisquare.ts';
export type { DriftOptions, DriftResult, NumericReference } from './drift.ts';
export { categoricalDrift, numericDrift, numericDriftFromGrid, STD_UNDEFINED } from './drift.ts';
export { hellinger } from './hellinger.ts';
export { jensenShannon } from './jensenshannon.ts';
export type { KsMode, KsResult } from './ks.ts';
export { KS_MAX_AUTO_N, ksPValue, ksStatistic, ksTwoSample } from './ks.ts';
export type { ColumnKind, Direction, MethodInfo } from './methods.ts';
export {
  DRIFT_METHODS,
  defaultMethod,
  effectiveSampleSize,
  isDrift,
  METHODS,
  methodApplies,
  TEST_MAX_EFFECTIVE_SIZE,
} from './methods.ts';
export { PSI_EMPTY_SHARE, psi } from './psi.ts';
export { binCounts, binEdges, binIndex, quantileGrid, quantileLinear, sortFinite } from './quantiles.ts';
export type { ReferenceGrid, SketchKsResult, SketchWassersteinResult } from './sketch.ts';
export {
  DEFAULT_GRID_STEPS,
  ksFromGrid,
  referenceGrid,
  WindowHistogram,
  wassersteinFromGrid,
} from './sketch.ts';
export { chi2Sf, gammaP, gammaQ, lgamma } from './special/gamma.ts';
export { kolmogn, kolmogorovSf, kstwoSf } from './special/kolmogorov.ts';
export { ksTwoSampleExact } from './special/ks-two-sample.ts';
export { erf, erfc, normalSf, normalTwoSided } from './special/normal.ts';
export { smirnov } from './special/smirnov.ts';
export { normingScale, STD_FLOOR, stdPopulation, wasserstein, wassersteinNormed } from './wasserstein.ts';
export type { ZTestResult } from './ztest.ts';
export { twoProportionZ } from './ztest.ts';
