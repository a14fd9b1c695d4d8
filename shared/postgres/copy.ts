/** COPY … FROM STDIN as a writable stream on a pooled connection (pg-copy-streams). */
import type { Writable } from 'node:stream';
import { from } from 'pg-copy-streams';
import type { PgSubmittable } from './pool.ts';

/** A `COPY … FROM STDIN` query: submit it with `client.query(copy)`, then write the data to it. */
export function copyFrom(sql: string): Writable & PgSubmittable {
  return from(sql);
}
