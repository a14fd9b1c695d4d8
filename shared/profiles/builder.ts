/**
 * Builds a reference profile from column batches of training data. Pure: no files, no database.
 *
 * Numeric columns keep their finite values in a growable Float64Array (8 bytes a value) until
 * `finish`, because exact decile edges and the reference grid need the sorted reference; nothing
 * else is kept per row. Categorical columns keep a count per distinct value, capped.
 */

import { TributaryError } from '../errors.ts';
import { categoryKey } from '../stats/categories.ts';
import { binCounts } from '../stats/quantiles.ts';
import { DEFAULT_GRID_STEPS, referenceGrid } from '../stats/sketch.ts';
import { Accumulator } from '../stats/sum.ts';
import type { ColumnBatch, RawValue } from './input.ts';
import {
  type CategoricalColumnProfile,
  type CategoryCount,
  type ColumnProfile,
  type NumericColumnProfile,
  PREDICTION_COLUMN,
  PROFILE_FORMAT,
  type ReferenceProfile,
} from './types.ts';

export interface ProfileOptions {
  model: string;
  modelVersion: string;
  /** Shown in listings: usually the input file name. */
  source: string;
  /** The input column holding the model's output; profiled as `prediction`. Default `prediction`. */
  predictionColumn?: string;
  /** Profile only these input columns (after renaming); default all but `exclude`. */
  include?: readonly string[];
  /** Input columns to skip; default event_timestamp, created, prediction_id, model, model_version. */
  exclude?: readonly string[];
  /** Columns to treat as categorical even when every value is a number. */
  categorical?: readonly string[];
  /** Categories kept per categorical column; default 50. */
  topK?: number;
  /** Distinct values counted per categorical column before the rest is lumped together; default 100,000. */
  maxDistinct?: number;
  /** Reference grid steps for KS / Wasserstein; default 1000. */
  gridSteps?: number;
  /** Clock for `createdAt`. */
  now?: () => Date;
}

export const DEFAULT_EXCLUDED_COLUMNS: readonly string[] = [
  'event_timestamp',
  'created',
  'prediction_id',
  'model',
  'model_version',
];

const MISSING_TOKENS = new Set(['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', 'None', 'none']);

/** Values of one column as they stream in; numeric until a non-numeric value shows up. */
class ColumnAccumulator {
  numeric: Float64Array | null = new Float64Array(1024);
  n = 0;
  missing = 0;
  categories: Map<string, number> | null = null;
  overflow = 0;

  constructor(
    readonly name: string,
    forceCategorical: boolean,
    private readonly maxDistinct: number,
  ) {
    if (forceCategorical) this.toCategorical();
  }

  add(values: ArrayLike<RawValue>, rows: number): void {
    if (this.numeric !== null && ArrayBuffer.isView(values) && !(values instanceof BigInt64Array)) {
      this.addNumbers(values as unknown as ArrayLike<number>, rows);
      return;
    }
    for (let i = 0; i < rows; i++) this.addOne(values[i]);
  }

  private addNumbers(values: ArrayLike<number>, rows: number): void {
    this.reserve(rows);
    const buffer = this.numeric!;
    let n = this.n;
    for (let i = 0; i < rows; i++) {
      const x = values[i]!;
      if (Number.isFinite(x)) buffer[n++] = x;
      else this.missing++;
    }
    this.n = n;
  }

  private addOne(raw: RawValue): void {
    if (raw === null || raw === undefined) {
      this.missing++;
      return;
    }
    if (typeof raw === 'string') {
      if (MISSING_TOKENS.has(raw)) {
        this.missing++;
        return;
      }
      if (this.numeric !== null) {
        const text = raw.trim();
        const x = Number(text);
        if (text !== '' && Number.isFinite(x)) {
          this.pushNumber(x);
          return;
        }
        if (/^[+-]?inf(inity)?$/i.test(text)) {
          this.missing++; // ±Infinity: not a usable value
          return;
        }
        this.toCategorical();
      }
      this.countCategory(categoryKey(raw));
      return;
    }
    if (typeof raw === 'number' || typeof raw === 'bigint') {
      const x = Number(raw);
      if (!Number.isFinite(x)) this.missing++;
      else if (this.numeric !== null) this.pushNumber(x);
      else this.countCategory(String(raw));
      return;
    }
    if (typeof raw === 'boolean') {
      if (this.numeric !== null) this.toCategorical();
      this.countCategory(categoryKey(raw));
      return;
    }
    this.missing++; // dates and anything else cannot be profiled
  }

