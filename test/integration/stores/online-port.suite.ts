import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverLayout } from '../../../fixtures/driver-spec.ts';
import { isTributaryError, type TributaryError } from '../../../shared/errors.ts';
import type { ViewLayout } from '../../../shared/model/layout.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import { wordsOf } from '../../../shared/stores/online/json-record.ts';
import type {
  OnlineReadOptions,
  OnlineRecord,
  OnlineRecordJson,
  OnlineStore,
} from '../../../shared/stores/online/port.ts';

/** How the port suite gets stores of one adapter. */
export interface OnlineStoreHarness {
  /** A new store sharing one namespace with the suite's other stores (several processes, one Redis). */
  create(): OnlineStore;
  /** A store whose backing service cannot be reached. */
  unreachable(): Promise<OnlineStore>;
}

export const DAY = 86_400_000;

/** The example view's store layout, no ttl. */
export const driverStats: ViewLayout = driverLayout();

/** A view of its own per test, so tests do not see each other's entities. */
export const viewNamed = (name: string, ttlMs = 0): ViewLayout => ({ ...driverStats, name, ttlMs });

import { featureRow as row } from '../../support/rows.ts';

export { row };

type ReadRequests = Parameters<OnlineStore['read']>[0];

/** A read value as the port's JSON text carries it: int64 as a string of decimal digits. */
const jsonValue = (value: OnlineRecord['values'][number]) =>
  typeof value === 'bigint' ? value.toString() : value;

/** Checks that `json` is `record` with its values left as JSON text (OnlineRecordJson). */
function expectSameRecord(json: OnlineRecordJson | null, record: OnlineRecord | null, where: string): void {
  if (record === null) {
    expect(json, where).toBeNull();
    return;
  }
  expect(json, where).not.toBeNull();
  expect({ eventTimestamp: json!.eventTimestamp, created: json!.created }, where).toEqual({
    eventTimestamp: record.eventTimestamp,
    created: record.created,
  });
  const text = Buffer.from(json!.valuesJson).toString('utf8');
  const stored = JSON.parse(text) as unknown[];
  // Positional, and shorter when features were appended since: the missing ones read as null.
  expect(stored.length, where).toBeLessThanOrEqual(record.values.length);
  const expected = record.values.map(jsonValue);
  expect([...stored, ...expected.slice(stored.length).map(() => null)], where).toEqual(expected);
  if (stored.length === expected.length) expect(text, where).toBe(JSON.stringify(expected));
  // Each value's span is that value's text.
  const bounds = new Int32Array(2 * (stored.length + 1));
  const count = json!.valueSpans(wordsOf(json!.valuesJson), bounds, 0, stored.length + 1);
  expect(count, where).toBe(stored.length);
  const bytes = Buffer.from(json!.valuesJson);
  for (let k = 0; k < count; k++) {
    const span = bytes.toString('utf8', bounds[2 * k], bounds[2 * k + 1]);
    expect(JSON.parse(span), `${where} value ${k}`).toEqual(expected[k]);
  }
}

/**
 * `store.read`, and, where the adapter has the optional `readJson`, the same requests through it
 * too: the same records, the same nulls, the same errors, each record's values the JSON of the
 * values `read` decoded. Every read of the suite goes through here, so every read case holds for
 * both. Resolves (or rejects) as `read` does.
 */
export async function readChecked(
  store: OnlineStore,
  requests: ReadRequests,
  options?: OnlineReadOptions,
): Promise<(OnlineRecord | null)[][]> {
  const [read, json] = await Promise.allSettled([
    store.read(requests, options),
    store.readJson ? store.readJson(requests, options) : Promise.resolve(null),
  ]);
  if (store.readJson) {
    if (read.status === 'rejected') {
      expect(json.status, 'readJson fails where read does').toBe('rejected');
      const a = read.reason as TributaryError;
      const b = (json as PromiseRejectedResult).reason as TributaryError;
      expect(isTributaryError(b), String(b)).toBe(isTributaryError(a));
      expect({ code: b.code, retriable: b.retriable }).toEqual({ code: a.code, retriable: a.retriable });
    } else {
      expect(json.status, 'readJson answers where read does').toBe('fulfilled');
      const records = (json as PromiseFulfilledResult<(OnlineRecordJson | null)[][]>).value!;
      expect(records.map((r) => r.length)).toEqual(read.value.map((r) => r.length));
      for (const [i, rows] of read.value.entries()) {
        for (const [j, record] of rows.entries()) {
          expectSameRecord(records[i]![j] as OnlineRecordJson | null, record, `request ${i}, key ${j}`);
        }
      }
    }
  }
  if (read.status === 'rejected') throw read.reason;
  return read.value;
}

/**
 * The OnlineStore contract, run against every adapter: docs/architecture.md "Online store". Every
 * read case holds through `readJson` too, wherever the adapter has it (`readChecked`).
 */
