import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTributaryError, type TributaryError } from '../../../shared/errors.ts';
import { ProfileBuilder } from '../../../shared/profiles/builder.ts';
import type { ProfileStore } from '../../../shared/profiles/store.ts';
import type { ReferenceProfile } from '../../../shared/profiles/types.ts';
import { uniqueName } from '../../support/env.ts';

/** How the profile port suite gets stores of one adapter. */
export interface ProfileStoreHarness {
  /**
   * A store on `namespace` (a schema, a key prefix); stores opened on one namespace share their
   * profiles, as several processes do. A namespace the suite names first holds nothing yet.
   */
  create(namespace: string): ProfileStore;
  /** A store whose backing service cannot be reached. */
  unreachable(): Promise<ProfileStore>;
  /** Removes what the suite stored under `namespace`. */
  drop(namespace: string): Promise<void>;
}

const T0 = Date.parse('2026-11-20T10:00:00Z');

/** A small real profile: a numeric and a categorical column and the prediction, built at `at`. */
export function profileOf(model: string, modelVersion: string, at = T0, rows = 200): ReferenceProfile {
  const builder = new ProfileBuilder({
    model,
    modelVersion,
    source: `${modelVersion}.csv`,
    now: () => new Date(at),
  });
  const x = Float64Array.from({ length: rows }, (_, i) => Math.sin(i) * 3 + i / rows);
  const color = Array.from({ length: rows }, (_, i) => ['red', 'green', 'blue'][i % 3]!);
  const prediction = Float64Array.from({ length: rows }, (_, i) => (i % 10) / 10);
  builder.add({ names: ['x', 'color', 'prediction'], columns: [x, color, prediction], rows });
  return builder.finish();
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** The ProfileStore contract (shared/profiles/store.ts), run against every adapter. */
export function describeProfileStorePort(name: string, harness: ProfileStoreHarness) {
  describe(`${name} (ProfileStore port)`, () => {
    const namespace = uniqueName('profport');
    const namespaces = [namespace];
    let store: ProfileStore;
    beforeAll(async () => {
      store = harness.create(namespace);
      await store.ensureSchema();
    });
    afterAll(async () => {
      await store.close();
      for (const ns of namespaces) await harness.drop(ns);
    });
    const model = () => uniqueName('model');

    it('reads a store never set up as empty, and sets it up idempotently', async () => {
      const empty = uniqueName('profport');
      namespaces.push(empty);
      const fresh = harness.create(empty);
      try {
        expect(await fresh.get('m', '1')).toBeNull();
        expect(await fresh.latest('m')).toBeNull();
        expect(await fresh.list('m')).toEqual([]);
        await fresh.ensureSchema();
        await fresh.ensureSchema();
        expect(await fresh.list('m')).toEqual([]);
        const profile = profileOf('m', '1');
        await fresh.put(profile);
        await fresh.ensureSchema(); // keeps what is stored
        expect(await fresh.get('m', '1')).toEqual(profile);
      } finally {
        await fresh.close();
      }
    });

    it('gives back exactly the profile it stored, to any store on the same namespace', async () => {
      const m = model();
      const profile = profileOf(m, '3');
      await store.put(profile);
      const other = harness.create(namespace);
      try {
        expect(await other.get(m, '3')).toEqual(profile);
        expect(await other.latest(m)).toEqual(profile);
      } finally {
        await other.close();
      }
      expect(await store.get(m, '4')).toBeNull();
      expect(await store.get(model(), '3')).toBeNull();
    });

    it('replaces the profile of the same model and version', async () => {
      const m = model();
      await store.put(profileOf(m, '1', T0, 100));
      const rebuilt = profileOf(m, '1', T0 + 60_000, 300);
      await store.put(rebuilt);
      expect(await store.get(m, '1')).toEqual(rebuilt);
      expect(await store.list(m)).toEqual([
        { modelVersion: '1', createdAt: new Date(T0 + 60_000).toISOString(), rows: 300 },
      ]);
    });

    it('lists a model’s versions newest first; latest is the newest; models do not mix', async () => {
      const m = model();
      const other = model();
      const versions = [
        profileOf(m, '1', T0, 100),
        profileOf(m, '10', T0 + 2_000, 120),
        profileOf(m, '2', T0 + 1_000, 110),
      ];
      for (const p of versions) await store.put(p);
      await store.put(profileOf(other, '99', T0 + 5_000));
      expect(await store.list(m)).toEqual([
        { modelVersion: '10', createdAt: new Date(T0 + 2_000).toISOString(), rows: 120 },
        { modelVersion: '2', createdAt: new Date(T0 + 1_000).toISOString(), rows: 110 },
        { modelVersion: '1', createdAt: new Date(T0).toISOString(), rows: 100 },
      ]);
      expect(await store.latest(m)).toEqual(versions[1]);
      expect((await store.latest(other))?.modelVersion).toBe('99');
      expect(await store.list(model())).toEqual([]);
      expect(await store.latest(model())).toBeNull();
    });

    it('agrees with itself on versions built at the same instant: the first listed is the latest', async () => {
      const m = model();
      for (const v of ['b', 'd', 'a', 'c', 'e']) await store.put(profileOf(m, v, T0));
      const listed = await store.list(m);
      expect(listed).toHaveLength(5);
      const latest = await store.latest(m);
      expect(listed[0]!.modelVersion).toBe(latest?.modelVersion);
      // And the order is the same every time it is asked.
      for (let i = 0; i < 3; i++) expect(await store.list(m)).toEqual(listed);
    });

    it('refuses a stored profile of another format as TRIB_PROFILE_NOT_FOUND, not retriable', async () => {
      const m = model();
      const old = { ...profileOf(m, '1'), format: 0 } as unknown as ReferenceProfile;
      await store.put(old);
      for (const read of [() => store.get(m, '1'), () => store.latest(m)]) {
        const error = await rejection(read());
        expect(isTributaryError(error, 'TRIB_PROFILE_NOT_FOUND')).toBe(true);
        expect((error as TributaryError).retriable).toBe(false);
        expect((error as Error).message).toMatch(/tributary profile/);
      }
      // Listing still names it, so a person sees what to rebuild.
      expect((await store.list(m)).map((v) => v.modelVersion)).toEqual(['1']);
    });

    it('fails with the retriable TRIB_OFFLINE_STORE_UNAVAILABLE when its service cannot be reached', async () => {
      const down = await harness.unreachable();
      try {
        const attempts: [string, () => Promise<unknown>][] = [
          ['ensureSchema', () => down.ensureSchema()],
          ['put', () => down.put(profileOf('m', '1'))],
          ['get', () => down.get('m', '1')],
          ['latest', () => down.latest('m')],
          ['list', () => down.list('m')],
        ];
        for (const [method, attempt] of attempts) {
          const error = await rejection(attempt());
          expect(
            isTributaryError(error, 'TRIB_OFFLINE_STORE_UNAVAILABLE'),
            `${method}: ${String(error)}`,
          ).toBe(true);
          expect((error as TributaryError).retriable, method).toBe(true);
        }
      } finally {
        await down.close();
      }
    });
  });
}
