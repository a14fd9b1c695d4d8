import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverLayout, driverSpec } from '../../../fixtures/driver-spec.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import type { ViewLayout } from '../../../shared/model/layout.ts';
import type { FeatureRow } from '../../../shared/model/row.ts';
import type { OfflineStore } from '../../../shared/stores/offline/port.ts';

/** How the port suite gets stores of one adapter and looks into what they hold. */
export interface OfflineStoreHarness {
  /** A new store over the suite's shared namespace (another process writing the same tables). */
  create(): OfflineStore;
  /** A store whose backing service cannot be reached. */
  unreachable(): Promise<OfflineStore>;
  /** Rows held by a table (a view's, or an archived one's). */
  count(table: string): Promise<number>;
}

/** The example view's store layout with a one-day ttl. */
export const driverStats: ViewLayout = driverLayout(driverSpec('driver_stats', { ttlMs: 86_400_000 }));

export const JAN_31_LATE = Date.UTC(2026, 0, 31, 23, 59, 59, 999);
export const FEB_1 = Date.UTC(2026, 1, 1);

let offsets = 0;
export function row(
  driver: bigint,
  eventTimestamp: number,
  values: FeatureRow['values'],
  created: number | null = null,
) {
  return {
    keys: [driver],
    eventTimestamp,
    created,
    values,
    origin: { topic: 'driver_stats', partition: 0, offset: String(offsets++) },
  } satisfies FeatureRow;
}

