/**
 * `tributary init` makes a feature repository that works from its own folder, outside this
 * package and without installing tributary: plan, apply, then plan again with nothing to do.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, type CliResult, cleanUpCli, cliEnv } from '../../support/cli.ts';
import { uniqueName } from '../../support/env.ts';

function runIn(cwd: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: cliEnv() }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('tributary init', () => {
  const prefix = uniqueName('init');
  const registrySchema = uniqueName('registry');
  const offlineSchema = uniqueName('offline');
  let parent: string;

  afterAll(async () => {
    await cleanUpCli({ dir: parent, schemas: [registrySchema, offlineSchema], topicPrefix: prefix });
  });

  it('scaffolds a repository that plans and applies from its own folder', async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'trib-init-'));
    const created = await runIn(parent, ['init', 'my_features']);
    expect(created.code, created.stderr).toBe(0);
    const dir = path.join(parent, 'my_features');
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
    expect(pkg.dependencies.tributary).toMatch(/^file:/);
    for (const file of ['tsconfig.json', 'README.md', '.gitignore', 'feature-defs/driver.ts']) {
      expect(created.stdout).toContain(file);
    }
    // Its own topics, so the shared broker's are left alone.
    const defs = path.join(dir, 'feature-defs', 'driver.ts');
    const text = await readFile(defs, 'utf8');
    await writeFile(
      defs,
      text
        .replace("topic: 'driver_stats'", `topic: '${prefix}.driver_stats'`)
        .replace('predictions.driver_model', `${prefix}.predictions`),
    );

    const schemas = ['--registry-schema', registrySchema];
    const plan = await runIn(dir, ['plan', ...schemas]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('+ featureView driver_hourly_stats');
    const apply = await runIn(dir, ['apply', ...schemas, '--offline-schema', offlineSchema]);
    expect(apply.code, apply.stderr).toBe(0);
    const again = await runIn(dir, ['plan', ...schemas, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).changes).toEqual([]);

    // A second init into the same folder refuses rather than overwrite.
    const twice = await runIn(parent, ['init', 'my_features']);
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toContain('--force');
  }, 90_000);
});
