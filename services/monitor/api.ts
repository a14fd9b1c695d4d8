/**
 * The monitor's query API. The routes and their query logic live in `shared/monitoring/` so that
 * the serving app can register them without importing this service:
 *
 *   import { registerMonitorRoutes } from '../../shared/monitoring/routes.ts';
 *   import { openMonitorQueries } from '../../shared/monitoring/queries.ts';
 *   const monitoring = openMonitorQueries({ databaseUrl, schema });
 *   registerMonitorRoutes(app, { queries: monitoring.queries });
 *   app.addHook('onClose', () => monitoring.close());
 */

export { MonitorQueries, openMonitorQueries } from '../../shared/monitoring/queries.ts';
export { type MonitorRoutesDeps, registerMonitorRoutes } from '../../shared/monitoring/routes.ts';