export function describeOnlineStorePort(name: string, harness: OnlineStoreHarness) {
  describe(`${name} (OnlineStore port)`, () => {
    let store: OnlineStore;
    beforeAll(() => {
      store = harness.create();
    });
    afterAll(() => store.close());
    const readOne = async (view: ViewLayout, keys: FeatureRow['keys']) =>
      (await readChecked(store, [{ view, keys: [keys] }]))[0]![0];

    it('keeps the latest by event time, not by arrival', async () => {
      const view = viewNamed('out_of_order');
      expect(await store.write(view, [row([1n], 2_000, [0.2, 0.2, 2n])])).toBe(1);
      expect(await store.write(view, [row([1n], 1_000, [0.1, 0.1, 1n])])).toBe(0);
      expect(await readOne(view, [1n])).toEqual({
        eventTimestamp: 2_000,
        created: null,
        values: [0.2, 0.2, 2n],
      });
      expect(await store.write(view, [row([1n], 3_000, [0.3, 0.3, 3n])])).toBe(1);
      // Several rows for one entity in one batch, in any order: the greatest event time wins,
      // and the entity counts once.
      const batch = [5_000, 9_000, 4_000, 8_000].map((t) => row([2n], t, [t, t, BigInt(t)]));
      expect(await store.write(view, batch)).toBe(1);
      expect((await readOne(view, [2n]))?.eventTimestamp).toBe(9_000);
      expect((await readOne(view, [1n]))?.values).toEqual([0.3, 0.3, 3n]);
    });

    it('breaks event-time ties by created, a missing created losing, an equal pair keeping the stored value', async () => {
      const view = viewNamed('ties');
      const t = 10_000;
      expect(await store.write(view, [row([1n], t, [1, 1, 1n], null)])).toBe(1);
      expect(await store.write(view, [row([1n], t, [2, 2, 2n], 5)])).toBe(1);
      expect(await store.write(view, [row([1n], t, [3, 3, 3n], null)])).toBe(0);
      expect(await store.write(view, [row([1n], t, [4, 4, 4n], 4)])).toBe(0);
      expect(await store.write(view, [row([1n], t, [5, 5, 5n], 5)])).toBe(0);
      expect(await readOne(view, [1n])).toEqual({ eventTimestamp: t, created: 5, values: [2, 2, 2n] });
      expect(await store.write(view, [row([1n], t, [6, 6, 6n], 6)])).toBe(1);
      expect((await readOne(view, [1n]))?.values).toEqual([6, 6, 6n]);
      // Two null-created rows with the same event time: the first stays.
      await store.write(view, [row([2n], t, [1, 1, 1n]), row([2n], t, [2, 2, 2n])]);
      expect((await readOne(view, [2n]))?.values).toEqual([1, 1, 1n]);
      // Negative (pre-1970) event times order correctly too.
      await store.write(view, [row([3n], -5_000, [1, 1, 1n]), row([3n], -10_000, [2, 2, 2n])]);
      expect((await readOne(view, [3n]))?.eventTimestamp).toBe(-5_000);
    });

    it('decides atomically when several writers race on the same entities', async () => {
      const view = viewNamed('racing');
      const writers = [0, 1, 2, 3].map(() => harness.create());
      try {
        // Writer w sends event times w, w+4, w+8, ... in shuffled order, for the same 20 drivers.
        await Promise.all(
          writers.map((writer, w) => {
            const times = Array.from({ length: 25 }, (_, i) => w + 4 * i).sort(() => Math.random() - 0.5);
            return writer.write(
              view,
              times.flatMap((t) =>
                Array.from({ length: 20 }, (_, d) => row([BigInt(d)], t, [t, t, BigInt(w)])),
              ),
            );
          }),
        );
        const read = await readChecked(store, [
          { view, keys: Array.from({ length: 20 }, (_, d) => [BigInt(d)]) },
        ]);
        expect(new Set(read[0]!.map((r) => `${r?.eventTimestamp}/${r?.values[2]}`))).toEqual(
          new Set(['99/3']),
        );
      } finally {
        await Promise.all(writers.map((w) => w.close()));
      }
    });

    it('treats an identical replay as a no-op', async () => {
      const view = viewNamed('replay', DAY);
      const now = Date.now();
      const batch = Array.from({ length: 50 }, (_, i) => row([BigInt(i)], now - i, [i, i, BigInt(i)], now));
      expect(await store.write(view, batch)).toBe(50);
      expect(await store.write(view, batch)).toBe(0);
      expect(await readOne(view, [7n])).toEqual({
        eventTimestamp: now - 7,
        created: now,
        values: [7, 7, 7n],
      });
    });

    it('expires a value at its event time plus the ttl, and does not store one already expired', async () => {
      const view = viewNamed('ttl', 60_000);
      const now = Date.now();
      await store.write(view, [row([1n], now - 30_000, [1, 1, 1n])]);
      expect((await readOne(view, [1n]))?.values).toEqual([1, 1, 1n]);
      // Already past its ttl: counted as applied, not stored, and it removes the older value it beats.
      expect(await store.write(view, [row([2n], now - 120_000, [2, 2, 2n])])).toBe(1);
      expect(await readOne(view, [2n])).toBeNull();
      await store.write(viewNamed('ttl', 10 * 60_000), [row([3n], now - 300_000, [3, 3, 3n])]);
      expect(await store.write(view, [row([3n], now - 200_000, [4, 4, 4n])])).toBe(1);
      expect(await readOne(view, [3n])).toBeNull();
      // Really gone once the ttl passes.
      const short = viewNamed('ttl_short', 1_000);
      await store.write(short, [row([1n], Date.now() - 500, [1, 1, 1n])]);
      expect(await readOne(short, [1n])).not.toBeNull();
      await new Promise((r) => setTimeout(r, 700));
      expect(await readOne(short, [1n])).toBeNull();
    });

    it('reads many views × many entities in one call, in request order, null where missing', async () => {
      const a = viewNamed('many_a');
      const b: ViewLayout = {
        name: 'many_b',
        joinKeys: [
          { name: 'city', type: 'string' },
          { name: 'driver_id', type: 'int64' },
        ],
        features: [
          { name: 'label', type: 'string' },
          { name: 'active', type: 'bool' },
          { name: 'seen_at', type: 'timestamp' },
        ],
        ttlMs: 0,
      };
      await store.write(a, [row([1n], 1, [0.1, 0.1, 1n]), row([3n], 3, [0.3, 0.3, 3n])]);
      await store.write(b, [
        row(['Lyon', 1n], 10, ['x', true, 1_700_000_000_000]),
        row(['a:b%3A', 2n], 20, ['colons "and" json', false, null]),
      ]);
      const results = await readChecked(store, [
        { view: a, keys: [[3n], [2n], [1], [1n]] },
        {
          view: b,
          keys: [
            ['a:b%3A', 2n],
            ['Lyon', 2n],
            ['Lyon', '1'],
          ],
        },
        { view: a, keys: [] },
      ]);
      expect(results).toEqual([
        [
          { eventTimestamp: 3, created: null, values: [0.3, 0.3, 3n] },
          null,
          { eventTimestamp: 1, created: null, values: [0.1, 0.1, 1n] },
          { eventTimestamp: 1, created: null, values: [0.1, 0.1, 1n] },
        ],
        [
          { eventTimestamp: 20, created: null, values: ['colons "and" json', false, null] },
          null,
          { eventTimestamp: 10, created: null, values: ['x', true, 1_700_000_000_000] },
        ],
        [],
      ]);
      expect(await readChecked(store, [])).toEqual([]);
      // A feature appended to the view later reads as null for values written before.
      const wider: ViewLayout = { ...a, features: [...a.features, { name: 'rating', type: 'float64' }] };
      expect((await readOne(wider, [1n]))?.values).toEqual([0.1, 0.1, 1n, null]);
    });

    it('keeps int64 keys and values exact beyond 2^53', async () => {
      const view = viewNamed('big');
      const big = 9007199254740993n;
      await store.write(view, [row([big], 1, [0, 0, big]), row([big - 1n], 1, [0, 0, -big])]);
      expect(await readOne(view, [big])).toEqual({ eventTimestamp: 1, created: null, values: [0, 0, big] });
      expect((await readOne(view, [big - 1n]))?.values[2]).toBe(-big);
    });

    it('rejects a join key of the wrong type or count, not retriably', async () => {
      const view = viewNamed('bad_keys');
      for (const keys of [[1.5], ['x'], [1n, 2n]] as FeatureRow['keys'][]) {
        const error = await readChecked(store, [{ view, keys: [keys] }]).catch((e: unknown) => e);
        expect(isTributaryError(error)).toBe(true);
        expect((error as { retriable: boolean }).retriable).toBe(false);
      }
    });

    it('fails with the retriable TRIB_ONLINE_STORE_UNAVAILABLE when its service cannot be reached', async () => {
      const down = await harness.unreachable();
      try {
        const view = viewNamed('down');
        for (const attempt of [
          () => down.write(view, [row([1n], 1, [0, 0, 0n])]),
          () => readChecked(down, [{ view, keys: [[1n]] }]),
        ]) {
          const error = await attempt().catch((e: unknown) => e);
          expect(isTributaryError(error, 'TRIB_ONLINE_STORE_UNAVAILABLE')).toBe(true);
          expect((error as { retriable: boolean }).retriable).toBe(true);
          // What a client sees: no driver internals (ioredis's "maxRetriesPerRequest").
          expect((error as Error).message).not.toMatch(/maxRetriesPerRequest|max retries/i);
        }
      } finally {
        await down.close();
      }
    });
  });
}
