/**
 * The monitor's query routes on a real Postgres where the monitor never ran (no schema, no
 * tables): every route answers a coded, empty or 4xx answer, and no SQL text reaches the client.
 */
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { registerMonitorRoutes } from '../../../services/serving/routes/monitors.ts';
import { openMonitorQueries } from '../../../shared/monitoring/queries.ts';
import { createPool } from '../../../shared/postgres/index.ts';
import { services, uniqueName } from '../../support/env.ts';

const pool = createPool({ connectionString: services().DATABASE_URL, max: 2 });
afterAll(() => pool.end());

describe('monitor queries before the monitor ever ran', () => {
  const app = Fastify();
  // On the shared pool, as `tributary serve` opens them.
  const { queries, close } = openMonitorQueries({ pool, schema: uniqueName('never_ran') });
  registerMonitorRoutes(app, { queries });
  afterAll(async () => {
    await close();
    await app.close();
  });

  it.each([
    ['/monitors', 200, { monitors: [] }],
    ['/monitors/m/windows', 200, { windows: [] }],
    ['/monitors/m/retrains', 200, { retrains: [] }],
    ['/monitors/m/profiles', 200, { profiles: [] }],
  ])('GET %s answers %i, empty', async (url, status, body) => {
    const response = await app.inject({ method: 'GET', url });
    expect(response.statusCode, response.body).toBe(status);
    expect(response.json()).toEqual(body);
  });

  it('GET /monitors/m/drift is a coded 404, not a SQL error', async () => {
    const response = await app.inject({ method: 'GET', url: '/monitors/m/drift' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('TRIB_NOT_FOUND');
    expect(response.body).not.toMatch(/relation|SELECT|does not exist/);
  });

  it('closing the queries leaves the shared pool open', async () => {
    const other = openMonitorQueries({ pool, schema: uniqueName('never_ran') });
    await other.close();
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
  });
});