  private reserve(more: number): void {
    const buffer = this.numeric!;
    if (this.n + more <= buffer.length) return;
    let size = buffer.length * 2;
    while (size < this.n + more) size *= 2;
    const grown = new Float64Array(size);
    grown.set(buffer.subarray(0, this.n));
    this.numeric = grown;
  }

  private pushNumber(x: number): void {
    if (this.n === this.numeric!.length) this.reserve(1);
    this.numeric![this.n++] = x;
  }

  /** A value that is not a number turns the column categorical; numbers seen so far become their text. */
  private toCategorical(): void {
    const numbers = this.numeric;
    this.numeric = null;
    this.categories = new Map();
    if (numbers) for (let i = 0; i < this.n; i++) this.countCategory(String(numbers[i]!));
    this.n = 0;
  }

  private countCategory(value: string): void {
    this.n++;
    const map = this.categories!;
    const c = map.get(value);
    if (c !== undefined) map.set(value, c + 1);
    else if (map.size < this.maxDistinct) map.set(value, 1);
    else this.overflow++;
  }

  finish(name: string, topK: number, gridSteps: number): ColumnProfile {
    const total = this.n + this.missing;
    const missingShare = total === 0 ? 0 : this.missing / total;
    if (this.numeric !== null) {
      const sorted = this.numeric.subarray(0, this.n);
      sorted.sort();
      this.numeric = null; // let the buffer go as soon as possible
      return numericProfile(name, sorted, this.missing, missingShare, gridSteps);
    }
    const entries = [...this.categories!.entries()].sort((a, b) =>
      b[1] !== a[1] ? b[1] - a[1] : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
    );
    const categories: CategoryCount[] = entries.slice(0, topK).map(([value, count]) => ({ value, count }));
    const kept = categories.reduce((s, c) => s + c.count, 0);
    const profile: CategoricalColumnProfile = {
      name,
      kind: 'categorical',
      count: this.n,
      missing: this.missing,
      missingShare,
      categories,
      otherCount: this.n - kept,
      distinct: entries.length,
      distinctCapped: this.overflow > 0,
    };
    return profile;
  }
}

function numericProfile(
  name: string,
  sorted: Float64Array,
  missing: number,
  missingShare: number,
  gridSteps: number,
): NumericColumnProfile {
  const n = sorted.length;
  if (n === 0) {
    return {
      name,
      kind: 'numeric',
      count: 0,
      missing,
      missingShare,
      mean: Number.NaN,
      std: Number.NaN,
      min: Number.NaN,
      max: Number.NaN,
      binEdges: [],
      binCounts: [],
      grid: { edges: [], counts: [], sums: [], n: 0, std: 0, deciles: [] },
    };
  }
  const sum = new Accumulator();
  for (let i = 0; i < n; i++) sum.add(sorted[i]!);
  const mean = sum.value() / n;
  const grid = referenceGrid(sorted, gridSteps);
  return {
    name,
    kind: 'numeric',
    count: n,
    missing,
    missingShare,
    mean,
    std: grid.std,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    binEdges: grid.deciles,
    binCounts: binCounts(grid.deciles, sorted),
    grid,
  };
}

/** Maps input column names to profile names: the prediction column becomes `prediction`, `view__feature` becomes `feature`. */
export function profileNames(inputNames: readonly string[], predictionColumn: string): (string | null)[] {
  const bare = inputNames.map((n) => {
    if (n === predictionColumn) return PREDICTION_COLUMN;
    const at = n.lastIndexOf('__');
    return at > 0 && at + 2 < n.length ? n.slice(at + 2) : n;
  });
  const uses = new Map<string, number>();
  for (const b of bare) uses.set(b, (uses.get(b) ?? 0) + 1);
  return inputNames.map((n, i) => {
    const b = bare[i]!;
    return uses.get(b) === 1 ? b : n === predictionColumn ? PREDICTION_COLUMN : n;
  });
}