/** The OfflineStore contract, run against every adapter: docs/architecture.md "Delivery" and the port's TSDoc. */
export function describeOfflineStorePort(name: string, harness: OfflineStoreHarness) {
  describe(`${name} (OfflineStore port)`, () => {
    let store: OfflineStore;
    beforeAll(() => {
      store = harness.create();
    });
    afterAll(() => store.close());

    it('creates a view table idempotently and appends rows', async () => {
      const view: ViewLayout = { ...driverStats, name: 'port_basic' };
      await store.ensureTable(view);
      await store.ensureTable(view);
      expect(await store.write(view, [])).toBe(0);
      expect(
        await store.write(view, [row(1n, FEB_1, [0.1, 0.2, 1n]), row(2n, FEB_1, [null, null, null])]),
      ).toBe(2);
      expect(await harness.count('port_basic')).toBe(2);
    });

    it('adds features to an existing table and refuses a changed type', async () => {
      const view: ViewLayout = { ...driverStats, name: 'port_evolving' };
      await store.ensureTable(view);
      await store.write(view, [row(1n, FEB_1, [0.5, 0.25, 3n])]);
      const wider: ViewLayout = {
        ...view,
        features: [...view.features, { name: 'city', type: 'string' }, { name: 'active', type: 'bool' }],
      };
      await store.ensureTable(wider);
      expect(await store.write(wider, [row(1n, FEB_1 + 1, [0.5, 0.25, 3n, 'Lyon', true])])).toBe(1);
      expect(await harness.count('port_evolving')).toBe(2);
      const retyped: ViewLayout = { ...wider, features: [{ name: 'conv_rate', type: 'string' }] };
      const error = await store.ensureTable(retyped).catch((e: unknown) => e);
      expect(isTributaryError(error, 'TRIB_BREAKING_CHANGE')).toBe(true);
    });

    it('stores rows on both sides of a month boundary', async () => {
      const view: ViewLayout = { ...driverStats, name: 'port_months' };
      await store.ensureTable(view);
      const rows = [
        row(1n, JAN_31_LATE, [0.1, 0.2, 1n]),
        row(1n, FEB_1, [0.3, 0.4, 2n]),
        row(2n, FEB_1 + 1, [0, 0, 0n]),
      ];
      expect(await store.write(view, rows)).toBe(3);
      const other = harness.create();
      try {
        expect(await other.write(view, [row(3n, JAN_31_LATE - 1, [0, 0, 0n])])).toBe(1);
      } finally {
        await other.close();
      }
      expect(await harness.count('port_months')).toBe(4);
    });

    it('adds nothing when a batch is replayed, and only the new rows of an overlapping one', async () => {
      const view: ViewLayout = { ...driverStats, name: 'port_replayed' };
      await store.ensureTable(view);
      const batch = Array.from({ length: 500 }, (_, i) =>
        row(BigInt(i % 7), FEB_1 + i * 60_000, [i / 10, 0.5, BigInt(i)]),
      );
      expect(await store.write(view, batch)).toBe(500);
      expect(await store.write(view, batch)).toBe(0);
      expect(await store.write(view, [...batch.slice(250), row(99n, FEB_1, [1, 1, 1n])])).toBe(1);
      // The same replay through another store (a restarted materializer) adds nothing either.
      const other = harness.create();
      try {
        expect(await other.write(view, batch)).toBe(0);
      } finally {
        await other.close();
      }
      expect(await harness.count('port_replayed')).toBe(501);
    });

    it('lets several writers add rows in new months at once', async () => {
      const view: ViewLayout = { ...driverStats, name: 'port_racing' };
      await store.ensureTable(view);
      const writers = [0, 1, 2].map(() => harness.create());
      try {
        const months = [0, 1, 2, 3, 4, 5].map((m) => Date.UTC(2025, m, 15));
        const counts = await Promise.all(
          writers.map((w, i) =>
            w.write(
              view,
              months.map((t) => row(BigInt(i), t, [0, 0, 0n])),
            ),
          ),
        );
        expect(counts).toEqual([6, 6, 6]);
        expect(await harness.count('port_racing')).toBe(18);
      } finally {
        await Promise.all(writers.map((w) => w.close()));
      }
    });

    it('archives a table with its data and starts the view afresh', async () => {
      const view: ViewLayout = { ...driverStats, name: 'port_archived' };
      await store.ensureTable(view);
      await store.write(view, [row(1n, JAN_31_LATE, [0.1, 0.2, 1n]), row(1n, FEB_1, [0.3, 0.4, 2n])]);
      const archived = await store.archiveTable(view.name, 'avg_daily_trips changed type');
      expect(archived).toMatch(/^port_archived__archived_\d{14}$/);
      expect(await harness.count(archived!)).toBe(2);
      await store.ensureTable(view);
      expect(await store.write(view, [row(1n, FEB_1 + 5, [0.5, 0.6, 3n])])).toBe(1);
      expect(await harness.count('port_archived')).toBe(1);
      expect(await harness.count(archived!)).toBe(2);
      expect(await store.archiveTable('port_never_created', 'removed')).toBeNull();
    });

    it('keeps writing after another process archived and recreated the table', async () => {
      const view: ViewLayout = { ...driverStats, name: 'port_recreated' };
      await store.ensureTable(view);
      await store.write(view, [row(1n, FEB_1, [0, 0, 0n])]);
      const other = harness.create();
      try {
        await other.archiveTable(view.name, 'test');
        await other.ensureTable(view);
      } finally {
        await other.close();
      }
      expect(await store.write(view, [row(2n, FEB_1 + 1, [0, 0, 0n])])).toBe(1);
      expect(await harness.count('port_recreated')).toBe(1);
    });

    it('fails with the retriable TRIB_OFFLINE_STORE_UNAVAILABLE when its service cannot be reached', async () => {
      const down = await harness.unreachable();
      try {
        for (const attempt of [
          () => down.ensureTable(driverStats),
          () => down.write(driverStats, [row(1n, FEB_1, [0, 0, 0n])]),
          () => down.archiveTable(driverStats.name, 'test'),
        ]) {
          const error = await attempt().catch((e: unknown) => e);
          expect(isTributaryError(error, 'TRIB_OFFLINE_STORE_UNAVAILABLE')).toBe(true);
          expect((error as { retriable: boolean }).retriable).toBe(true);
        }
      } finally {
        await down.close();
      }
    });
  });
}
