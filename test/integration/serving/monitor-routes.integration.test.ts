/**
 * The monitor's query routes when the store under them is broken, on a real Postgres: every
 * fault answers a coded error (or the empty answer a never-written table means) whose message
 * names the fault, and no SQL text, table name or driver message reaches the client.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerMonitorRoutes } from '../../../services/serving/routes/monitors.ts';
import { PostgresMonitorStore } from '../../../shared/monitoring/postgres.ts';
import { MonitorQueries, openMonitorQueries } from '../../../shared/monitoring/queries.ts';
import type { MonitorQueryStore } from '../../../shared/monitoring/store.ts';
import { createPool, type PgPool } from '../../../shared/postgres/index.ts';
import { PostgresProfileStore } from '../../../shared/profiles/postgres.ts';
import { services, uniqueName } from '../../support/env.ts';
import { TcpProxy } from '../../support/tcp-proxy.ts';

const pool = createPool({ connectionString: services().DATABASE_URL, max: 2 });
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await pool.end();
});

const ROUTES = [
  '/monitors',
  '/monitors/m/windows',
  '/monitors/m/drift',
  '/monitors/m/retrains',
  '/monitors/m/profiles',
];

interface Answer {
  status: number;
  code?: string;
  message?: string;
  body: string;
}

async function get(app: FastifyInstance, url: string): Promise<Answer> {
  const r = await app.inject({ method: 'GET', url });
  const error = r.statusCode >= 400 ? r.json().error : undefined;
  return { status: r.statusCode, code: error?.code, message: error?.message, body: r.body };
}

/** No statement, no table of `schema`, no Postgres message text in what the client got. */
function expectNoInternals(answer: Answer, schema: string): void {
  expect(answer.body).not.toMatch(/\b(SELECT|FROM|INSERT|UPDATE|WHERE)\b/);
  expect(answer.body).not.toContain(schema);
  expect(answer.body).not.toMatch(/drift_windows|retrain_requests|reference_profiles/);
  expect(answer.body).not.toMatch(/does not exist|relation|syntax error at/);
}

/** An app on the monitor's queries in a fresh `schema`, as `tributary serve` mounts them. */
async function appOn(schema: string, options: { create: boolean }) {
  schemas.push(schema);
  if (options.create) {
    await new PostgresMonitorStore(pool, schema).ensureSchema();
    await new PostgresProfileStore(pool, schema).ensureSchema();
  }
  const app = Fastify();
  const opened = openMonitorQueries({ pool, schema });
  registerMonitorRoutes(app, { queries: opened.queries });
  return {
    app,
    close: async () => {
      await app.close();
      await opened.close();
    },
  };
}

describe('monitor routes over a schema whose tables were never created', () => {
  const schema = uniqueName('mon_routes_empty');
  let h: Awaited<ReturnType<typeof appOn>>;
  beforeAll(async () => {
    h = await appOn(schema, { create: false });
    // The schema exists (another component made it), the monitor's tables do not.
    await pool.query(`CREATE SCHEMA "${schema}"`);
  });
  afterAll(() => h.close());

  it('lists answer empty and the drift summary is a coded 404', async () => {
    for (const url of ROUTES) {
      const answer = await get(h.app, url);
      expectNoInternals(answer, schema);
      if (url.endsWith('/drift')) {
        expect(answer.status, answer.body).toBe(404);
        expect(answer.code).toBe('TRIB_NOT_FOUND');
        expect(answer.message).toContain("model 'm'");
      } else {
        expect(answer.status, `${url}: ${answer.body}`).toBe(200);
      }
    }
  });
});

