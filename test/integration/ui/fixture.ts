/**
 * A real monitor schema with closed windows for the dashboard and report tests: the monitor's
 * own WindowProcessor scores windows of predictions against a stored profile, and the monitor's
 * Postgres store checkpoints them (events, details, retraining requests) as `tributary monitor`
 * does. Windows `drifted` (by index) are shifted: x moves by 2 and every colour is blue.
 */
import { WindowProcessor } from '../../../services/monitor/processor.ts';
import type { DriftEvent, RetrainEvent } from '../../../shared/monitoring/events.ts';
import { PostgresMonitorStore } from '../../../shared/monitoring/postgres.ts';
import { createPool, type PgPool } from '../../../shared/postgres/index.ts';
import { PostgresProfileStore } from '../../../shared/profiles/postgres.ts';
import { services, uniqueName } from '../../support/env.ts';
import { normal, referenceProfile, rng, spec } from '../../unit/monitor/helpers.ts';

export const T0 = Date.parse('2026-11-20T10:00:00Z');

export interface MonitorFixture {
  schema: string;
  model: string;
  pool: PgPool;
  /** Newest first, as the queries answer. */
  windows: DriftEvent[];
  retrains: RetrainEvent[];
  drop(): Promise<void>;
}

export async function monitorFixture(options: {
  windows: number;
  drifted: (i: number) => boolean;
  rowsPerWindow?: number;
  keepWindowDetail?: number;
}): Promise<MonitorFixture> {
  const schema = uniqueName('ui_monitor');
  const model = uniqueName('ui_model');
  const pool = createPool({ connectionString: services().DATABASE_URL, max: 3 });
  const profiles = new PostgresProfileStore(pool, schema);
  await profiles.ensureSchema();
  const profile = { ...referenceProfile(), model, modelVersion: '1' };
  await profiles.put(profile);
  const store = new PostgresMonitorStore(pool, schema, undefined, {
    ...(options.keepWindowDetail === undefined ? {} : { keepWindowDetail: options.keepWindowDetail }),
  });
  await store.ensureSchema();
  const rows = options.rowsPerWindow ?? 300;
  const processor = new WindowProcessor(
    spec({ name: model, model, window: { rows }, retrain: { consecutiveDriftedWindows: 2, cooldownMs: 0 } }),
  );
  const random = rng(7);
  const gauss = normal(random);
  const windows: DriftEvent[] = [];
  const retrains: RetrainEvent[] = [];
  for (let w = 0; w < options.windows; w++) {
    const shifted = options.drifted(w);
    const closed = [];
    for (let i = 0; i < rows; i++) {
      const u = random();
      const color = shifted ? 'blue' : u < 0.5 ? 'red' : u < 0.8 ? 'green' : 'blue';
      const c = processor.add(
        {
          predictionId: `${w}-${i}`,
          model,
          modelVersion: '1',
          eventTime: T0 + w * 60_000 + i,
          values: { x: gauss() + (shifted ? 2 : 0), color, prediction: random() },
        },
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
    windows,
    retrains,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
