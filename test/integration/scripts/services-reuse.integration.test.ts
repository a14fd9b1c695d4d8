/**
 * How benchmarks find services (scripts/services.ts, `persist: false`): a services file whose
 * services answer is reused as it is — read, never rewritten or deleted — and stopping the
 * handle stops nothing. Before, a benchmark that found no state file started its own services,
 * overwrote `.services.env` and deleted it at the end.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEnvFile, servicesUp } from '../../../scripts/services.ts';
import { services } from '../../support/env.ts';

const dir = mkdtempSync(join(tmpdir(), 'services-reuse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('servicesUp({ persist: false })', () => {
  it('reuses the services an env file names, leaving the file as it was', async () => {
    const { KAFKA_BROKERS, DATABASE_URL, REDIS_URL } = services();
    const file = join(dir, 'services.env');
    const text = `KAFKA_BROKERS=${KAFKA_BROKERS}\nDATABASE_URL=${DATABASE_URL}\nREDIS_URL=${REDIS_URL}\n`;
    writeFileSync(file, text);
    const before = statSync(file).mtimeMs;
    // As a benchmark started from a plain shell: nothing in the environment.
    const saved = { KAFKA_BROKERS, DATABASE_URL, REDIS_URL };
    for (const name of Object.keys(saved)) delete process.env[name];
    try {
      const handle = await servicesUp({ persist: false, envFile: file });
      expect(handle.origin).toBe('reused');
      expect(handle.env).toEqual(saved);
      await handle.stop();
    } finally {
      Object.assign(process.env, saved);
    }
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(statSync(file).mtimeMs).toBe(before);
    expect(readEnvFile(file)).toEqual(saved);
  });

  it('reads an env file that names only some services as none', () => {
    const file = join(dir, 'partial.env');
    writeFileSync(file, 'KAFKA_BROKERS=127.0.0.1:1\n');
    expect(readEnvFile(file)).toBeUndefined();
  });
});
