import { describe, expect, it } from 'vitest';
import { isTributaryError } from '../../../shared/errors.ts';
import { requireIndexSupport } from '../../../shared/stores/offline/postgres/index.ts';

describe('requireIndexSupport', () => {
  it('accepts Postgres 15 and later', () => {
    expect(() => requireIndexSupport(150_000)).not.toThrow();
    expect(() => requireIndexSupport(160_004)).not.toThrow();
  });

  it('refuses Postgres 14 with TRIB_CONFIG_INVALID naming the version and the reason', () => {
    let error: unknown;
    try {
      requireIndexSupport(140_011);
    } catch (e) {
      error = e;
    }
    expect(isTributaryError(error, 'TRIB_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/Postgres 15 or later .*Postgres 14\b.*NULLS NOT DISTINCT/);
  });
});
