import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUpCli, cliEnv, exampleRepo, runCli } from '../../support/cli.ts';
import { uniqueName } from '../../support/env.ts';

const schema = uniqueName('reg_cli');
const offlineSchema = uniqueName('off_cli');
const prefix = uniqueName('cli');
let dir: string;

function run(...args: string[]) {
  return runCli(
    [...args, '--repo', dir, '--registry-schema', schema],
    cliEnv({ TRIBUTARY_APPLIED_BY: 'cli@test' }),
  );
}

beforeAll(async () => {
  // The example repository, on this test's own topics.
  dir = await exampleRepo(prefix);
});

afterAll(async () => {
  await cleanUpCli({ dir, schemas: [schema, offlineSchema], topicPrefix: prefix });
});

describe('tributary plan and apply', () => {
  it('plans, applies, says when nothing changed, and refuses breaking changes without the flag', async () => {
    const plan = await run('plan', '--json');
    expect(plan.code).toBe(0);
    const parsed = JSON.parse(plan.stdout) as { from: unknown; changes: { action: string }[] };
    expect(parsed.from).toBeNull();
    expect(parsed.changes.every((c) => c.action === 'add')).toBe(true);

    const apply = await run('apply', '--offline-schema', offlineSchema);
    expect(apply.stderr).toBe('');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Applied: registry version 1');
    expect(apply.stdout).toContain('by cli@test');

    const again = await run('apply', '--offline-schema', offlineSchema);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/No changes: .* matches registry version 1; nothing recorded\./);

    const file = path.join(dir, 'driver.ts');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace("avg_daily_trips: 'int64'", "avg_daily_trips: 'string'"),
    );
    const human = await run('plan');
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('~ schema.avg_daily_trips.type: int64 → string');
    expect(human.stdout).toContain('apply needs --allow-breaking');

    const refused = await run('apply', '--offline-schema', offlineSchema);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toEqual([
      "tributary apply: TRIB_BREAKING_CHANGE: refusing 1 breaking change without --allow-breaking: featureView 'driver_hourly_stats': feature 'avg_daily_trips' changes type from int64 to string: stored values no longer match",
    ]);

    const forced = await run('apply', '--offline-schema', offlineSchema, '--allow-breaking', '--json');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({
      changed: true,
      version: { version: 2, appliedBy: 'cli@test' },
    });
  });

  it('exits non-zero naming the file, object and field of an invalid definition', async () => {
    const file = path.join(dir, 'driver.ts');
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.replace("ttl: '1d'", "ttl: '1 day' as never"));
    try {
      const result = await run('plan');
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `tributary plan: TRIB_DEFINITION_INVALID: ${file}: featureView 'driver_hourly_stats': field 'ttl': expected a duration like '1d', '12h', '30m', '45s', '250ms' or milliseconds as a number, got "1 day"`,
      );
    } finally {
      await writeFile(file, good);
    }
  });

  it('rejects unknown options with a one-line reason', async () => {
    const result = await run('plan', '--allow-breaking');
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