/** Accumulates column batches into a ReferenceProfile. */
export class ProfileBuilder {
  private readonly columns = new Map<string, ColumnAccumulator>();
  /** Per input column position: the accumulator, or null for a skipped column. */
  private layout: (ColumnAccumulator | null)[] | null = null;
  private inputNames: readonly string[] = [];
  private rows = 0;
  private readonly topK: number;
  private readonly maxDistinct: number;
  private readonly gridSteps: number;

  constructor(private readonly options: ProfileOptions) {
    this.topK = options.topK ?? 50;
    this.maxDistinct = options.maxDistinct ?? 100_000;
    this.gridSteps = options.gridSteps ?? DEFAULT_GRID_STEPS;
  }

  /** Adds one batch; every batch must have the columns of the first. */
  add(batch: ColumnBatch): void {
    if (this.layout === null) this.layout = this.planColumns(batch);
    else if (
      batch.names.length !== this.inputNames.length ||
      batch.names.some((n, i) => n !== this.inputNames[i])
    ) {
      throw new TributaryError(
        'TRIB_PROFILE_INPUT_INVALID',
        'the input changes its columns part-way through',
      );
    }
    for (let i = 0; i < this.layout.length; i++) this.layout[i]?.add(batch.columns[i]!, batch.rows);
    this.rows += batch.rows;
  }

  private planColumns(batch: ColumnBatch): (ColumnAccumulator | null)[] {
    this.inputNames = [...batch.names];
    const prediction = this.options.predictionColumn ?? PREDICTION_COLUMN;
    const names = profileNames(batch.names, prediction);
    const exclude = new Set(this.options.exclude ?? DEFAULT_EXCLUDED_COLUMNS);
    const include = this.options.include ? new Set(this.options.include) : null;
    const categorical = new Set(this.options.categorical ?? []);
    if (include) {
      for (const wanted of include) {
        if (!names.includes(wanted) && !batch.names.includes(wanted)) {
          throw new TributaryError('TRIB_PROFILE_INPUT_INVALID', `column '${wanted}' is not in the input`, {
            details: { field: wanted, columns: batch.names },
          });
        }
      }
    }
    const layout = batch.names.map((input, i) => {
      const name = names[i]!;
      if (exclude.has(input) || exclude.has(name)) return null;
      if (include && !include.has(name) && !include.has(input)) return null;
      if (batch.types?.[i] === 'timestamp') return null;
      const accumulator = new ColumnAccumulator(
        name,
        categorical.has(name) || categorical.has(input) || batch.types?.[i] === 'categorical',
        this.maxDistinct,
      );
      this.columns.set(name, accumulator);
      return accumulator;
    });
    if (this.columns.size === 0) {
      throw new TributaryError('TRIB_PROFILE_INPUT_INVALID', 'no column left to profile', {
        details: { columns: batch.names },
      });
    }
    return layout;
  }

  /** Rows added so far. */
  get rowCount(): number {
    return this.rows;
  }

  /** Computes the profile; the builder cannot be used afterwards. */
  finish(): ReferenceProfile {
    if (this.rows === 0) throw new TributaryError('TRIB_PROFILE_INPUT_INVALID', 'the input has no rows');
    const columns: ColumnProfile[] = [];
    for (const [name, accumulator] of this.columns)
      columns.push(accumulator.finish(name, this.topK, this.gridSteps));
    this.columns.clear();
    return {
      format: PROFILE_FORMAT,
      model: this.options.model,
      modelVersion: this.options.modelVersion,
      createdAt: (this.options.now?.() ?? new Date()).toISOString(),
      source: this.options.source,
      rows: this.rows,
      columns,
    };
  }
}
