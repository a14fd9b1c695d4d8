/**
 * shared/postgres on a real Postgres: the one SQLSTATE mapping (what is retriable, and that no
 * SQL reaches a message), the transaction policy, `loadSql`, and pools that survive their
 * connections being cut (through a loopback proxy) instead of ending the process.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isTributaryError, type TributaryError } from '../../../shared/errors.ts';
import {
  createPool,
  loadSql,
  type PgPool,
  postgresError,
  transaction,
} from '../../../shared/postgres/index.ts';
import { services, uniqueName } from '../../support/env.ts';
import { TcpProxy } from '../../support/tcp-proxy.ts';
import { closedPort } from './closed-port.ts';

const schema = uniqueName('pglayer');
const pools: PgPool[] = [];
function pool(url = services().DATABASE_URL, max = 3): PgPool {
  const created = createPool({ connectionString: url, max, connectTimeoutMs: 3_000 });
  pools.push(created);
  return created;
}
const db = pool();
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  for (const p of pools) await p.end().catch(() => undefined);
});

async function failure(run: () => Promise<unknown>, what = 'test'): Promise<TributaryError> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the statement should have failed').toBeDefined();
  return postgresError(error, what);
}

describe('postgresError: one SQLSTATE mapping', () => {
  it('a statement Postgres cannot parse is not retriable, and its message holds no SQL', async () => {
    const error = await failure(() => db.query('SELEC secret_column FROM nowhere'));
    expect(error.code).toBe('TRIB_STORE_QUERY_FAILED');
    expect(error.retriable).toBe(false);
    expect(error.details['sqlState']).toBe('42601');
    expect(error.message).toContain('SQLSTATE 42601, syntax_error');
    expect(error.message).not.toMatch(/SELEC|secret_column|nowhere/);
    expect(error.message).not.toContain('tributary apply');
  });

  it('a missing table and a constraint violation are not retriable either', async () => {
    const missing = await failure(() => db.query(`SELECT * FROM "${schema}".no_such_table`));
    // A missing schema in a table reference is reported as a missing relation too.
    expect([missing.code, missing.retriable, missing.details['sqlState']]).toEqual([
      'TRIB_STORE_QUERY_FAILED',
      false,
      '42P01',
    ]);
    const noSchema = await failure(() => db.query(`CREATE TABLE "${uniqueName('noschema')}".t (id int)`));
    expect([noSchema.code, noSchema.details['sqlState']]).toEqual(['TRIB_STORE_QUERY_FAILED', '3F000']);
    await db.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const table = await failure(() => db.query(`SELECT * FROM "${schema}".no_such_table`));
    expect(table.details['sqlState']).toBe('42P01');
    expect(table.message).not.toContain('no_such_table');
    // A missing relation says what to do about it; a syntax error does not pretend apply helps.
    expect(table.message).toContain("run 'tributary apply'");
    await db.query(`CREATE TABLE "${schema}".u (id int PRIMARY KEY)`);
    await db.query(`INSERT INTO "${schema}".u VALUES (1)`);
    const duplicate = await failure(() => db.query(`INSERT INTO "${schema}".u VALUES (1)`));
    expect([duplicate.code, duplicate.retriable, duplicate.details['sqlState']]).toEqual([
      'TRIB_STORE_QUERY_FAILED',
      false,
      '23505',
    ]);
  });

  it('a value Postgres refuses is TRIB_WRONG_TYPE, naming the value', async () => {
    const error = await failure(() => db.query(`SELECT 'abc'::int`));
    expect(error.code).toBe('TRIB_WRONG_TYPE');
    expect(error.message).toContain('invalid input syntax for type integer');
  });

  it('a backend ended by an administrator is retriable', async () => {
    const client = await db.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const killed = client.query('SELECT pg_sleep(10)');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await db.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    const error = await failure(() => killed);
    client.release(true);
    expect(error.code).toBe('TRIB_OFFLINE_STORE_UNAVAILABLE');
    expect(error.retriable).toBe(true);
  });

  it('a refused connection is the retriable unavailable code with a hint about DATABASE_URL, not TRIB_INTERNAL', async () => {
    const refused = pool(`postgres://postgres:hunter2@127.0.0.1:${await closedPort()}/tributary`);
    const error = await failure(() => refused.query('SELECT 1'), 'registry');
    expect(error.code).toBe('TRIB_OFFLINE_STORE_UNAVAILABLE');
    expect(error.retriable).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).not.toContain('hunter2');
    const registry = postgresError(error.cause, 'registry', { unavailable: 'TRIB_SERVICE_UNAVAILABLE' });
    expect(registry.code).toBe('TRIB_SERVICE_UNAVAILABLE');
  });

  it('a database that does not exist is a configuration error', async () => {
    const url = new URL(services().DATABASE_URL);
    url.pathname = `/${uniqueName('nodb')}`;
    const error = await failure(() => pool(url.toString()).query('SELECT 1'));
    expect(error.code).toBe('TRIB_CONFIG_INVALID');
    expect(error.message).toContain('DATABASE_URL');
  });
});

describe('transaction', () => {
  it('commits on success; on failure rolls back by discarding the connection', async () => {
    await db.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await db.query(`CREATE TABLE IF NOT EXISTS "${schema}".t (id int PRIMARY KEY)`);
    const small = pool(services().DATABASE_URL, 1);
    await transaction(small, async (client) => {
      await client.query(`INSERT INTO "${schema}".t VALUES (1)`);
    });
    const pidBefore = (await small.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const error = await transaction(small, async (client) => {
      await client.query(`INSERT INTO "${schema}".t VALUES (2)`);
      await client.query(`INSERT INTO "${schema}".t VALUES (1)`); // unique violation
    }).catch((e: unknown) => e);
    expect(postgresError(error, 'test').details['sqlState']).toBe('23505');
    const { rows } = await db.query<{ id: number }>(`SELECT id FROM "${schema}".t ORDER BY id`);
    expect(rows.map((r) => r.id)).toEqual([1]);
    // The one connection of the pool was replaced, not reused in an unknown state.
    const pidAfter = (await small.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    expect(pidAfter).not.toBe(pidBefore);
  });
});

describe('loadSql', () => {
  it('puts the quoted schema in place of {{schema}}', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trib-sql-'));
    const file = join(dir, 'x.sql');
    writeFileSync(file, 'SELECT * FROM {{schema}}.t JOIN {{schema}}.u USING (id)');
    expect(loadSql(pathToFileURL(file), { schema: 'we"ird' })).toBe(
      'SELECT * FROM "we""ird".t JOIN "we""ird".u USING (id)',
    );
  });
});

describe('a pool whose connections are cut', () => {
  it('survives idle and checked-out connections dying, and serves again once Postgres is back', async () => {
    const target = TcpProxy.forUrl(services().DATABASE_URL);
    const proxy = await new TcpProxy(target.host, target.port).start();
    const url = new URL(services().DATABASE_URL);
    url.port = String(proxy.port);
    const cut = pool(url.toString(), 4);
    // Three idle connections and one checked out, doing nothing: both kinds emit 'error' when cut,
    // which ended the process ("Emitted 'error' event on BoundPool") when nobody listened.
    const clients = await Promise.all([cut.connect(), cut.connect(), cut.connect(), cut.connect()]);
    for (const c of clients.slice(1)) c.release();
    const held = clients[0]!;
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const during = await failure(() => cut.query('SELECT 1'));
    expect(during.code).toBe('TRIB_OFFLINE_STORE_UNAVAILABLE');
    expect(during.retriable).toBe(true);
    held.release(true);
    proxy.restore();
    const { rows } = await cut.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0]!.one).toBe(1);
    await proxy.close();
  });
});

it('isTributaryError keeps the mapped errors recognisable', async () => {
  const error = await failure(() => db.query('SELECT nope()'));
  expect(isTributaryError(error, 'TRIB_STORE_QUERY_FAILED')).toBe(true);
});