describe('monitor routes over a broken monitor schema', () => {
  const schema = uniqueName('mon_routes_broken');
  const q = (table: string) => `"${schema}".${table}`;
  let h: Awaited<ReturnType<typeof appOn>>;
  beforeAll(async () => {
    h = await appOn(schema, { create: true });
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    // Each case starts from the schema as the monitor creates it.
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await new PostgresMonitorStore(pool, schema).ensureSchema();
    await new PostgresProfileStore(pool, schema).ensureSchema();
  });

  it('a table renamed away reads as never written: empty lists, a coded 404', async () => {
    await pool.query(`ALTER TABLE ${q('drift_windows')} RENAME TO moved_away`);
    await pool.query(`ALTER TABLE ${q('retrain_requests')} RENAME TO moved_away_too`);
    const models = await get(h.app, '/monitors');
    expect(models.status, models.body).toBe(200);
    expect(JSON.parse(models.body)).toEqual({ monitors: [] });
    const drift = await get(h.app, '/monitors/m/drift');
    expect(drift.status, drift.body).toBe(404);
    expect(drift.code).toBe('TRIB_NOT_FOUND');
    for (const answer of [models, drift]) expectNoInternals(answer, schema);
  });

  it('a column renamed away is TRIB_STORE_QUERY_FAILED naming the SQLSTATE, not the statement', async () => {
    await pool.query(`ALTER TABLE ${q('drift_windows')} RENAME COLUMN event TO event_moved`);
    for (const url of ['/monitors/m/windows', '/monitors/m/drift']) {
      const answer = await get(h.app, url);
      expect(answer.status, answer.body).toBe(500);
      expect(answer.code).toBe('TRIB_STORE_QUERY_FAILED');
      expect(answer.message).toContain('42703');
      expect(answer.message).toContain('undefined_column');
      expectNoInternals(answer, schema);
    }
  });

  it('a stored value Postgres cannot read is a 500 of the store, not a 400 of the request', async () => {
    // drift_windows replaced by a view whose event column casts text that is not JSON.
    await pool.query(`ALTER TABLE ${q('drift_windows')} RENAME TO drift_rows`);
    await pool.query(
      `CREATE VIEW ${q('drift_windows')} AS
         SELECT id, model, model_version, window_end, closed_at, dataset_drifted, model_version::jsonb AS event
           FROM ${q('drift_rows')}`,
    );
    await pool.query(
      `INSERT INTO ${q('drift_rows')} (id, monitor, model, model_version, window_start, window_end, rows, drifted_share, dataset_drifted, event)
       VALUES ('w1', 'mon', 'm', 'not json', 0, 1000, 1, 0, false, '{}')`,
    );
    const answer = await get(h.app, '/monitors/m/windows');
    expect(answer.status, answer.body).toBe(500);
    expect(answer.code).toBe('TRIB_STORE_QUERY_FAILED');
    expect(answer.message).toContain('cannot read the drift windows');
    expect(answer.message).toContain('22P02');
    expectNoInternals(answer, schema);
  });

  it('a profile row the adapter cannot decode is TRIB_INTERNAL naming the route, details in the log', async () => {
    await pool.query(`ALTER TABLE ${q('reference_profiles')} ALTER COLUMN created_at TYPE text`);
    await pool.query(
      `INSERT INTO ${q('reference_profiles')} (model, model_version, created_at, source, rows, profile)
       VALUES ('m', 'v1', 'yesterday', 'test', 1, '{}')`,
    );
    const answer = await get(h.app, '/monitors/m/profiles');
    expect(answer.status, answer.body).toBe(500);
    expect(answer.code).toBe('TRIB_INTERNAL');
    expect(answer.message).toContain('cannot list the profiles');
    // The TypeError's own text names our code's internals: it stays in the server log.
    expect(answer.body).not.toContain('toISOString');
    expectNoInternals(answer, schema);
  });

  it('a time beyond any Date is a 400 naming the parameter, before Postgres sees it', async () => {
    const answer = await get(h.app, '/monitors/m/windows?from=100000000000000000000');
    expect(answer.status, answer.body).toBe(400);
    expect(answer.code).toBe('TRIB_BAD_REQUEST');
    expect(answer.message).toContain('from=');
    expect(answer.body).not.toContain('bigint');
    expectNoInternals(answer, schema);
  });
});

describe('monitor routes when a store lets a driver error through uncoded', () => {
  const schema = uniqueName('mon_routes_raw');
  const app = Fastify();
  // Fault injection: a query store that runs its statement on the real pool and throws the
  // driver's error as it comes, as an adapter that forgot to code it would.
  const raw = async (): Promise<never> => {
    await pool.query(`SELECT event FROM "${schema}".drift_windows`);
    throw new Error('unreachable: the schema does not exist');
  };
  const store = { windows: raw, retrains: raw, models: raw } as unknown as MonitorQueryStore;
  registerMonitorRoutes(app, { queries: new MonitorQueries(store) });
  afterAll(() => app.close());

  it('is coded by the one SQLSTATE mapping, without the driver message', async () => {
    const answer = await get(app, '/monitors');
    expect(answer.status, answer.body).toBe(500);
    expect(answer.code).toBe('TRIB_STORE_QUERY_FAILED');
    expect(answer.message).toContain('cannot list the monitored models');
    expect(answer.message).toContain('42P01');
    expectNoInternals(answer, schema);
  });
});

describe('monitor routes when Postgres is unreachable', () => {
  const schema = uniqueName('mon_routes_down');
  let proxy: TcpProxy;
  let cutPool: PgPool;
  const app = Fastify();
  beforeAll(async () => {
    schemas.push(schema);
    await new PostgresMonitorStore(pool, schema).ensureSchema();
    await new PostgresProfileStore(pool, schema).ensureSchema();
    const target = TcpProxy.forUrl(services().DATABASE_URL);
    proxy = await new TcpProxy(target.host, target.port).start();
    const url = new URL(services().DATABASE_URL);
    url.port = String(proxy.port);
    cutPool = createPool({ connectionString: url.toString(), max: 2, connectTimeoutMs: 2_000 });
    registerMonitorRoutes(app, { queries: openMonitorQueries({ pool: cutPool, schema }).queries });
  });
  afterAll(async () => {
    await app.close();
    await cutPool.end();
    await proxy.close();
  });

  it('every route is a retriable 503 naming Postgres, then answers again once it is back', async () => {
    expect((await get(app, '/monitors')).status).toBe(200);
    proxy.cut();
    for (const url of ROUTES) {
      const answer = await get(app, url);
      expect(answer.status, `${url}: ${answer.body}`).toBe(503);
      expect(answer.code).toBe('TRIB_OFFLINE_STORE_UNAVAILABLE');
      expect(answer.message).toContain('Postgres is unreachable');
      expectNoInternals(answer, schema);
    }
    proxy.restore();
    expect((await get(app, '/monitors/m/windows')).status).toBe(200);
  });
});
