import { afterAll, describe, expect, it } from 'vitest';
import { driverSpec } from '../../../fixtures/driver-spec.ts';
import type { MonitorSpec, RepoSpec, WebhookSpec } from '../../../shared/definitions/types.ts';
import { isTributaryError, type TributaryError } from '../../../shared/errors.ts';
import { specHash } from '../../../shared/registry/hash.ts';
import { planChanges } from '../../../shared/registry/plan.ts';
import type {
  NewVersion,
  RegistryEvent,
  RegistryStore,
  RegistryVersionInfo,
} from '../../../shared/registry/port.ts';
import { uniqueName } from '../../support/env.ts';

/** How the registry port suite gets registries of one adapter. */
export interface RegistryHarness {
  /**
   * A registry on `namespace` (one registry's storage: a schema, a key prefix); every registry
   * opened on the same namespace is the same registry, as in several processes. A namespace the
   * suite names first is one nothing was ever applied to.
   */
  create(namespace: string): RegistryStore;
  /** A registry whose backing service cannot be reached. */
  unreachable(): Promise<RegistryStore>;
  /** Cuts the notification connections of `namespace`'s subscribers, as a network failure would. */
  cutNotifications(namespace: string): Promise<void>;
  /** Removes what the suite stored under `namespace`. */
  drop(namespace: string): Promise<void>;
}

/** The example repository on a topic of its own; `ttlMs` makes versions that differ. */
export function registrySpec(ttlMs = 0, webhooks: WebhookSpec[] = []): RepoSpec {
  const spec = driverSpec('registry_suite.driver_stats', { ttlMs });
  const model: MonitorSpec = {
    kind: 'monitor',
    name: 'driver_model',
    model: 'driver_model',
    predictionTopic: 'registry_suite.predictions',
    features: ['driver_hourly_stats:conv_rate'],
    monitorPrediction: true,
    window: { rows: 1000 },
    overrides: {},
    datasetDriftThreshold: 0.5,
    retrain: null,
    webhooks,
  };
  return { ...spec, monitors: [model] };
}

