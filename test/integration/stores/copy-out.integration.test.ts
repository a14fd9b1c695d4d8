/**
 * CopyOutQuery on a real Postgres: every byte of a large COPY arrives through the callback (message
 * headers cut between socket reads included), notices Postgres sends in between are skipped, and
 * an error partway through fails the query and leaves the connection usable.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CopyOutQuery } from '../../../shared/stores/offline/postgres/copy-out.ts';
import { services } from '../../support/env.ts';

describe('CopyOutQuery', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: services().DATABASE_URL });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });

  /** Runs a COPY TO STDOUT and returns what it sent, as text. */
  async function copyText(sql: string): Promise<string> {
    const parts: Buffer[] = [];
    const copy = new CopyOutQuery(`COPY (${sql}) TO STDOUT`, (buf, start, end) => {
      parts.push(Buffer.from(buf.subarray(start, end)));
    });
    client.query(copy as never);
    await copy.done;
    return Buffer.concat(parts).toString('utf8');
  }

  it('hands over every byte of a large answer, in order', async () => {
    const text = await copyText(`SELECT i, repeat('x', i % 97) FROM generate_series(1, 200000) i`);
    const expected = Array.from(
      { length: 200_000 },
      (_, k) => `${k + 1}\t${'x'.repeat((k + 1) % 97)}\n`,
    ).join('');
    expect(text.length).toBe(expected.length);
    expect(text === expected).toBe(true);
    // The connection is back with node-postgres.
    expect((await client.query('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }]);
  });

  it('skips the notices Postgres sends between rows', async () => {
    await client.query(`CREATE OR REPLACE FUNCTION pg_temp.noisy(i int) RETURNS int LANGUAGE plpgsql AS
      $$ BEGIN RAISE NOTICE 'row %', i; RETURN i; END $$`);
    const text = await copyText('SELECT pg_temp.noisy(i) FROM generate_series(1, 2000) i');
    expect(text).toBe(Array.from({ length: 2000 }, (_, k) => `${k + 1}\n`).join(''));
  });

  it('fails with the Postgres error raised partway through, and the connection keeps working', async () => {
    const error = await copyText('SELECT 1 / (150000 - i) FROM generate_series(1, 200000) i').catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toBe('division by zero');
    expect((error as { code?: string }).code).toBe('22012');
    expect((await client.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
  });

  it('fails when cancelled', async () => {
    const other = new pg.Client({ connectionString: services().DATABASE_URL });
    await other.connect();
    other.on('error', () => undefined);
    const copy = new CopyOutQuery('COPY (SELECT pg_sleep(5)) TO STDOUT', () => undefined);
    other.query(copy as never);
    copy.cancel(new Error('stopped'));
    await expect(copy.done).rejects.toThrow('stopped');
    // A connection left mid-COPY is thrown away, as the historical reader does.
    await other.end();
  });
});
