/**
 * The real serving app over a monitor fixture's schema, listening on 127.0.0.1, for the
 * dashboard benchmark and the README's screenshots: no API keys, no feature views, logger
 * silent. The UI reads only the monitor's queries; the other dependencies answer nothing.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../services/serving/app.ts';
import { createLogger } from '../../shared/logger.ts';
import { type MonitorQueries, openMonitorQueries } from '../../shared/monitoring/queries.ts';
import type { PgPool } from '../../shared/postgres/index.ts';
import { StaticDefinitions } from '../../shared/registry/live.ts';
import { PostgresHistoricalReader } from '../../shared/stores/offline/postgres/index.ts';

export interface DashboardServer {
  app: FastifyInstance;
  origin: string;
  queries: MonitorQueries;
  close(): Promise<void>;
}

export async function serveDashboard(fx: { pool: PgPool; schema: string }): Promise<DashboardServer> {
  const opened = openMonitorQueries({ pool: fx.pool, schema: fx.schema });
  const app = await buildApp({
    definitions: new StaticDefinitions({
      entities: [],
      kafkaSources: [],
      pushSources: [],
      featureViews: [],
      featureServices: [],
      monitors: [],
    }),
    online: { read: async (requests) => requests.map((r) => r.keys.map(() => null)) },
    // The UI never reads historical features; the app needs a reader all the same.
    historical: new PostgresHistoricalReader(fx.pool as never, { schema: fx.schema }),
    producer: { send: async () => undefined },
    config: { apiKeys: [] },
    logger: createLogger('dashboard', 'silent'),
    monitorQueries: opened.queries,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    queries: opened.queries,
    close: async () => {
      await app.close();
      await opened.close();
    },
  };
}