/** What an apply records for `spec` on top of `current`. */
function newVersion(
  spec: RepoSpec,
  current: { version: number; hash: string; spec: RepoSpec } | null,
  appliedBy = 'suite@ci',
): NewVersion {
  return { spec, hash: specHash(spec), appliedBy, plan: planChanges(current, spec) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const until = async (check: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** The RegistryStore contract (shared/registry/port.ts), run against every adapter. */
export function describeRegistryPort(name: string, harness: RegistryHarness) {
  describe(`${name} (registry port)`, () => {
    const namespaces: string[] = [];
    const open: RegistryStore[] = [];
    afterAll(async () => {
      await Promise.all(open.map((r) => r.close().catch(() => undefined)));
      for (const ns of namespaces) await harness.drop(ns);
    });

    /** A namespace nothing was applied to, and a registry on it. */
    function fresh(): { namespace: string; registry: RegistryStore; another: () => RegistryStore } {
      const namespace = uniqueName('regport');
      namespaces.push(namespace);
      const another = () => {
        const registry = harness.create(namespace);
        open.push(registry);
        return registry;
      };
      return { namespace, registry: another(), another };
    }

    /** Records `spec` as an apply would, in a transaction of its own. */
    const apply = (registry: RegistryStore, spec: RepoSpec, appliedBy?: string) =>
      registry.withApplyLock(async (tx) => tx.record(newVersion(spec, await tx.latest(), appliedBy)));

    it('reads an empty registry (nothing ever applied, nothing created) as empty, not as an error', async () => {
      const { registry } = fresh();
      expect(await registry.latest()).toBeNull();
      expect(await registry.latestInfo()).toBeNull();
      expect(await registry.history()).toEqual([]);
      expect(await registry.history(5)).toEqual([]);
      expect(await registry.version(1)).toBeNull();
      // Subscribing needs nothing applied either; the first apply creates what it needs.
      const events: RegistryEvent[] = [];
      const subscription = await registry.subscribe((e) => events.push(e));
      await registry.withApplyLock(async (tx) => expect(await tx.latest()).toBeNull());
      const info = await apply(registry, registrySpec());
      expect(info.version).toBe(1);
      await until(() => events.length > 0);
      expect(events).toEqual([{ type: 'version', version: 1, hash: info.hash }]);
      await subscription.close();
    });

    it('records versions 1, 2, 3 in apply order and reads each back, with its spec and who applied it', async () => {
      const { registry, another } = fresh();
      const before = Date.now();
      const specs = [registrySpec(0), registrySpec(86_400_000), registrySpec(172_800_000)];
      const infos: RegistryVersionInfo[] = [];
      for (const [i, spec] of specs.entries()) infos.push(await apply(registry, spec, `user${i}@host`));
      expect(infos.map((v) => v.version)).toEqual([1, 2, 3]);
      for (const [i, info] of infos.entries()) {
        expect(info.hash).toBe(specHash(specs[i]!));
        expect(info.appliedBy).toBe(`user${i}@host`);
        expect(info.appliedAt).toBeInstanceOf(Date);
        expect(info.appliedAt.getTime()).toBeGreaterThanOrEqual(before - 5_000);
        expect(info.appliedAt.getTime()).toBeLessThanOrEqual(Date.now() + 5_000);
      }
      // Another process on the same registry reads what this one recorded.
      const reader = another();
      expect(await reader.latestInfo()).toEqual(infos[2]);
      expect(await reader.latest()).toEqual({ ...infos[2], spec: specs[2] });
      for (const [i, info] of infos.entries()) {
        expect(await reader.version(info.version)).toEqual({ ...info, spec: specs[i] });
      }
      expect(await reader.version(0)).toBeNull();
      expect(await reader.version(4)).toBeNull();
      // History: newest first, without specs, as many as asked.
      expect(await reader.history()).toEqual([...infos].reverse());
      expect(await reader.history(2)).toEqual([infos[2], infos[1]]);
      expect(await reader.history(1)).toEqual([infos[2]]);
    });

    it('sees its own record inside the transaction; others see it only once it commits', async () => {
      const { registry, another } = fresh();
      const first = await apply(registry, registrySpec(0));
      const reader = another();
      const spec = registrySpec(60_000);
      await registry.withApplyLock(async (tx) => {
        const recorded = await tx.record(newVersion(spec, await tx.latest()));
        expect(recorded.version).toBe(2);
        expect(await tx.latest()).toEqual({ ...recorded, spec });
        expect(await reader.latestInfo()).toEqual(first);
        expect(await reader.version(2)).toBeNull();
      });
      expect((await reader.latestInfo())?.version).toBe(2);
      expect((await reader.latest())?.spec).toEqual(spec);
    });

    it('records nothing when the work throws, and passes the work’s own error through as it is', async () => {
      const { registry } = fresh();
      const first = await apply(registry, registrySpec(0));
      const events: RegistryEvent[] = [];
      const subscription = await registry.subscribe((e) => events.push(e));
      const refused = new Error('plan refused');
      const error = await rejection(
        registry.withApplyLock(async (tx) => {
          await tx.record(newVersion(registrySpec(60_000), await tx.latest()));
          await tx.recordArchive('driver_hourly_stats', 'driver_hourly_stats__archived_x', 'breaking');
          throw refused;
        }),
      );
      expect(error).toBe(refused);
      expect(await registry.latestInfo()).toEqual(first);
      expect(await registry.history()).toEqual([first]);
      // The version that rolled back was never announced, and its number is the next one's.
      const next = await apply(registry, registrySpec(120_000));
      expect(next.version).toBe(2);
      await until(() => events.length > 0);
      await new Promise((r) => setTimeout(r, 100));
      expect(events).toEqual([{ type: 'version', version: 2, hash: next.hash }]);
      await subscription.close();
    });

    it('returns what the work returns, and records archived tables in the same transaction', async () => {
      const { registry } = fresh();
      const result = await registry.withApplyLock(async (tx) => {
        const info = await tx.record(newVersion(registrySpec(0), null));
        await tx.recordArchive('driver_hourly_stats', 'driver_hourly_stats__archived_1', 'type changed');
        // The same archived table twice: remembered once, no failure.
        await tx.recordArchive('driver_hourly_stats', 'driver_hourly_stats__archived_1', 'type changed');
        return { answer: 42, info };
      });
      expect(result.answer).toBe(42);
      expect(await registry.latestInfo()).toEqual(result.info);
    });

    it('never interleaves two applies, from one registry or from two', async () => {
      const { registry, another } = fresh();
      const other = another();
      const inside: string[] = [];
      const work = (who: string, store: RegistryStore, ttlMs: number) =>
        store.withApplyLock(async (tx) => {
          inside.push(`${who} in`);
          const current = await tx.latest();
          await new Promise((r) => setTimeout(r, 150));
          const info = await tx.record(newVersion(registrySpec(ttlMs), current, who));
          inside.push(`${who} out`);
          return info;
        });
      const infos = await Promise.all([
        work('a', registry, 1_000),
        work('b', other, 2_000),
        work('c', registry, 3_000),
      ]);
      // Each work ran alone: every "in" is followed by its own "out".
      for (let i = 0; i < inside.length; i += 2) {
        expect(inside[i + 1]).toBe(inside[i]!.replace(' in', ' out'));
      }
      expect(infos.map((v) => v.version).sort()).toEqual([1, 2, 3]);
      expect((await registry.history()).map((v) => v.version)).toEqual([3, 2, 1]);
    });

    it('scrubs literal webhook secrets from every stored version, keeping urls, secretEnv and hashes', async () => {
      const { registry } = fresh();
      const hooks = (secret: boolean): WebhookSpec[] => [
        { url: 'https://hooks.example/a', secretEnv: 'HOOK_KEY' },
        secret ? { url: 'https://hooks.example/b', secret: 'old-key' } : { url: 'https://hooks.example/b' },
      ];
      // Versions recorded before secretEnv existed carried the key itself.
      const v1 = await apply(registry, registrySpec(0, hooks(true)));
      const v2 = await apply(registry, registrySpec(60_000, hooks(true)));
      const v3 = await apply(registry, registrySpec(120_000, hooks(false)));
      expect((await registry.version(1))?.spec.monitors[0]?.webhooks[1]).toEqual({
        url: 'https://hooks.example/b',
        secret: 'old-key',
      });
      const counts = await registry.withApplyLock((tx) => tx.scrubSecrets());
      // Two versions held one; the current objects (from v3) held none.
      expect(counts).toEqual({ versions: 2, objects: 0 });
      for (const info of [v1, v2, v3]) {
        const stored = await registry.version(info.version);
        expect(stored?.hash).toBe(info.hash);
        expect(stored?.spec.monitors[0]?.webhooks).toEqual(hooks(false));
      }
      // Current objects recorded with a key are scrubbed too; nothing left, nothing counted.
      await apply(registry, registrySpec(180_000, hooks(true)));
      expect(await registry.withApplyLock((tx) => tx.scrubSecrets())).toEqual({ versions: 1, objects: 1 });
      expect(await registry.withApplyLock((tx) => tx.scrubSecrets())).toEqual({ versions: 0, objects: 0 });
      expect(JSON.stringify(await registry.latest())).not.toContain('old-key');
    });

    it('notifies subscribers of every committed version of its own registry, until closed', async () => {
      const { registry, another } = fresh();
      const elsewhere = fresh().registry;
      const writer = another();
      const a: RegistryEvent[] = [];
      const b: RegistryEvent[] = [];
      const subA = await registry.subscribe((e) => a.push(e));
      const subB = await registry.subscribe((e) => b.push(e));
      const v1 = await apply(writer, registrySpec(0));
      await apply(elsewhere, registrySpec(0)); // another registry's version: not ours
      const v2 = await apply(writer, registrySpec(60_000));
      await until(() => a.length >= 2 && b.length >= 2);
      const expected = [
        { type: 'version', version: 1, hash: v1.hash },
        { type: 'version', version: 2, hash: v2.hash },
      ];
      expect(a).toEqual(expected);
      expect(b).toEqual(expected);
      // A closed subscription hears nothing more; the other one still does.
      await subA.close();
      const v3 = await apply(writer, registrySpec(120_000));
      await until(() => b.length >= 3);
      expect(b[2]).toEqual({ type: 'version', version: 3, hash: v3.hash });
      await new Promise((r) => setTimeout(r, 100));
      expect(a).toHaveLength(2);
      // Closing the registry closes its remaining subscriptions.
      await registry.close();
      await apply(writer, registrySpec(180_000));
      await new Promise((r) => setTimeout(r, 300));
      expect(b).toHaveLength(3);
      await subB.close(); // closing twice is harmless
    });

    it('says "reconnected" after losing its notification connection, then notifies again', async () => {
      const { namespace, registry, another } = fresh();
      const writer = another();
      const events: RegistryEvent[] = [];
      const subscription = await registry.subscribe((e) => events.push(e));
      await harness.cutNotifications(namespace);
      await until(() => events.some((e) => e.type === 'reconnected'), 30_000);
      const info = await apply(writer, registrySpec(0));
      await until(() => events.some((e) => e.type === 'version'));
      expect(events.filter((e) => e.type === 'version')).toEqual([
        { type: 'version', version: 1, hash: info.hash },
      ]);
      await subscription.close();
    });

    it('fails with a retriable coded error when its service cannot be reached', async () => {
      const down = await harness.unreachable();
      try {
        const attempts: [string, () => Promise<unknown>][] = [
          ['latest', () => down.latest()],
          ['latestInfo', () => down.latestInfo()],
          ['history', () => down.history()],
          ['version', () => down.version(1)],
          ['withApplyLock', () => down.withApplyLock(async () => 'never runs')],
          ['subscribe', () => down.subscribe(() => undefined)],
        ];
        for (const [method, attempt] of attempts) {
          const error = await rejection(attempt());
          expect(isTributaryError(error, 'TRIB_SERVICE_UNAVAILABLE'), `${method}: ${String(error)}`).toBe(
            true,
          );
          expect((error as TributaryError).retriable, method).toBe(true);
        }
      } finally {
        await down.close();
      }
    });
  });
}
