import pg from 'pg';
import { afterAll } from 'vitest';
import { PostgresRegistry } from '../../../shared/registry/postgres.ts';
import { services } from '../../support/env.ts';
import { closedPort } from '../stores/closed-port.ts';
import { describeRegistryPort } from './registry-port.suite.ts';

let inspector: pg.Pool | undefined;
const db = () => {
  inspector ??= new pg.Pool({ connectionString: services().DATABASE_URL, max: 2 });
  return inspector;
};
afterAll(() => inspector?.end());

describeRegistryPort('PostgresRegistry', {
  // A namespace is a schema; its NOTIFY channel is named after it.
  create: (schema) => new PostgresRegistry({ connectionString: services().DATABASE_URL, schema }),
  unreachable: async () =>
    new PostgresRegistry({
      connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/tributary`,
      schema: 'unreachable',
    }),
  cutNotifications: async (schema) => {
    const { rows } = await db().query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE query = $1', [
      `LISTEN "${schema}"`,
    ]);
    if (rows.length === 0) throw new Error(`no LISTEN connection for ${schema}`);
    await db().query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [
      rows.map((r) => r.pid),
    ]);
  },
  drop: async (schema) => {
    await db().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  },
});
