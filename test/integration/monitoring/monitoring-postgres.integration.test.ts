import pg from 'pg';
import { afterAll } from 'vitest';
import { PostgresMonitorStore } from '../../../shared/monitoring/postgres.ts';
import { services } from '../../support/env.ts';
import { closedPort } from '../stores/closed-port.ts';
import { describeMonitorStorePort } from './monitoring-port.suite.ts';

let inspector: pg.Pool | undefined;
const db = () => {
  inspector ??= new pg.Pool({ connectionString: services().DATABASE_URL, max: 2 });
  return inspector;
};
afterAll(() => inspector?.end());

describeMonitorStorePort('PostgresMonitorStore', {
  // A namespace is a schema.
  create: (schema, options) => new PostgresMonitorStore(services().DATABASE_URL, schema, undefined, options),
  unreachable: async () =>
    new PostgresMonitorStore(`postgres://postgres@127.0.0.1:${await closedPort()}/tributary`),
  // The outbox rows are a checkpoint's last write: a trigger refusing them fails it after the rest.
  failCheckpoints: async (schema) => {
    await db().query(`
      CREATE FUNCTION "${schema}".injected_fault() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
      CREATE TRIGGER injected_fault BEFORE INSERT ON "${schema}".outbox
        FOR EACH STATEMENT EXECUTE FUNCTION "${schema}".injected_fault();`);
    return async () => {
      await db().query(
        `DROP TRIGGER injected_fault ON "${schema}".outbox; DROP FUNCTION "${schema}".injected_fault();`,
      );
    };
  },
  drop: async (schema) => {
    await db().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  },
});
