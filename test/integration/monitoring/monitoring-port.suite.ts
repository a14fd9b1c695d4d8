import { afterAll, describe, expect, it } from 'vitest';
import { isTributaryError, type TributaryError } from '../../../shared/errors.ts';
import type { WindowDetail } from '../../../shared/monitoring/detail.ts';
import type { DriftEvent, RetrainEvent } from '../../../shared/monitoring/events.ts';
import type {
  Checkpoint,
  MonitorQueryStore,
  MonitorStateStore,
  OutboxEntry,
  OutboxStore,
} from '../../../shared/monitoring/store.ts';
import { uniqueName } from '../../support/env.ts';

/** What one adapter gives the monitor: its state, its outbox and the read side, on one storage. */
export type MonitorStore = MonitorStateStore & OutboxStore & MonitorQueryStore & { close(): Promise<void> };

/** How the monitoring port suite gets stores of one adapter. */
export interface MonitorStoreHarness {
  /**
   * A store on `namespace` (a schema, a key prefix): stores on one namespace share everything, as
   * several processes do. A namespace the suite names first holds nothing, not even its tables.
   * `keepWindowDetail` is the N of "details kept for the last N windows of each model".
   */
  create(namespace: string, options?: { keepWindowDetail?: number }): MonitorStore;
  /** A store whose backing service cannot be reached. */
  unreachable(): Promise<MonitorStore>;
  /**
   * Makes every checkpoint on `namespace` fail at its last write, after the others were made
   * (a fault injected in the backing service); resolves with what removes the fault.
   */
  failCheckpoints(namespace: string): Promise<() => Promise<void>>;
  /** Removes what the suite stored under `namespace`. */
  drop(namespace: string): Promise<void>;
}

const T0 = Date.parse('2026-11-20T10:00:00Z');
const MINUTE = 60_000;

/** A closed window of `model` ending at `end`. */
function windowEvent(
  model: string,
  id: string,
  end: number,
  options: { version?: string; drifted?: boolean } = {},
): DriftEvent {
  const drifted = options.drifted ?? false;
  return {
    type: 'drift',
    id,
    model,
    model_version: options.version ?? '1',
    window: { start: end - MINUTE, end, rows: 100 },
    features: [
      {
        name: 'x',
        kind: 'numeric',
        method: 'ks',
        score: drifted ? 0.001 : 0.5,
        threshold: 0.05,
        drifted,
        missing_share: 0,
        measured: true,
      },
      {
        name: 'never_sent',
        kind: 'numeric',
        method: null,
        score: null,
        threshold: null,
        drifted: false,
        missing_share: 1,
        measured: false,
        reason: 'every value missing',
      },
    ],
    prediction: null,
    dataset: { drifted_share: drifted ? 0.5 : 0, threshold: 0.5, drifted },
  };
}

function retrainEvent(model: string, id: string, at: number, windows: string[] = []): RetrainEvent {
  return {
    type: 'retrain',
    id,
    model,
    model_version: '1',
    reason: 'drifted windows',
    windows,
    requested_at: at,
  };
}

function detailOf(event: DriftEvent): WindowDetail {
  return {
    id: event.id,
    reference: { modelVersion: event.model_version, createdAt: new Date(T0).toISOString() },
    columns: [],
  };
}

function delivery(eventId: string, kind: 'kafka' | 'webhook', destination: string, body = '{}'): OutboxEntry {
  return {
    deliveryId: `${eventId}@${destination}`,
    eventId,
    eventType: 'drift',
    kind,
    destination,
    key: kind === 'kafka' ? eventId : null,
    headers: kind === 'webhook' ? { 'x-tributary-signature': 'sha256=abc' } : {},
    body,
  };
}

