import pg from 'pg';
import { afterAll } from 'vitest';
import { PostgresProfileStore } from '../../../shared/profiles/postgres.ts';
import { services } from '../../support/env.ts';
import { closedPort } from '../stores/closed-port.ts';
import { describeProfileStorePort } from './profile-port.suite.ts';

let inspector: pg.Pool | undefined;
const db = () => {
  inspector ??= new pg.Pool({ connectionString: services().DATABASE_URL, max: 2 });
  return inspector;
};
afterAll(() => inspector?.end());

describeProfileStorePort('PostgresProfileStore', {
  // A namespace is a schema (the monitor's, which profiles share).
  create: (schema) => new PostgresProfileStore(services().DATABASE_URL, schema),
  unreachable: async () =>
    new PostgresProfileStore(`postgres://postgres@127.0.0.1:${await closedPort()}/tributary`),
  drop: async (schema) => {
    await db().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  },
});
