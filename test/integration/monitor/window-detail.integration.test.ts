/**
 * The window detail the dashboard draws (histograms on the reference's bins, category shares),
 * on a real monitor run over Kafka and Postgres: written with each closed window, kept for the
 * newest N windows of the model and pruned beyond, served by GET /monitors/:model/windows/:id.
 */
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { registerMonitorRoutes } from '../../../services/serving/routes/monitors.ts';
import type {
  CategoricalColumnDetail,
  NumericColumnDetail,
  WindowDetail,
} from '../../../shared/monitoring/detail.ts';
import type { DriftEvent } from '../../../shared/monitoring/events.ts';
import { openMonitorQueries } from '../../../shared/monitoring/queries.ts';
import { services } from '../../support/env.ts';
import { MonitorHarness, predictionEvents, repoOf, webhookReceiver } from './harness.ts';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('window detail', () => {
  const h = new MonitorHarness({ window: { rows: 1_000 } });
  let receiver: Awaited<ReturnType<typeof webhookReceiver>> | null = null;
  afterAll(async () => {
    await h.cleanup();
    await receiver?.close();
  });

  it('keeps the newest N windows’ histograms and shares, prunes the rest, and serves them', async () => {
    // A webhook that refuses everything: its deliveries stay pending, which the dashboard shows.
    receiver = await webhookReceiver(1_000_000);
    const monitor = { ...h.monitor, webhooks: [{ url: receiver.url }] };
    h.definitions.set(repoOf(monitor));
    await h.storeProfile();
    await h.start({ keepWindowDetail: 3 });
    // Two stable windows, then three shifted ones (x moves by 2, green disappears).
    await h.send(predictionEvents({ model: h.model, count: 2_000, seed: 5 }));
    await h.send(predictionEvents({ model: h.model, count: 3_000, seed: 6, shift: 2, from: 10_000 }));
    await expect.poll(() => h.windowCount(), { timeout: 30_000 }).toBe(5);

    const details = await h.query<{ window_id: string }>(
      'SELECT window_id FROM $schema.drift_window_details ORDER BY window_end DESC',
    );
    const windows = await h.service!.store.windows({ model: h.model, limit: 10 });
    expect(windows).toHaveLength(5);
    // Only the newest three keep their detail.
    expect(details.map((d) => d.window_id)).toEqual(windows.slice(0, 3).map((w) => w.id));

    const app = Fastify();
    const { queries, close } = openMonitorQueries({
      databaseUrl: services().DATABASE_URL,
      schema: h.schema,
    });
    registerMonitorRoutes(app, { queries });
    try {
      const newest = await app.inject({ url: `/monitors/${h.model}/windows/${windows[0]!.id}` });
      expect(newest.statusCode, newest.body).toBe(200);
      const body = newest.json() as { window: DriftEvent; detail: WindowDetail };
      expect(body.window.id).toBe(windows[0]!.id);
      expect(body.window.dataset.drifted).toBe(true);
      const x = body.detail.columns.find((c) => c.name === 'x') as NumericColumnDetail;
      expect(x.kind).toBe('numeric');
      expect(x.edges).toHaveLength(x.reference.length + 1);
      expect(x.window).toHaveLength(x.reference.length);
      expect(x.reference.length).toBeGreaterThan(10);
      // Every reference value lies in a bin; the window's beyond the reference's max are apart.
      expect(sum(x.reference)).toBe(x.referenceN);
      expect(sum(x.window) + x.aboveReference).toBe(1_000);
      expect(x.windowN).toBe(1_000);
      for (let i = 1; i < x.edges.length; i++) expect(x.edges[i]!).toBeGreaterThan(x.edges[i - 1]!);
      // Shifted by 2 std: the window's mass sits in the upper bins.
      const upper = (counts: number[]) => sum(counts.slice(Math.floor(counts.length / 2)));
      expect(upper(x.window) / 1_000).toBeGreaterThan(upper(x.reference) / x.referenceN + 0.3);
      const color = body.detail.columns.find((c) => c.name === 'color') as CategoricalColumnDetail;
      expect(color.kind).toBe('categorical');
      expect(color.missingCategories).toEqual(['green']);
      expect(color.newCategories).toEqual([]);
      expect(sum(color.categories.map((c) => c.windowShare))).toBeCloseTo(1, 9);
      expect(sum(color.categories.map((c) => c.referenceShare))).toBeCloseTo(1, 9);
      expect(color.missingShare.window).toBe(0);
      expect(body.detail.columns.map((c) => c.name).sort()).toEqual(['color', 'prediction', 'x']);

      // The oldest window is still there, without its detail.
      const oldest = await app.inject({ url: `/monitors/${h.model}/windows/${windows[4]!.id}` });
      expect(oldest.statusCode).toBe(200);
      expect(oldest.json().detail).toBeNull();
      expect(oldest.json().window.dataset.drifted).toBe(false);

      const unknown = await app.inject({ url: `/monitors/${h.model}/windows/nope` });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error.code).toBe('TRIB_NOT_FOUND');

      // The refused webhook's deliveries are pending for this model.
      await expect
        .poll(async () => (await queries.webhookHealth()).find((w) => w.model === h.model)?.pending ?? 0)
        .toBeGreaterThan(0);
      const health = (await queries.webhookHealth()).find((w) => w.model === h.model)!;
      expect(health.failed).toBe(0);
      expect(health.oldestPendingMs).toBeGreaterThanOrEqual(0);
    } finally {
      await app.close();
      await close();
    }
  });
});
