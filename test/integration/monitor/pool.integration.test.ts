/**
 * The monitor's Postgres connections under load and loss: many monitors in one process, and a
 * Postgres whose connections are cut while the monitor idles (through a loopback proxy).
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { type MonitorService, startMonitorService } from '../../../services/monitor/service.ts';
import type { MonitorSpec } from '../../../shared/definitions/types.ts';
import { PostgresProfileStore } from '../../../shared/profiles/postgres.ts';
import { StaticDefinitions } from '../../../shared/registry/live.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import { services, uniqueName } from '../../support/env.ts';
import { TcpProxy } from '../../support/tcp-proxy.ts';
import { spec as baseSpec, referenceProfile } from '../../unit/monitor/helpers.ts';
import { logger, predictionEvents, repoOf } from './harness.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));

async function setUp(count: number) {
  const schema = uniqueName('monitor');
  const monitors: MonitorSpec[] = Array.from({ length: count }, () => {
    const model = uniqueName('model');
    return baseSpec({
      name: model,
      model,
      predictionTopic: uniqueName('predictions'),
      window: { rows: 100 },
    });
  });
  const admin = await stream.admin();
  await admin.ensureTopics(
    monitors.flatMap((m) => [{ topic: m.predictionTopic }, { topic: `${m.predictionTopic}.dlq` }]),
  );
  await admin.close();
  const profiles = new PostgresProfileStore(services().DATABASE_URL, schema);
  await profiles.ensureSchema();
  for (const m of monitors) await profiles.put({ ...referenceProfile(), model: m.model, modelVersion: '1' });
  await profiles.close();
  const db = new pg.Pool({ connectionString: services().DATABASE_URL, max: 1 });
  cleanups.push(async () => {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.end();
    const cleanupAdmin = await stream.admin();
    await cleanupAdmin.deleteTopics(monitors.flatMap((m) => [m.predictionTopic, `${m.predictionTopic}.dlq`]));
    await cleanupAdmin.close();
  });
  const producer = await stream.producer();
  cleanups.push(() => producer.close());
  const send = async (m: MonitorSpec, count: number, from: number) => {
    const values = predictionEvents({ model: m.model, count, seed: from + 1, from });
    await producer.send(
      m.predictionTopic,
      values.map((value) => ({ key: null, value })),
    );
  };
  const windowsOf = async (): Promise<Map<string, number[]>> => {
    const { rows } = await db.query<{ monitor: string; rows: string }>(
      `SELECT monitor, rows FROM "${schema}".drift_windows ORDER BY monitor, window_end`,
    );
    const out = new Map<string, number[]>();
    for (const r of rows) out.set(r.monitor, [...(out.get(r.monitor) ?? []), Number(r.rows)]);
    return out;
  };
  return { schema, monitors, send, windowsOf };
}

async function until<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function start(
  schema: string,
  monitors: MonitorSpec[],
  databaseUrl = services().DATABASE_URL,
): Promise<MonitorService> {
  const repo = { ...repoOf(monitors[0]!), monitors };
  return startMonitorService({
    definitions: new StaticDefinitions(repo),
    stream,
    databaseUrl,
    logger,
    schema,
    opsPort: null,
    start: { from: 'beginning' },
    groupIdOf: (m) => `${schema}-${m.name}`,
    retry: { baseMs: 50, maxMs: 400, maxAttempts: 1_000 },
    dispatcher: { idleMs: 100 },
  });
}

describe('monitor Postgres connections', () => {
  it('runs 20 monitors in one process: every one starts and closes its windows', async () => {
    const { schema, monitors, send, windowsOf } = await setUp(20);
    const service = await start(schema, monitors);
    cleanups.push(() => service.close());
    expect(service.monitors()).toHaveLength(20);
    for (const m of monitors) await send(m, 200, 0);
    const windows = await until(
      'two windows per monitor',
      windowsOf,
      (w) => monitors.every((m) => (w.get(m.name) ?? []).length >= 2),
      90_000,
    );
    for (const m of monitors) expect(windows.get(m.name), m.name).toEqual([100, 100]);
  }, 180_000);

  it('survives its idle Postgres connections being cut, and counts every prediction once', async () => {
    const { schema, monitors, send, windowsOf } = await setUp(1);
    const target = TcpProxy.forUrl(services().DATABASE_URL);
    const proxy = await new TcpProxy(target.host, target.port).start();
    cleanups.push(() => proxy.close());
    const url = new URL(services().DATABASE_URL);
    url.port = String(proxy.port);
    const service = await start(schema, monitors, url.toString());
    cleanups.push(() => service.close());
    const m = monitors[0]!;
    await send(m, 150, 0);
    await until('the first window', windowsOf, (w) => (w.get(m.name) ?? []).length >= 1, 30_000);

    // Every connection dies while idle (the lock's too): unhandled, the pool's 'error' event
    // ended the process. Postgres stays away a moment, then comes back.
    proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    proxy.restore();

    await send(m, 250, 150);
    const windows = await until('four windows', windowsOf, (w) => (w.get(m.name) ?? []).length >= 4, 60_000);
    expect(windows.get(m.name)).toEqual([100, 100, 100, 100]);
  }, 120_000);

  it('holds a partition on a store error that retrying cannot fix, says why, and counts exactly after a restart', async () => {
    const { schema, monitors, send, windowsOf } = await setUp(1);
    const m = monitors[0]!;
    let service = await start(schema, monitors);
    cleanups.push(() => service.close());
    await send(m, 150, 0);
    await until('the first window', windowsOf, (w) => (w.get(m.name) ?? []).length >= 1, 30_000);

    // A table of the monitor goes away (dropped or renamed by hand): the checkpoint fails with
    // 42P01, which no retry fixes. It used to be retried forever as 'store unavailable'.
    const db = new pg.Pool({ connectionString: services().DATABASE_URL, max: 1 });
    cleanups.push(() => db.end());
    await db.query(`ALTER TABLE "${schema}".monitor_offsets RENAME TO monitor_offsets_aside`);
    await send(m, 100, 150);
    const [held] = await until(
      'the partition to be held',
      async () => service.monitors()[0]!.held(),
      (h) => h.length > 0,
      30_000,
    );
    expect(held).toMatchObject({ what: 'checkpoint', code: 'TRIB_STORE_QUERY_FAILED', partition: 0 });
    expect(held!.message).toContain('42P01');
    expect(held!.message).not.toContain('INSERT');
    const gauge = await service.metrics.held.get();
    expect(gauge.values).toEqual([
      expect.objectContaining({
        value: 1,
        labels: expect.objectContaining({ code: 'TRIB_STORE_QUERY_FAILED' }),
      }),
    ]);
    expect((await windowsOf()).get(m.name)).toEqual([100]);

    // The operator puts the table back and restarts: the held batch is redelivered and counted once.
    await db.query(`ALTER TABLE "${schema}".monitor_offsets_aside RENAME TO monitor_offsets`);
    await service.close();
    service = await start(schema, monitors);
    await send(m, 150, 250);
    const windows = await until('four windows', windowsOf, (w) => (w.get(m.name) ?? []).length >= 4, 60_000);
    expect(windows.get(m.name)).toEqual([100, 100, 100, 100]);
    expect(service.monitors()[0]!.held()).toEqual([]);
  }, 120_000);
});
