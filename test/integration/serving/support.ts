import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { driverHourlyStats, driverLayout, driverSpec } from '../../../fixtures/driver-spec.ts';
import { buildApp, type ServingDeps } from '../../../services/serving/app.ts';
import type { RepoSpec } from '../../../shared/definitions/types.ts';
import { createLogger } from '../../../shared/logger.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import { StaticDefinitions } from '../../../shared/registry/live.ts';
import {
  PostgresHistoricalReader,
  PostgresOfflineStore,
} from '../../../shared/stores/offline/postgres/index.ts';
import type { OnlineStore } from '../../../shared/stores/online/port.ts';
import type { StreamProducer } from '../../../shared/stream/port.ts';
import { services } from '../../support/env.ts';

export const DAY = 86_400_000;

/** Drivers (int64) with a 1-day-ttl stats view and a no-ttl profile view; customers (string) with a view. */
export function servingSpec(topic: string): RepoSpec {
  const driver = driverSpec(topic);
  return {
    ...driver,
    entities: [
      ...driver.entities,
      { kind: 'entity', name: 'customer', joinKey: 'customer_id', valueType: 'string' },
    ],
    featureViews: [
      driverHourlyStats({
        source: 'driver_stats_push',
        features: ['conv_rate', 'avg_daily_trips'],
        ttlMs: DAY,
      }),
      {
        kind: 'featureView',
        name: 'driver_profile',
        entities: ['driver'],
        source: 'driver_stats_source',
        schema: [
          { name: 'rating', type: 'float64' },
          { name: 'conv_rate', type: 'float64' },
          { name: 'city', type: 'string' },
          { name: 'active', type: 'bool' },
          { name: 'signed_up', type: 'timestamp' },
        ],
        ttlMs: 0,
        online: true,
        offline: true,
      },
      {
        kind: 'featureView',
        name: 'customer_stats',
        entities: ['customer'],
        source: 'driver_stats_source',
        schema: [{ name: 'spend', type: 'float64' }],
        ttlMs: 0,
        online: true,
        offline: true,
      },
    ],
    featureServices: [
      {
        kind: 'featureService',
        name: 'driver_activity',
        features: [
          { featureView: 'driver_hourly_stats' },
          { featureView: 'driver_profile', features: ['rating'] },
        ],
      },
    ],
  };
}

import { featureRow as row } from '../../support/rows.ts';

export { row };

const noOnline: Pick<OnlineStore, 'read'> = {
  read: async (requests) => requests.map((r) => r.keys.map(() => null)),
};
const noProducer: Pick<StreamProducer, 'send'> = { send: async () => undefined };

export interface Harness {
  app: FastifyInstance;
  spec: RepoSpec;
  schema: string;
  offline: PostgresOfflineStore;
  pool: pg.Pool;
  write(view: string, rows: FeatureRow[]): Promise<void>;
  close(): Promise<void>;
}

/** A serving app over a schema of its own, with the views' tables created. */
export async function harness(
  schema: string,
  overrides: Partial<ServingDeps> = {},
  spec: RepoSpec = servingSpec(`${schema}_topic`),
): Promise<Harness> {
  const pool = new pg.Pool({ connectionString: services().DATABASE_URL, max: 4 });
  pool.on('error', () => undefined);
  const offline = new PostgresOfflineStore({ pool: pool as never, schema });
  const layouts = new Map(spec.featureViews.map((v) => [v.name, driverLayout(spec, v.name)]));
  for (const layout of layouts.values()) await offline.ensureTable(layout);
  const app = await buildApp({
    definitions: new StaticDefinitions(spec),
    online: noOnline,
    historical: new PostgresHistoricalReader(pool, { schema }),
    producer: noProducer,
    config: { apiKeys: [] },
    logger: createLogger('serving-test', 'silent'),
    ...overrides,
  });
  return {
    app,
    spec,
    schema,
    offline,
    pool,
    write: async (view, rows) => {
      await offline.write(layouts.get(view)!, rows);
    },
    close: async () => {
      await app.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
