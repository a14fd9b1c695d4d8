import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRepo } from '../../../shared/definitions/load.ts';
import { type ErrorCode, isTributaryError } from '../../../shared/errors.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const made: string[] = [];

/** A feature repository in a temp folder that imports 'tributary' as a user's project would. */
async function repo(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trib-defs-'));
  made.push(dir);
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
  await mkdir(path.join(dir, 'node_modules'));
  await symlink(ROOT, path.join(dir, 'node_modules', 'tributary'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isTributaryError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a failure');
}

afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

const ENTITY = `import { entity, kafkaSource } from 'tributary';
export const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });
export const source = kafkaSource({ name: 'src', topic: 'stats' });
`;

describe('loadRepo', () => {
  it('loads the example repository as docs/definitions.md lists it', async () => {
    const saved = {
      url: process.env['TRIBUTARY_WEBHOOK_URL'],
      secret: process.env['TRIBUTARY_WEBHOOK_SECRET'],
    };
    delete process.env['TRIBUTARY_WEBHOOK_URL'];
    try {
      const spec = await loadRepo(path.join(ROOT, 'feature-defs'));
      expect(spec.entities).toMatchObject([{ name: 'driver', joinKey: 'driver_id', valueType: 'int64' }]);
      expect(spec.kafkaSources).toMatchObject([
        { name: 'driver_stats_source', topic: 'driver_stats' },
        { name: 'trips_source', topic: 'trips' },
      ]);
      expect(spec.pushSources).toMatchObject([
        { name: 'driver_stats_push', batchSource: 'driver_stats_source' },
        { name: 'trips_push', batchSource: 'trips_source' },
      ]);
      const MIN = 60_000;
      expect(spec.streamFeatureViews).toMatchObject([
        {
          name: 'driver_trip_stats',
          entities: ['driver'],
          source: 'trips_push',
          schema: [
            { name: 'fare', type: 'float64' },
            { name: 'rating', type: 'int64' },
          ],
          aggregations: [
            { name: 'fare_sum_1h', function: 'sum', windowMs: 60 * MIN, resolutionMs: MIN, type: 'float64' },
            {
              name: 'fare_count_1d',
              function: 'count',
              windowMs: 1440 * MIN,
              resolutionMs: 5 * MIN,
              type: 'int64',
            },
            {
              name: 'fare_mean_7d',
              function: 'mean',
              windowMs: 7 * 1440 * MIN,
              resolutionMs: 60 * MIN,
              type: 'float64',
            },
            {
              name: 'last_rating',
              function: 'last',
              windowMs: 7 * 1440 * MIN,
              resolutionMs: 60 * MIN,
              type: 'int64',
            },
          ],
        },
      ]);
      expect(spec.featureViews).toMatchObject([
        {
          name: 'driver_hourly_stats',
          entities: ['driver'],
          source: 'driver_stats_push',
          ttlMs: 86_400_000,
          online: true,
          offline: true,
          schema: [
            { name: 'conv_rate', type: 'float64' },
            { name: 'acc_rate', type: 'float64' },
            { name: 'avg_daily_trips', type: 'int64' },
          ],
        },
      ]);
      expect(spec.featureServices).toMatchObject([
        { name: 'driver_activity', features: [{ featureView: 'driver_hourly_stats' }] },
      ]);
      expect(spec.monitors).toMatchObject([
        {
          name: 'driver_model',
          model: 'driver_model',
          predictionTopic: 'predictions.driver_model',
          features: [
            'driver_hourly_stats:conv_rate',
            'driver_hourly_stats:acc_rate',
            'driver_hourly_stats:avg_daily_trips',
          ],
          monitorPrediction: true,
          window: { rows: 5000 },
          retrain: { consecutiveDriftedWindows: 2, cooldownMs: 3_600_000 },
          webhooks: [],
        },
      ]);
      process.env['TRIBUTARY_WEBHOOK_URL'] = 'https://hooks.example/drift';
      process.env['TRIBUTARY_WEBHOOK_SECRET'] = 'shh';
      const withHook = await loadRepo(path.join(ROOT, 'feature-defs'));
      // The key is referenced by name: the spec (what the registry stores) never holds it.
      expect(withHook.monitors[0]?.webhooks).toEqual([
        { url: 'https://hooks.example/drift', secretEnv: 'TRIBUTARY_WEBHOOK_SECRET' },
      ]);
      expect(JSON.stringify(withHook)).not.toContain('shh');
    } finally {
      for (const [key, value] of [
        ['TRIBUTARY_WEBHOOK_URL', saved.url],
        ['TRIBUTARY_WEBHOOK_SECRET', saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('collects declarations across files and folders, once each, ignoring plain exports', async () => {
    const dir = await repo({
      'entities.ts': ENTITY,
      'views/stats.ts': `import { featureView } from 'tributary';
import { driver, source } from '../entities.ts';
export { driver };
export const helper = 42;
export const stats = featureView({ name: 'stats', entities: [driver], source, schema: { trips: 'int64' } });
`,
      'README.md': '# not code',
      'notes.d.ts': 'export declare const x: number;',
    });
    const spec = await loadRepo(dir);
    expect(spec.entities.map((e) => e.name)).toEqual(['driver']);
    expect(spec.featureViews.map((v) => v.name)).toEqual(['stats']);
  });

  it('picks up an edited file on the next load', async () => {
    const dir = await repo({ 'a.ts': ENTITY });
    expect((await loadRepo(dir)).kafkaSources[0]?.topic).toBe('stats');
    await writeFile(path.join(dir, 'a.ts'), ENTITY.replace("topic: 'stats'", "topic: 'stats2'"));
    expect((await loadRepo(dir)).kafkaSources[0]?.topic).toBe('stats2');
  });

  it('names the file, object and field of an invalid declaration', async () => {
    const dir = await repo({
      'entities.ts': ENTITY,
      'driver.ts': `import { featureView } from 'tributary';
import { driver, source } from './entities.ts';
export const stats = featureView({ name: 'driver_hourly_stats', entities: [driver], source, schema: { trips: 'int64' }, ttl: '1 day' as never });
`,
    });
    expect(await failure(loadRepo(dir))).toEqual({
      code: 'TRIB_DEFINITION_INVALID',
      message: `${path.join(dir, 'driver.ts')}: featureView 'driver_hourly_stats': field 'ttl': expected a duration like '1d', '12h', '30m', '45s', '250ms' or milliseconds as a number, got "1 day"`,
    });
  });

  it('names both files of a duplicate', async () => {
    const dir = await repo({ 'a.ts': ENTITY, 'b.ts': ENTITY });
    const { code, message } = await failure(loadRepo(dir));
    expect(code).toBe('TRIB_DEFINITION_INVALID');
    expect(message.split('\n')).toEqual([
      `${path.join(dir, 'b.ts')}: entity 'driver': field 'name': duplicate name: entity 'driver' is also declared in ${path.join(dir, 'a.ts')}`,
      `${path.join(dir, 'b.ts')}: kafkaSource 'src': field 'name': duplicate name: kafkaSource 'src' is also declared in ${path.join(dir, 'a.ts')}`,
    ]);
  });

  it('attributes an unexported declaration to the file that made it', async () => {
    const dir = await repo({
      'shared.ts': `import { entity } from 'tributary';
export function rider() { return entity({ name: 'Rider', valueType: 'string' }); }
`,
      'view.ts': `import { featureView, kafkaSource } from 'tributary';
import { rider } from './shared.ts';
export const source = kafkaSource({ name: 'src', topic: 'stats' });
export const rides = featureView({ name: 'rides', entities: [rider()], source, schema: { n: 'int64' } });
`,
    });
    const { message } = await failure(loadRepo(dir));
    expect(message.split('\n')[0]).toBe(
      `${path.join(dir, 'shared.ts')}: entity 'Rider': field 'name': "Rider" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$)`,
    );
  });

  it('fails with TRIB_DEFINITION_LOAD_FAILED naming a file that does not import', async () => {
    const dir = await repo({ 'a.ts': ENTITY, 'broken.ts': `throw new Error('boom at load');\n` });
    expect(await failure(loadRepo(dir))).toEqual({
      code: 'TRIB_DEFINITION_LOAD_FAILED',
      message: `${path.join(dir, 'broken.ts')}: cannot load: boom at load`,
    });
  });

  it('fails with TRIB_DEFINITION_LOAD_FAILED on a syntax error', async () => {
    const dir = await repo({ 'bad.ts': `export const = ;\n` });
    const { code, message } = await failure(loadRepo(dir));
    expect(code).toBe('TRIB_DEFINITION_LOAD_FAILED');
    expect(message.startsWith(`${path.join(dir, 'bad.ts')}: cannot load: `)).toBe(true);
    // The line with the position and the cause, not esbuild's "Transform failed" header.
    expect(message).toMatch(/bad\.ts:1:\d+: ERROR: /);
    expect(message).not.toContain('Transform failed');
  });

  it('fails on a missing folder and on a folder without declarations', async () => {
    const missing = path.join(os.tmpdir(), 'trib-no-such-repo-x');
    expect(await failure(loadRepo(missing))).toEqual({
      code: 'TRIB_DEFINITION_LOAD_FAILED',
      message: `${missing}: no such feature repository folder`,
    });
    const dir = await repo({ 'a.ts': 'export const x = 1;\n' });
    expect(await failure(loadRepo(dir))).toEqual({
      code: 'TRIB_DEFINITION_INVALID',
      message: `${dir}: no declarations found: export entity(), featureView() and the like from its .ts files`,
    });
  });
});