/** A checkpoint with nothing but `monitor` and `state`, and whatever `parts` adds. */
function checkpointOf(monitor: string, state: unknown, parts: Partial<Checkpoint> = {}): Checkpoint {
  return { monitor, state, offsets: [], closedWindows: [], retrains: [], outbox: [], ...parts };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The monitor's persistence contract (shared/monitoring/store.ts), run against every adapter. */
export function describeMonitorStorePort(name: string, harness: MonitorStoreHarness) {
  describe(`${name} (monitoring ports)`, () => {
    const namespaces: string[] = [];
    const open: MonitorStore[] = [];
    afterAll(async () => {
      await Promise.all(open.map((s) => s.close()));
      for (const ns of namespaces) await harness.drop(ns);
    });

    /** A namespace of the test's own; `ready` runs ensureSchema. */
    async function fresh(options: { keepWindowDetail?: number; ready?: boolean } = {}) {
      const namespace = uniqueName('monport');
      namespaces.push(namespace);
      const another = (keep = options) => {
        const store = harness.create(
          namespace,
          keep.keepWindowDetail === undefined ? {} : { keepWindowDetail: keep.keepWindowDetail },
        );
        open.push(store);
        return store;
      };
      const store = another();
      if (options.ready !== false) await store.ensureSchema();
      return { namespace, store, another };
    }

    it('reads a store the monitor never set up as empty, and sets it up idempotently', async () => {
      const { store } = await fresh({ ready: false });
      expect(await store.windows({ model: 'm', limit: 10 })).toEqual([]);
      expect(await store.retrains({ model: 'm', limit: 10 })).toEqual([]);
      expect(await store.models()).toEqual([]);
      expect(await store.window('m', 'w1')).toBeNull();
      expect(await store.webhookHealth()).toEqual([]);
      await store.ensureSchema();
      await store.ensureSchema();
      expect(await store.load('m')).toEqual({ state: null, offsets: new Map() });
      expect(await store.depth()).toBe(0);
      expect(await store.nextDueInMs()).toBeNull();
      expect(await store.claimDue(10, 1_000)).toEqual([]);
      await store.checkpoint(checkpointOf('m', { n: 1 }));
      await store.ensureSchema(); // keeps what is stored
      expect((await store.load('m')).state).toEqual({ n: 1 });
    });

    it('loads the last checkpointed state and every partition’s offset, per monitor', async () => {
      const { store, another } = await fresh();
      const state = { windows: [{ rows: 3, sums: [1.5, -2, 0] }], policy: { drifted: 2 }, note: 'é"\\' };
      await store.checkpoint(
        checkpointOf('a', state, {
          offsets: [
            { topic: 'preds', partition: 0, offset: '41' },
            { topic: 'preds', partition: 1, offset: '9007199254740993' },
          ],
        }),
      );
      await store.checkpoint(
        checkpointOf('b', { other: true }, { offsets: [{ topic: 'preds', partition: 0, offset: '5' }] }),
      );
      // A later batch: the state is replaced, offsets of partitions it did not touch stay.
      await store.checkpoint(
        checkpointOf(
          'a',
          { ...state, note: 'later' },
          { offsets: [{ topic: 'preds', partition: 0, offset: '57' }] },
        ),
      );
      const reader = another();
      expect(await reader.load('a')).toEqual({
        state: { ...state, note: 'later' },
        offsets: new Map([
          ['preds:0', 57n],
          ['preds:1', 9007199254740993n],
        ]),
      });
      expect(await reader.load('b')).toEqual({ state: { other: true }, offsets: new Map([['preds:0', 5n]]) });
      expect(await reader.load('c')).toEqual({ state: null, offsets: new Map() });
    });

    it('never moves a processed offset back (a redelivered batch checkpoints an older one)', async () => {
      const { store } = await fresh();
      await store.checkpoint(
        checkpointOf('m', 1, { offsets: [{ topic: 't', partition: 0, offset: '100' }] }),
      );
      await store.checkpoint(checkpointOf('m', 2, { offsets: [{ topic: 't', partition: 0, offset: '40' }] }));
      expect(await store.load('m')).toEqual({ state: 2, offsets: new Map([['t:0', 100n]]) });
    });

    it('writes a checkpoint all or nothing: a failure at its last write leaves no part of it', async () => {
      const { namespace, store } = await fresh();
      const model = 'atomic_model';
      const before = windowEvent(model, 'w0', T0);
      await store.checkpoint(
        checkpointOf(
          'm',
          { batch: 0 },
          {
            offsets: [{ topic: 't', partition: 0, offset: '10' }],
            closedWindows: [before],
            windowDetails: [detailOf(before)],
          },
        ),
      );
      const w1 = windowEvent(model, 'w1', T0 + MINUTE, { drifted: true });
      const batch = checkpointOf(
        'm',
        { batch: 1 },
        {
          offsets: [
            { topic: 't', partition: 0, offset: '20' },
            { topic: 't', partition: 1, offset: '3' },
          ],
          closedWindows: [w1],
          windowDetails: [detailOf(w1)],
          retrains: [retrainEvent(model, 'r1', T0 + MINUTE, ['w1'])],
          outbox: [
            delivery('w1', 'kafka', 'tributary.drift'),
            delivery('w1', 'webhook', 'https://hooks.example/a'),
          ],
        },
      );
      const heal = await harness.failCheckpoints(namespace);
      const error = await rejection(store.checkpoint(batch));
      expect(isTributaryError(error), String(error)).toBe(true);
      await heal();
      // Nothing of the failed batch: not its state, offsets, window, detail, retrain or deliveries.
      expect(await store.load('m')).toEqual({ state: { batch: 0 }, offsets: new Map([['t:0', 10n]]) });
      expect(await store.windows({ model, limit: 10 })).toEqual([before]);
      expect(await store.window(model, 'w1')).toBeNull();
      expect(await store.retrains({ model, limit: 10 })).toEqual([]);
      expect(await store.depth()).toBe(0);
      expect(await store.webhookHealth()).toEqual([]);
      // The same batch again, once the fault is gone: all of it.
      await store.checkpoint(batch);
      expect(await store.load('m')).toEqual({
        state: { batch: 1 },
        offsets: new Map([
          ['t:0', 20n],
          ['t:1', 3n],
        ]),
      });
      expect(await store.windows({ model, limit: 10 })).toEqual([w1, before]);
      expect(await store.window(model, 'w1')).toEqual({ event: w1, detail: detailOf(w1) });
      expect(await store.retrains({ model, limit: 10 })).toEqual([batch.retrains[0]]);
      expect(await store.depth()).toBe(2);
    });

    it('stores a redelivered batch’s windows, retrains and deliveries once', async () => {
      const { store } = await fresh();
      const model = 'replayed';
      const w = windowEvent(model, 'w1', T0);
      const batch = checkpointOf(
        'm',
        { n: 1 },
        {
          closedWindows: [w],
          windowDetails: [detailOf(w)],
          retrains: [retrainEvent(model, 'r1', T0, ['w1'])],
          outbox: [
            delivery('w1', 'kafka', 'tributary.drift'),
            delivery('w1', 'webhook', 'https://hooks.example/a'),
          ],
        },
      );
      await store.checkpoint(batch);
      await store.checkpoint(batch);
      expect(await store.windows({ model, limit: 10 })).toEqual([w]);
      expect(await store.retrains({ model, limit: 10 })).toEqual(batch.retrains);
      expect(await store.models()).toEqual([{ model, windows: 1, lastWindowEnd: T0 }]);
      expect(await store.depth()).toBe(2);
      const claimed = await store.claimDue(10, 60_000);
      expect(claimed.map((r) => r.deliveryId).sort()).toEqual(batch.outbox.map((e) => e.deliveryId).sort());
    });

    it('keeps window details for the newest N windows of each model only', async () => {
      const { store, another } = await fresh({ keepWindowDetail: 2 });
      const windows = [0, 1, 2].map((i) => windowEvent('kept', `k${i}`, T0 + i * MINUTE));
      const other = windowEvent('other_model', 'o0', T0 - MINUTE);
      // One window per batch, the other model's first: its detail is not the first model's to prune.
      await store.checkpoint(
        checkpointOf('m', 0, { closedWindows: [other], windowDetails: [detailOf(other)] }),
      );
      for (const w of windows)
        await store.checkpoint(checkpointOf('m', 1, { closedWindows: [w], windowDetails: [detailOf(w)] }));
      expect(await store.window('kept', 'k0')).toEqual({ event: windows[0], detail: null });
      expect(await store.window('kept', 'k1')).toEqual({ event: windows[1], detail: detailOf(windows[1]!) });
      expect(await store.window('kept', 'k2')).toEqual({ event: windows[2], detail: detailOf(windows[2]!) });
      expect(await store.window('other_model', 'o0')).toEqual({ event: other, detail: detailOf(other) });
      // By model and id: another model's id, or an unknown one, is null.
      expect(await store.window('other_model', 'k2')).toBeNull();
      expect(await store.window('kept', 'nope')).toBeNull();
      // Windows closed without a detail read with a null one; N = 0 keeps none.
      const none = another({ keepWindowDetail: 0 });
      const w = windowEvent('kept_none', 'n0', T0);
      await none.checkpoint(checkpointOf('m', 2, { closedWindows: [w], windowDetails: [detailOf(w)] }));
      expect(await none.window('kept_none', 'n0')).toEqual({ event: w, detail: null });
      const bare = windowEvent('kept', 'k3', T0 + 3 * MINUTE);
      await store.checkpoint(checkpointOf('m', 3, { closedWindows: [bare] }));
      expect(await store.window('kept', 'k3')).toEqual({ event: bare, detail: null });
    });

    it('answers windows newest first, filtered by end time, version and drift, up to the limit', async () => {
      const { store } = await fresh();
      const model = 'queried';
      const events = [0, 1, 2, 3, 4, 5].map((i) =>
        windowEvent(model, `q${i}`, T0 + i * MINUTE, { version: i < 3 ? '1' : '2', drifted: i % 2 === 1 }),
      );
      // Out of order, over two batches, with another model's windows in between.
      await store.checkpoint(
        checkpointOf('m', 0, {
          closedWindows: [events[3]!, events[0]!, windowEvent('noise', 'z0', T0 + 99 * MINUTE)],
        }),
      );
      await store.checkpoint(
        checkpointOf('m', 1, { closedWindows: [events[5]!, events[1]!, events[4]!, events[2]!] }),
      );
      const ids = async (q: Partial<Parameters<MonitorStore['windows']>[0]>) =>
        (await store.windows({ model, limit: 100, ...q })).map((w) => w.id);
      expect(await ids({})).toEqual(['q5', 'q4', 'q3', 'q2', 'q1', 'q0']);
      expect(await store.windows({ model, limit: 100 })).toEqual([...events].reverse());
      expect(await ids({ limit: 2 })).toEqual(['q5', 'q4']);
      // from: window end at or after; to: before.
      expect(await ids({ from: T0 + 2 * MINUTE })).toEqual(['q5', 'q4', 'q3', 'q2']);
      expect(await ids({ to: T0 + 2 * MINUTE })).toEqual(['q1', 'q0']);
      expect(await ids({ from: T0 + MINUTE, to: T0 + 4 * MINUTE })).toEqual(['q3', 'q2', 'q1']);
      expect(await ids({ modelVersion: '2' })).toEqual(['q5', 'q4', 'q3']);
      expect(await ids({ onlyDrifted: true })).toEqual(['q5', 'q3', 'q1']);
      expect(await ids({ onlyDrifted: true, modelVersion: '1', limit: 1 })).toEqual(['q1']);
      expect(await ids({ model: 'unknown' })).toEqual([]);
      expect(await store.models()).toEqual([
        { model: 'noise', windows: 1, lastWindowEnd: T0 + 99 * MINUTE },
        { model, windows: 6, lastWindowEnd: T0 + 5 * MINUTE },
      ]);
    });

    it('answers retraining requests newest first, filtered by request time, up to the limit', async () => {
      const { store } = await fresh();
      const model = 'retrained';
      const requests = [0, 1, 2, 3].map((i) => retrainEvent(model, `r${i}`, T0 + i * MINUTE, [`w${i}`]));
      await store.checkpoint(
        checkpointOf('m', 0, {
          retrains: [requests[2]!, requests[0]!, retrainEvent('noise', 'z', T0 + MINUTE)],
        }),
      );
      await store.checkpoint(checkpointOf('m', 1, { retrains: [requests[3]!, requests[1]!] }));
      const ids = async (q: { from?: number; to?: number; limit?: number }) =>
        (await store.retrains({ model, limit: 100, ...q })).map((r) => r.id);
      expect(await store.retrains({ model, limit: 100 })).toEqual([...requests].reverse());
      expect(await ids({ limit: 1 })).toEqual(['r3']);
      expect(await ids({ from: T0 + MINUTE })).toEqual(['r3', 'r2', 'r1']);
      expect(await ids({ to: T0 + MINUTE })).toEqual(['r0']);
      expect(await ids({ from: T0 + MINUTE, to: T0 + 3 * MINUTE })).toEqual(['r2', 'r1']);
      // Retraining requests alone make no model with windows.
      expect(await store.models()).toEqual([]);
    });

    it('gives a monitor’s lease to one store at a time, per monitor, until released', async () => {
      const { store, another } = await fresh();
      const standby = another();
      const release = await store.tryLock('m');
      expect(release).toBeTypeOf('function');
      expect(await standby.tryLock('m')).toBeNull();
      expect(await store.tryLock('m')).toBeNull(); // not re-entrant: one active instance
      const otherMonitor = await standby.tryLock('other');
      expect(otherMonitor).toBeTypeOf('function');
      await release!();
      await release!(); // releasing twice is harmless
      const taken = await standby.tryLock('m');
      expect(taken).toBeTypeOf('function');
      expect(await store.tryLock('m')).toBeNull();
      await taken!();
      await otherMonitor!();
    });

    it('claims due deliveries oldest first, each to one claimer, leased for leaseMs', async () => {
      const { store, another } = await fresh();
      const entries = [0, 1, 2, 3, 4].map((i) =>
        delivery(`e${i}`, i % 2 ? 'webhook' : 'kafka', `dest${i}`, `{"i":${i}}`),
      );
      await store.checkpoint(checkpointOf('m', 0, { outbox: entries.slice(0, 3) }));
      await store.checkpoint(checkpointOf('m', 1, { outbox: entries.slice(3) }));
      expect(await store.depth()).toBe(5);
      expect(await store.nextDueInMs()).toBe(0);
      const first = await store.claimDue(2, 60_000);
      expect(first).toEqual(entries.slice(0, 2).map((e) => ({ ...e, id: expect.any(String), attempts: 1 })));
      // Two claimers at once never take the same row; a claimed row is not due while leased.
      const [a, b] = await Promise.all([another().claimDue(2, 60_000), store.claimDue(2, 60_000)]);
      const rest = [...a!, ...b!].map((r) => r.deliveryId).sort();
      expect(rest).toEqual(entries.slice(2).map((e) => e.deliveryId));
      expect(await store.claimDue(10, 60_000)).toEqual([]);
      // Still pending until acknowledged, and due again once the lease ends.
      expect(await store.depth()).toBe(5);
      const dueIn = await store.nextDueInMs();
      expect(dueIn).toBeGreaterThan(50_000);
      expect(dueIn).toBeLessThanOrEqual(60_000);
    });

    it('hands a claimed delivery out again when its lease ends, counting the attempt', async () => {
      const { store } = await fresh();
      await store.checkpoint(checkpointOf('m', 0, { outbox: [delivery('e', 'kafka', 'tributary.drift')] }));
      const [first] = await store.claimDue(10, 300);
      expect(first?.attempts).toBe(1);
      expect(await store.claimDue(10, 300)).toEqual([]);
      await sleep(400);
      const [again] = await store.claimDue(10, 300);
      expect(again).toEqual({ ...first, attempts: 2 });
    });

    it('acknowledges deliveries: delivered and given-up ones are never due again, failed ones after retryInMs', async () => {
      const { store } = await fresh();
      const entries = ['done', 'retry', 'dead'].map((id) => delivery(id, 'kafka', 'tributary.drift'));
      await store.checkpoint(checkpointOf('m', 0, { outbox: entries }));
      const [done, retry, dead] = await store.claimDue(10, 60_000);
      await store.markDelivered(done!.id);
      await store.markFailed(retry!.id, 'HTTP 503', 300);
      await store.markFailed(dead!.id, 'HTTP 410 Gone', null);
      expect(await store.depth()).toBe(1);
      const dueIn = await store.nextDueInMs();
      expect(dueIn).toBeGreaterThan(0);
      expect(dueIn).toBeLessThanOrEqual(300);
      expect(await store.claimDue(10, 60_000)).toEqual([]);
      await sleep(400);
      expect(await store.nextDueInMs()).toBe(0);
      const [again] = await store.claimDue(10, 60_000);
      expect(again).toEqual({ ...retry, attempts: 2 });
      await store.markDelivered(again!.id);
      expect(await store.depth()).toBe(0);
      expect(await store.nextDueInMs()).toBeNull();
      await sleep(50);
      expect(await store.claimDue(10, 0)).toEqual([]);
    });

    it('reports webhook health per model: pending, given up, the oldest pending’s age', async () => {
      const { store } = await fresh();
      const a1 = windowEvent('hooked_a', 'a1', T0);
      const b1 = windowEvent('hooked_b', 'b1', T0);
      const ra = retrainEvent('hooked_a', 'ra', T0, ['a1']);
      await store.checkpoint(
        checkpointOf('m', 0, {
          closedWindows: [a1, b1],
          retrains: [ra],
          outbox: [
            delivery('a1', 'webhook', 'https://hooks.example/1'),
            delivery('a1', 'webhook', 'https://hooks.example/2'),
            delivery('a1', 'kafka', 'tributary.drift'), // not a webhook: not counted
            { ...delivery('ra', 'webhook', 'https://hooks.example/1'), eventType: 'retrain' },
            delivery('b1', 'webhook', 'https://hooks.example/1'),
          ],
        }),
      );
      await sleep(30);
      const claimed = await store.claimDue(10, 60_000);
      const byDelivery = new Map(claimed.map((r) => [r.deliveryId, r.id]));
      await store.markFailed(byDelivery.get('a1@https://hooks.example/2')!, 'HTTP 410', null);
      await store.markDelivered(byDelivery.get('ra@https://hooks.example/1')!);
      await store.markFailed(byDelivery.get('b1@https://hooks.example/1')!, 'HTTP 410', null);
      const health = await store.webhookHealth();
      expect(
        health.map((h) => ({ ...h, oldestPendingMs: h.oldestPendingMs === null ? null : 'ms' })),
      ).toEqual([
        { model: 'hooked_a', pending: 1, failed: 1, oldestPendingMs: 'ms' },
        { model: 'hooked_b', pending: 0, failed: 1, oldestPendingMs: null },
      ]);
      const age = health[0]!.oldestPendingMs!;
      expect(age).toBeGreaterThanOrEqual(25);
      expect(age).toBeLessThan(60_000);
    });

    it('fails with the retriable TRIB_OFFLINE_STORE_UNAVAILABLE when its service cannot be reached', async () => {
      const down = await harness.unreachable();
      try {
        const attempts: [string, () => Promise<unknown>][] = [
          ['ensureSchema', () => down.ensureSchema()],
          ['tryLock', () => down.tryLock('m')],
          ['load', () => down.load('m')],
          ['checkpoint', () => down.checkpoint(checkpointOf('m', 1))],
          ['claimDue', () => down.claimDue(1, 1_000)],
          ['markDelivered', () => down.markDelivered('1')],
          ['markFailed', () => down.markFailed('1', 'x', null)],
          ['depth', () => down.depth()],
          ['nextDueInMs', () => down.nextDueInMs()],
          ['windows', () => down.windows({ model: 'm', limit: 1 })],
          ['retrains', () => down.retrains({ model: 'm', limit: 1 })],
          ['models', () => down.models()],
          ['window', () => down.window('m', 'w')],
          ['webhookHealth', () => down.webhookHealth()],
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
