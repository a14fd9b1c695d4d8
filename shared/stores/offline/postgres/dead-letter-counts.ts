/**
 * Dead-letter counts in Postgres, beside the offline tables: one row per (view, code, source
 * topic, source partition) with its count, the greatest source offset counted and the latest
 * reason. A partition is materialized in offset order by one process at a time, so a letter
 * whose offset is not past the row's `last_offset` was counted already: a batch replayed after
 * a crash (published again to the dead-letter topic) is not counted twice, and any number of
 * materializer processes add up to one count per letter.
 */

import { type DeadLetterCounts, type DeadLetterTally, factOf } from '../../../events/dead-letter-counts.ts';
import type { Logger } from '../../../logger.ts';
import {
  DEFAULT_OFFLINE_SCHEMA,
  type PgPool,
  postgresError,
  qualified,
  quoteIdent,
  quoteLiteral,
  transaction,
} from '../../../postgres/index.ts';
import { isRetriable } from '../../../retry.ts';
import type { OutgoingMessage } from '../../../stream/port.ts';

export const DEAD_LETTERS_TABLE = '__tributary_dead_letters';

/** No view: the message failed before any view decoded it. '' in the key, as a primary key cannot be null. */
const NO_VIEW = '';

export class PostgresDeadLetterCounts implements DeadLetterCounts {
  private readonly table: string;
  private ensured: Promise<void> | null = null;

  constructor(
    private readonly pool: PgPool,
    private readonly schema = DEFAULT_OFFLINE_SCHEMA,
    private readonly logger?: Logger,
  ) {
    this.table = qualified(schema, DEAD_LETTERS_TABLE);
  }

  private ensure(): Promise<void> {
    this.ensured ??= (async () => {
      await this.pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
      await this.pool.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
          view text NOT NULL, code text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
          count bigint NOT NULL, last_offset bigint NOT NULL, last_reason text NOT NULL,
          last_at timestamptz NOT NULL, PRIMARY KEY (topic, view, code, partition))`,
      );
    })().catch((error: unknown) => {
      this.ensured = null;
      throw error;
    });
    return this.ensured;
  }

  /**
   * Counts the letters. A Postgres that is down throws the retriable
   * TRIB_OFFLINE_STORE_UNAVAILABLE (the caller retries, as it does its offline writes); a
   * failure retrying cannot fix is logged and the letters go uncounted: the counts are for a
   * page, and holding a partition for them would stop the valid events behind it.
   */
  async record(letters: readonly OutgoingMessage[]): Promise<void> {
    const facts = letters.flatMap((l) => {
      const fact = factOf(l);
      return fact ? [fact] : [];
    });
    if (facts.length === 0) return;
    try {
      await this.ensure();
      await this.pool.query(
        `WITH l AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::float8[])
             AS l(view, code, topic, partition, off, reason, at_ms)
         ), fresh AS (
           SELECT l.* FROM l LEFT JOIN ${this.table} c USING (topic, view, code, partition)
            WHERE c.last_offset IS NULL OR l.off > c.last_offset
         )
         INSERT INTO ${this.table} AS c (view, code, topic, partition, count, last_offset, last_reason, last_at)
         SELECT view, code, topic, partition, count(*), max(off),
                (array_agg(reason ORDER BY off DESC))[1], to_timestamp(max(at_ms) / 1000.0)
           FROM fresh GROUP BY view, code, topic, partition
         ON CONFLICT (topic, view, code, partition) DO UPDATE
            SET count = c.count + EXCLUDED.count, last_offset = EXCLUDED.last_offset,
                last_reason = EXCLUDED.last_reason, last_at = GREATEST(c.last_at, EXCLUDED.last_at)
          WHERE EXCLUDED.last_offset > c.last_offset`,
        [
          facts.map((f) => f.view ?? NO_VIEW),
          facts.map((f) => f.code),
          facts.map((f) => f.sourceTopic),
          facts.map((f) => f.sourcePartition),
          facts.map((f) => f.sourceOffset),
          facts.map((f) => f.reason),
          facts.map((f) => f.failedAt),
        ],
      );
    } catch (thrown) {
      const error = postgresError(thrown, 'cannot count dead letters');
      if (isRetriable(error)) throw error;
      this.logger?.error(
        { err: error, code: error.code, letters: facts.length },
        `dead letters published but not counted for the dashboard (${error.code}): the letters themselves are in the dead-letter topic`,
      );
    }
  }

  /** The tallies of a topic, under a 2 s statement timeout; none before the first letter is counted. */
  async ofTopic(sourceTopic: string): Promise<DeadLetterTally[]> {
    try {
      return await transaction(this.pool, async (client) => {
        await client.query(`SET LOCAL statement_timeout = 2000`);
        const exists = await client.query<{ oid: string | null }>(
          `SELECT to_regclass(${quoteLiteral(this.table)})::oid::text AS oid`,
        );
        if (!exists.rows[0]?.oid) return [];
        const result = await client.query<{
          view: string;
          code: string;
          n: number;
          reason: string;
          at: number;
        }>(
          `SELECT view, code, sum(count)::float8 AS n,
                  (array_agg(last_reason ORDER BY last_at DESC))[1] AS reason,
                  (EXTRACT(EPOCH FROM max(last_at)) * 1000)::float8 AS at
             FROM ${this.table} WHERE topic = $1 GROUP BY view, code ORDER BY view, code`,
          [sourceTopic],
        );
        return result.rows.map((r) => ({
          view: r.view === NO_VIEW ? null : r.view,
          code: r.code,
          count: r.n,
          latestReason: r.reason,
          latestAt: r.at,
        }));
      });
    } catch (error) {
      throw postgresError(error, 'cannot read dead-letter counts');
    }
  }
}
