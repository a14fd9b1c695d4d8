/**
 * A real monitor schema with closed windows, for the dashboard and report tests, the dashboard
 * benchmark (bench/dashboard.ts) and the README's screenshots (scripts/dashboard-screenshots.ts):
 * the monitor's own WindowProcessor scores windows of predictions against a stored profile, and
 * the monitor's Postgres store checkpoints them (events, details, retraining requests) as
 * `tributary monitor` does. Columns: `numeric` normal features, `categorical` ones over
 * red/green/blue (default one of each, named `x` and `color`), and the prediction. Windows
 * `drifted` (by index) are shifted: numeric values move by 2 and every colour is blue.
 *
 * It takes its database URL rather than reading vitest's injected services, so a plain
 * `tsx` process (a benchmark, a script) can use it as the tests do.
 */
import { randomBytes } from 'node:crypto';
import { WindowProcessor } from '../../services/monitor/processor.ts';
import type { MonitorSpec } from '../../shared/definitions/types.ts';
import type { DriftEvent, RetrainEvent } from '../../shared/monitoring/events.ts';
import { PostgresMonitorStore } from '../../shared/monitoring/postgres.ts';
import { createPool, type PgPool } from '../../shared/postgres/index.ts';
import { ProfileBuilder } from '../../shared/profiles/builder.ts';
import { PostgresProfileStore } from '../../shared/profiles/postgres.ts';
import type { ReferenceProfile } from '../../shared/profiles/types.ts';
import { normal, rng } from './random.ts';

export const T0 = Date.parse('2026-11-20T10:00:00Z');

export interface MonitorFixture {
  schema: string;
  model: string;
  pool: PgPool;
  /** Names of the monitored features: numeric first, then categorical. */
  features: string[];
  /** Newest first, as the queries answer. */
  windows: DriftEvent[];
  retrains: RetrainEvent[];
  drop(): Promise<void>;
}

export interface MonitorFixtureOptions {
  databaseUrl: string;
  windows: number;
  drifted: (i: number) => boolean;
  rowsPerWindow?: number;
  keepWindowDetail?: number;
  /** Numeric features (default 1, named `x`; more are `n0`, `n1`, …). */
  numeric?: number;
  /** Categorical features (default 1, named `color`; more are `c0`, `c1`, …). */
  categorical?: number;
  /** Schema and model name prefix (default `ui_monitor` / `ui_model`). */
  prefix?: string;
  /** The model's name (default: a unique one); the schema is unique whatever it is. */
  model?: string;
}

const name = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

const colour = (u: number) => (u < 0.5 ? 'red' : u < 0.8 ? 'green' : 'blue');

/** A profile of the numeric columns ~ N(0,1), the categorical ones over colours, prediction ~ U(0,1). */
function profileOf(model: string, numeric: string[], categorical: string[], rows = 20_000): ReferenceProfile {
  const random = rng(1);
  const gauss = normal(random);
  const builder = new ProfileBuilder({ model, modelVersion: '1', source: 'test', now: () => new Date(0) });
  const nums = numeric.map(() => new Float64Array(rows));
  const cats = categorical.map((): string[] => []);
  const prediction = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (const column of nums) column[i] = gauss();
    for (const column of cats) column.push(colour(random()));
    prediction[i] = random();
  }
  builder.add({
    names: [...numeric, ...categorical, 'prediction'],
    columns: [...nums, ...cats, prediction],
    rows,
  });
  return builder.finish();
}

export async function monitorFixture(options: MonitorFixtureOptions): Promise<MonitorFixture> {
  const schema = name(`${options.prefix ?? 'ui'}_monitor`);
  const model = options.model ?? name(`${options.prefix ?? 'ui'}_model`);
  const n = options.numeric ?? 1;
  const k = options.categorical ?? 1;
  const numeric = n === 1 ? ['x'] : Array.from({ length: n }, (_, i) => `n${i}`);
  const categorical = k === 1 ? ['color'] : Array.from({ length: k }, (_, i) => `c${i}`);
  const pool = createPool({ connectionString: options.databaseUrl, max: 3 });
  const profiles = new PostgresProfileStore(pool, schema);
  await profiles.ensureSchema();
  const profile = profileOf(model, numeric, categorical);
  await profiles.put(profile);
  const store = new PostgresMonitorStore(pool, schema, undefined, {
    ...(options.keepWindowDetail === undefined ? {} : { keepWindowDetail: options.keepWindowDetail }),
  });
  await store.ensureSchema();
  const rows = options.rowsPerWindow ?? 300;
  const spec: MonitorSpec = {
    kind: 'monitor',
    name: model,
    model,
    predictionTopic: `predictions.${model}`,
    features: [...numeric, ...categorical].map((f) => `v:${f}`),
    monitorPrediction: true,
    window: { rows },
    overrides: {},
    datasetDriftThreshold: 0.5,
    retrain: { consecutiveDriftedWindows: 2, cooldownMs: 0 },
    webhooks: [],
  };
  const processor = new WindowProcessor(spec);
  const random = rng(7);
  const gauss = normal(random);
  const windows: DriftEvent[] = [];
  const retrains: RetrainEvent[] = [];
  for (let w = 0; w < options.windows; w++) {
    const shifted = options.drifted(w);
    const closed = [];
    for (let i = 0; i < rows; i++) {
      const values: Record<string, number | string> = {};
      for (const f of numeric) values[f] = gauss() + (shifted ? 2 : 0);
      for (const f of categorical) {
        const u = random();
        values[f] = shifted ? 'blue' : colour(u);
      }
      values['prediction'] = random();
      const c = processor.add(
        { predictionId: `${w}-${i}`, model, modelVersion: '1', eventTime: T0 + w * 60_000 + i, values },
        profile,
      );
      if (c) closed.push(c);
    }
    await store.checkpoint({
      monitor: model,
      state: processor.snapshot(),
      offsets: [],
      closedWindows: closed.map((c) => c.drift),
      windowDetails: closed.map((c) => c.detail),
      retrains: closed.flatMap((c) => (c.retrain ? [c.retrain] : [])),
      outbox: [],
    });
    for (const c of closed) {
      windows.unshift(c.drift);
      if (c.retrain) retrains.unshift(c.retrain);
    }
  }
  return {
    schema,
    model,
    pool,
    features: [...numeric, ...categorical],
    windows,
    retrains,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
