/**
 * Two `tributary serve` replicas on one registry: a version applied while both run reaches
 * both, without a restart, and both answer lookups of the new feature.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../support/chaos.ts';
import {
  type CliProcess,
  cleanUpCli,
  cliEnv,
  exampleRepo,
  runCli,
  startCli,
  stopCli,
  until,
} from '../../support/cli.ts';
import { uniqueName } from '../../support/env.ts';

const schema = uniqueName('reg_replicas');
const offlineSchema = uniqueName('off_replicas');
const prefix = uniqueName('replicas');
let dir: string;
const replicas: { process: CliProcess; url: string }[] = [];

function apply() {
  return runCli(['apply', '--repo', dir, '--registry-schema', schema, '--offline-schema', offlineSchema]);
}

beforeAll(async () => {
  dir = await exampleRepo(prefix);
  const applied = await apply();
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
}, 60_000);

afterAll(async () => {
  for (const replica of replicas) await stopCli(replica.process);
  await cleanUpCli({ dir, schemas: [schema, offlineSchema], topicPrefix: prefix });
});

/** The features the replica lists for the example view. */
async function features(url: string): Promise<string[] | undefined> {
  const response = await fetch(`${url}/feature-views`);
  if (!response.ok) return undefined;
  const body = (await response.json()) as { feature_views: { name: string; features: { name: string }[] }[] };
  return body.feature_views.find((v) => v.name === 'driver_hourly_stats')?.features.map((f) => f.name);
}

describe('serving replicas', () => {
  it('both follow a version applied while they run', async () => {
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      replicas.push({
        process: startCli(
          ['serve', '--registry-schema', schema, '--offline-schema', offlineSchema],
          cliEnv({ PORT: String(port), LOG_LEVEL: 'warn' }),
        ),
        url: `http://127.0.0.1:${port}`,
      });
    }
    for (const { url } of replicas) {
      expect(await until('the replica', () => features(url), 60_000)).not.toContain('pickup_rate');
    }

    // A safe change: one more feature in the example view.
    const file = path.join(dir, 'driver.ts');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace(
        "avg_daily_trips: 'int64',",
        "avg_daily_trips: 'int64',\n    pickup_rate: 'float64',",
      ),
    );
    const applied = await apply();
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('registry version 2');

    for (const { url } of replicas) {
      await until(
        'the new version on every replica',
        async () => ((await features(url))?.includes('pickup_rate') ? true : undefined),
        15_000,
      );
      // And lookups of the new feature are answered (no value written yet: null, NOT_FOUND).
      const lookup = await fetch(`${url}/get-online-features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          features: ['driver_hourly_stats:pickup_rate'],
          entities: { driver_id: [1001] },
        }),
      });
      expect(lookup.status).toBe(200);
      const body = (await lookup.json()) as { metadata: { feature_names: string[] } };
      expect(body.metadata.feature_names).toEqual(['driver_id', 'pickup_rate']);
    }
    for (const { process } of replicas) expect(process.process.exitCode).toBeNull();
  }, 120_000);
});
