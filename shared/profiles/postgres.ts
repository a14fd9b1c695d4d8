/** The Postgres adapter of the profile store: one jsonb row per model and model version. */

import { TributaryError } from '../errors.ts';
import { DEFAULT_MONITOR_SCHEMA, isMissingRelation, storeError } from '../monitoring/postgres.ts';
import { createPool, loadSql, type PgPool, quoteSchema } from '../postgres/index.ts';
import type { ProfileStore } from './store.ts';
import { PROFILE_FORMAT, type ReferenceProfile } from './types.ts';

export class PostgresProfileStore implements ProfileStore {
  private readonly table: string;
  private readonly ownsPool: boolean;
  private readonly pool: PgPool;

  /** `pool` may be shared with other adapters; a database URL gives the store a pool of its own. */
  constructor(
    poolOrUrl: PgPool | string,
    private readonly schema = DEFAULT_MONITOR_SCHEMA,
  ) {
    this.ownsPool = typeof poolOrUrl === 'string';
    this.pool =
      typeof poolOrUrl === 'string'
        ? createPool({ connectionString: poolOrUrl, max: 2, applicationName: 'tributary-profiles' })
        : poolOrUrl;
    this.table = `${quoteSchema(schema)}.reference_profiles`;
  }

  async ensureSchema(): Promise<void> {
    try {
      await this.pool.query(
        loadSql(new URL('./postgres/schema.sql', import.meta.url), { schema: this.schema }),
      );
    } catch (error) {
      throw storeError(error, 'cannot create the profile tables');
    }
  }

  async put(profile: ReferenceProfile): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO ${this.table} (model, model_version, created_at, source, rows, profile)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (model, model_version) DO UPDATE
           SET created_at = EXCLUDED.created_at, source = EXCLUDED.source, rows = EXCLUDED.rows, profile = EXCLUDED.profile`,
        [
          profile.model,
          profile.modelVersion,
          profile.createdAt,
          profile.source,
          profile.rows,
          JSON.stringify(profile),
        ],
      );
    } catch (error) {
      throw storeError(error, 'cannot store the profile');
    }
  }

  async get(model: string, modelVersion: string): Promise<ReferenceProfile | null> {
    const { rows } = await this.pool
      .query<{ profile: ReferenceProfile }>(
        `SELECT profile FROM ${this.table} WHERE model = $1 AND model_version = $2`,
        [model, modelVersion],
      )
      .catch((error: unknown) => {
        // No table yet: no profile was ever stored.
        if (isMissingRelation(error)) return { rows: [] };
        throw storeError(error, 'cannot read the profile');
      });
    return rows[0] ? checked(rows[0].profile) : null;
  }

  async latest(model: string): Promise<ReferenceProfile | null> {
    const { rows } = await this.pool
      .query<{ profile: ReferenceProfile }>(
        `SELECT profile FROM ${this.table} WHERE model = $1 ORDER BY created_at DESC, model_version DESC LIMIT 1`,
        [model],
      )
      .catch((error: unknown) => {
        // No table yet: no profile was ever stored.
        if (isMissingRelation(error)) return { rows: [] };
        throw storeError(error, 'cannot read the profile');
      });
    return rows[0] ? checked(rows[0].profile) : null;
  }

  /**
   * The stored versions of a model, newest first, ties in `latest`'s order (so the first listed is
   * the latest); none when no profile was ever stored (no table yet).
   */
  async list(model: string): Promise<{ modelVersion: string; createdAt: string; rows: number }[]> {
    const { rows } = await this.pool
      .query<{ model_version: string; created_at: Date; rows: string }>(
        `SELECT model_version, created_at, rows FROM ${this.table} WHERE model = $1 ORDER BY created_at DESC, model_version DESC`,
        [model],
      )
      .catch((error: unknown) => {
        if (isMissingRelation(error)) return { rows: [] };
        throw storeError(error, 'cannot list the profiles');
      });
    return rows.map((r) => ({
      modelVersion: r.model_version,
      createdAt: r.created_at.toISOString(),
      rows: Number(r.rows),
    }));
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

function checked(profile: ReferenceProfile): ReferenceProfile {
  if (profile.format !== PROFILE_FORMAT) {
    throw new TributaryError(
      'TRIB_PROFILE_NOT_FOUND',
      `the stored profile of ${profile.model} version ${profile.modelVersion} has format ${profile.format}, expected ${PROFILE_FORMAT}: rebuild it with 'tributary profile'`,
    );
  }
  return profile;
}
