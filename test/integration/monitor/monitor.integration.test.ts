import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { startMonitorService } from '../../../services/monitor/service.ts';
import { registerMonitorRoutes } from '../../../services/serving/routes/monitors.ts';
import { DLQ_HEADERS } from '../../../shared/events/dead-letter.ts';
import type { DriftEvent, RetrainEvent } from '../../../shared/monitoring/events.ts';
import { openMonitorQueries } from '../../../shared/monitoring/queries.ts';
import { verifySignature } from '../../../shared/monitoring/signature.ts';
import type { IncomingMessage } from '../../../shared/stream/port.ts';
import { services, uniqueName } from '../../support/env.ts';
import { logger, MonitorHarness, predictionEvents, repoOf, webhookReceiver } from './harness.ts';

const harnesses: MonitorHarness[] = [];
function harness(...args: ConstructorParameters<typeof MonitorHarness>): MonitorHarness {
  const h = new MonitorHarness(...args);
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

/** Reads a topic from the beginning until `done` says the messages so far are enough. */
async function readTopic(
  h: MonitorHarness,
  topic: string,
  done: (messages: IncomingMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<IncomingMessage[]> {
  const consumer = await h.stream.consumer({
    groupId: uniqueName('reader'),
    topics: [topic],
    start: { from: 'beginning' },
  });
  const messages: IncomingMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out reading ${topic}: ${messages.length} messages`)),
        timeoutMs,
      );
      void consumer.run(async (batch) => {
        messages.push(...batch.messages);
        if (done(messages)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await consumer.close();
  }
  return messages;
}

const ofModel = (model: string) => (m: IncomingMessage) => JSON.parse(m.value!.toString()).model === model;

describe('drift monitor on real Kafka and Postgres', () => {
  it('raises no retraining request over many windows of a stable stream', async () => {
    const h = harness({ window: { rows: 1_000 }, retrain: { consecutiveDriftedWindows: 2, cooldownMs: 0 } });
    await h.storeProfile();
    await h.start();
    await h.send(predictionEvents({ model: h.model, count: 12_000, seed: 11 }));
    await expect.poll(() => h.windowCount(), { timeout: 30_000 }).toBe(12);
    const windows = await h.service!.store.windows({ model: h.model, limit: 100 });
    expect(windows.every((w) => w.window.rows === 1_000)).toBe(true);
    const drifted = windows.filter((w) => w.dataset.drifted).length;
    expect(drifted).toBeLessThanOrEqual(1);
    expect(await h.service!.store.retrains({ model: h.model, limit: 10 })).toEqual([]);
    // Every drift event is published to tributary.drift through the outbox.
    await expect.poll(() => h.service!.store.depth(), { timeout: 10_000 }).toBe(0);
    const published = await readTopic(h, 'tributary.drift', (ms) => ms.filter(ofModel(h.model)).length >= 12);
    expect(published.filter(ofModel(h.model))).toHaveLength(12);
    const metrics = await h.service!.metrics.registry.getSingleMetricAsString(
      'tributary_monitor_predictions_in_total',
    );
    expect(metrics).toContain(`monitor="${h.model}"} 12000`);
    // …and served on the ops server, with /health.
    const ops = `http://127.0.0.1:${h.service!.opsPort}`;
    const text = await (await fetch(`${ops}/metrics`)).text();
    for (const name of [
      'tributary_monitor_predictions_in_total',
      'tributary_monitor_windows_closed_total',
      'tributary_monitor_drift_events_total',
      'tributary_monitor_deliveries_total',
      'tributary_monitor_outbox_depth',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/tributary_monitor_deliveries_total\{kind="kafka",result="delivered"\} 12/);
    const health = await fetch(`${ops}/health`);
    expect(health.status).toBe(200);
  });

  it('raises drift and a retraining request within one window of a shift', async () => {
    const h = harness({
      window: { rows: 1_000 },
      retrain: { consecutiveDriftedWindows: 1, cooldownMs: 3_600_000 },
    });
    await h.storeProfile();
    await h.start();
    await h.send(predictionEvents({ model: h.model, count: 3_000, seed: 21 }));
    await h.send(predictionEvents({ model: h.model, count: 3_000, seed: 22, shift: 2, from: 3_000 }));
    await expect.poll(() => h.windowCount(), { timeout: 30_000 }).toBe(6);
    const windows = (await h.service!.store.windows({ model: h.model, limit: 100 })).reverse();
    expect(windows.map((w) => w.dataset.drifted)).toEqual([false, false, false, true, true, true]);
    const first = windows[3]!;
    expect(first.features.find((f) => f.name === 'x')).toMatchObject({ kind: 'numeric', drifted: true });
    expect(first.features.find((f) => f.name === 'color')).toMatchObject({
      kind: 'categorical',
      drifted: true,
    });
    // One request at the first drifted window; the cooldown (1 h of event time) holds the others.
    const retrains = await h.service!.store.retrains({ model: h.model, limit: 10 });
    expect(retrains).toHaveLength(1);
    expect(retrains[0]!.windows).toEqual([first.id]);
    const published = await readTopic(h, 'tributary.retrain', (ms) => ms.some(ofModel(h.model)));
    const event = JSON.parse(published.find(ofModel(h.model))!.value!.toString()) as RetrainEvent;
    expect(event).toEqual(retrains[0]);
    expect(Object.keys(event).sort()).toEqual([
      'id',
      'model',
      'model_version',
      'reason',
      'requested_at',
      'type',
      'windows',
    ]);
    expect(Object.keys(first).sort()).toEqual([
      'dataset',
      'features',
      'id',
      'model',
      'model_version',
      'prediction',
      'type',
      'window',
    ]);

    // The query API the serving app registers.
    const app = Fastify();
    const { queries, close } = openMonitorQueries({ databaseUrl: services().DATABASE_URL, schema: h.schema });
    registerMonitorRoutes(app, { queries });
    try {
      const list = await app.inject({ method: 'GET', url: `/monitors/${h.model}/windows?limit=2` });
      expect(list.statusCode).toBe(200);
      expect(list.json().windows).toEqual(windows.slice(-2).reverse());
      const from = windows[3]!.window.end;
      const ranged = await app.inject({
        method: 'GET',
        url: `/monitors/${h.model}/windows?from=${from}&drifted=true`,
      });
      expect(ranged.json().windows.map((w: DriftEvent) => w.id)).toEqual(
        windows
          .slice(3)
          .map((w) => w.id)
          .reverse(),
      );
      const drift = (await app.inject({ method: 'GET', url: `/monitors/${h.model}/drift` })).json();
      expect(drift).toMatchObject({
        model: h.model,
        windows: 6,
        drifted_windows: 3,
        current_drift_streak: 3,
      });
      expect(drift.latest_retrain).toEqual(retrains[0]);
      expect(drift.columns.find((c: { name: string }) => c.name === 'x')).toMatchObject({
        windows: 6,
        drifted_windows: 3,
      });
      const retrainList = (await app.inject({ method: 'GET', url: `/monitors/${h.model}/retrains` })).json();
      expect(retrainList.retrains).toEqual(retrains);
      const profiles = (await app.inject({ method: 'GET', url: `/monitors/${h.model}/profiles` })).json();
      expect(profiles.profiles).toMatchObject([{ model_version: '1', rows: 20_000 }]);
      const bad = await app.inject({ method: 'GET', url: `/monitors/${h.model}/windows?limit=0` });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.code).toBe('TRIB_BAD_REQUEST');
      const none = await app.inject({ method: 'GET', url: '/monitors/no_such_model/drift' });
      expect(none.statusCode).toBe(404);
    } finally {
      await app.close();
      await close();
    }
  });

  it('dead-letters malformed predictions with the reason and keeps counting', async () => {
    const h = harness({ window: { rows: 100 } });
    await h.storeProfile();
    await h.start();
    const good = predictionEvents({ model: h.model, count: 100, seed: 31 });
    await h.send(['not json', JSON.stringify({ prediction_id: 'p', model: h.model }), ...good, '{"x":1}']);
    await expect.poll(() => h.windowCount(), { timeout: 20_000 }).toBe(1);
    const dead = await readTopic(h, `${h.topic}.dlq`, (ms) => ms.length >= 3);
    expect(dead.map((m) => m.headers[DLQ_HEADERS.errorCode])).toEqual([
      'TRIB_DECODE_FAILED',
      'TRIB_MISSING_FIELD',
      'TRIB_MISSING_FIELD',
    ]);
    expect(dead[1]!.headers[DLQ_HEADERS.field]).toBe('model_version');
    expect(dead[0]!.value!.toString()).toBe('not json');
  });

  it('delivers each webhook exactly once, signed, through receiver failures and a monitor restart', async () => {
    const receiver = await webhookReceiver(Number.POSITIVE_INFINITY);
    // The declaration names the variable; the monitor reads the key from its environment.
    process.env['MONITOR_TEST_HOOK_SECRET'] = 'hook-secret';
    try {
      const h = harness({
        window: { rows: 500 },
        retrain: { consecutiveDriftedWindows: 1, cooldownMs: 0 },
        webhooks: [{ url: receiver.url, secretEnv: 'MONITOR_TEST_HOOK_SECRET' }],
      });
      await h.storeProfile();
      await h.start({ retry: { baseMs: 300, maxMs: 600, maxAttempts: 50 } });
      await h.send(predictionEvents({ model: h.model, count: 1_000, seed: 41, shift: 2 }));
      // Two drifted windows, each with a retraining request: four deliveries, all failing for now.
      await expect
        .poll(() => new Set(receiver.requests.map((r) => r.delivery)).size, { timeout: 20_000 })
        .toBe(4);
      await h.stop(); // restart while every delivery is still pending in the outbox
      const pending = await h.query<{ n: string }>(
        "SELECT count(*) AS n FROM $schema.outbox WHERE kind = 'webhook' AND delivered_at IS NULL",
      );
      expect(Number(pending[0]!.n)).toBe(4);
      receiver.failNext(3); // the receiver recovers, after three more failures
      await h.start();
      await expect
        .poll(
          async () =>
            Number(
              (
                await h.query<{ n: string }>(
                  'SELECT count(*) AS n FROM $schema.outbox WHERE delivered_at IS NULL AND failed_at IS NULL',
                )
              )[0]!.n,
            ),
          { timeout: 30_000 },
        )
        .toBe(0);
      const ok = receiver.requests.filter((r) => r.status === 204);
      const ids = ok.map((r) => r.delivery);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(4);
      const bodies = ok.map((r) => JSON.parse(r.body) as DriftEvent | RetrainEvent);
      expect(bodies.filter((b) => b.type === 'drift')).toHaveLength(2);
      expect(bodies.filter((b) => b.type === 'retrain')).toHaveLength(2);
      for (const r of receiver.requests) {
        expect(verifySignature(r.body, 'hook-secret', r.signature)).toBe(true);
        expect(r.event).toBe(JSON.parse(r.body).type);
      }
      // Failed attempts were retried under the same delivery id.
      const failed = receiver.requests.filter((r) => r.status === 500).map((r) => r.delivery);
      expect(failed.every((id) => ids.includes(id))).toBe(true);
    } finally {
      delete process.env['MONITOR_TEST_HOOK_SECRET'];
      await receiver.close();
    }
  });

  it('neither skips nor double-counts across a restart mid-window, even when Kafka redelivers everything', async () => {
    const h = harness({ window: { rows: 1_000 }, retrain: null });
    await h.storeProfile();
    const events = predictionEvents({ model: h.model, count: 3_000, seed: 51, shift: 0.3 });
    await h.start();
    await h.send(events.slice(0, 1_500));
    await expect.poll(() => h.windowCount(), { timeout: 20_000 }).toBe(1);
    await expect
      .poll(
        async () =>
          (
            await h.query<{ state: { windows: { rows: number }[] } }>(
              'SELECT state FROM $schema.monitor_state',
            )
          )[0]?.state.windows[0]?.rows,
        { timeout: 20_000 },
      )
      .toBe(500);
    await h.stop();
    await h.send(events.slice(1_500));
    // Rewinding the group replays all 3,000 messages: the checkpointed 1,500 must be skipped.
    await h.start({ start: { from: 'beginning' } });
    await expect.poll(() => h.windowCount(), { timeout: 20_000 }).toBe(3);
    await new Promise((r) => setTimeout(r, 500));
    expect(await h.windowCount()).toBe(3);

    // The same predictions through one uninterrupted monitor give the same windows.
    const reference = harness({ window: { rows: 1_000 }, retrain: null });
    await reference.storeProfile();
    await reference.start();
    await reference.send(
      predictionEvents({ model: h.model, count: 3_000, seed: 51, shift: 0.3 }).map((e) =>
        e.replace(h.model, reference.model),
      ),
    );
    await expect.poll(() => reference.windowCount(), { timeout: 20_000 }).toBe(3);
    const strip = (ws: DriftEvent[]) =>
      ws.map((w) => ({
        window: w.window,
        features: w.features,
        prediction: w.prediction,
        dataset: w.dataset,
      }));
    const restarted = await h.service!.store.windows({ model: h.model, limit: 10 });
    const straight = await reference.service!.store.windows({ model: reference.model, limit: 10 });
    expect(strip(restarted)).toEqual(strip(straight));
    const state = await h.query<{ state: { windows: unknown[] } }>('SELECT state FROM $schema.monitor_state');
    expect(state[0]!.state.windows).toEqual([]);
  });

  it('runs one instance per monitor: a second process stands by and takes over where the first stopped', async () => {
    const h = harness({ window: { rows: 1_000 }, retrain: null });
    await h.storeProfile();
    const events = predictionEvents({ model: h.model, count: 3_000, seed: 61 });
    const first = await h.start();
    const standby = await startMonitorService({
      definitions: h.definitions,
      stream: h.stream,
      databaseUrl: services().DATABASE_URL,
      logger,
      schema: h.schema,
      opsPort: null,
      groupIdOf: () => h.group,
      lockRetryMs: 200,
    });
    try {
      await h.send(events.slice(0, 1_500));
      const counted = async (s: typeof first) =>
        (await s.metrics.predictionsIn.get()).values.reduce((sum, v) => sum + v.value, 0);
      await expect.poll(() => counted(first), { timeout: 20_000 }).toBe(1_500);
      expect(await h.windowCount()).toBe(1);
      expect(await counted(standby)).toBe(0);
      await h.stop();
      await h.send(events.slice(1_500));
      await expect.poll(() => h.windowCount(), { timeout: 30_000 }).toBe(3);
      expect(await counted(standby)).toBe(1_500);
      const windows = await standby.store.windows({ model: h.model, limit: 10 });
      expect(windows.map((w) => w.window.rows)).toEqual([1_000, 1_000, 1_000]);
    } finally {
      await standby.close();
    }
  });

  it('follows a changed declaration: restarts the monitor from its checkpoint with the new window', async () => {
    const h = harness({ window: { rows: 1_000 }, retrain: null });
    await h.storeProfile();
    await h.start();
    const events = predictionEvents({ model: h.model, count: 700, seed: 71 });
    await h.send(events.slice(0, 500));
    await expect
      .poll(
        async () =>
          (
            await h.query<{ state: { windows: { rows: number }[] } }>(
              'SELECT state FROM $schema.monitor_state',
            )
          )[0]?.state.windows[0]?.rows,
        { timeout: 20_000 },
      )
      .toBe(500);
    h.definitions.set(repoOf({ ...h.monitor, window: { rows: 100 } }));
    // The restarted monitor keeps its 500 open rows; the next prediction closes that window.
    await expect
      .poll(() => h.service!.monitors()[0]?.processor.spec.window, { timeout: 20_000 })
      .toEqual({ rows: 100 });
    await h.send(events.slice(500));
    await expect.poll(() => h.windowCount(), { timeout: 20_000 }).toBe(2);
    const windows = (await h.service!.store.windows({ model: h.model, limit: 10 })).reverse();
    expect(windows.map((w) => w.window.rows)).toEqual([501, 100]);
  });
});
