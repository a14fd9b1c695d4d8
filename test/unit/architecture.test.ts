import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The dependency rules of docs/architecture.md, checked on the import lines of every source file. */
const ROOT = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  // `import … from 'x'`, `export … from 'x'`, and the bare `import 'x'` run for its effects.
  return [...text.matchAll(/^\s*(?:import|export)(?:[^'"]*from)?\s*['"]([^'"]+)['"]/gm)].map((m) => {
    const target = m[1]!;
    return target.startsWith('.') ? relative(ROOT, resolve(ROOT, file, '..', target)) : target;
  });
}

const DRIVERS = ['pg', 'pg-copy-streams', 'ioredis', 'kafkajs'];

describe('dependency direction', () => {
  it('reads the imports it checks', () => {
    expect(importsOf('shared/postgres/pool.ts')).toContain('pg');
    expect(importsOf('services/materializer/materializer.ts')).toContain('shared/stream/port.ts');
    expect(importsOf('bench/historical.ts')).toContain('fixtures/driver-spec.ts');
  });

  it('shared/ never imports a service or the CLI', () => {
    const offending = sources('shared').flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith('services/') || target.startsWith('cli/'))
        .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it('no service imports another service', () => {
    const offending = sources('services').flatMap((file) => {
      const own = file.split('/')[1];
      return importsOf(file)
        .filter((target) => target.startsWith('services/') && target.split('/')[1] !== own)
        .map((target) => `${file} -> ${target}`);
    });
    expect(offending).toEqual([]);
  });

  it('definitions, statistics and point-in-time planning never import a driver', () => {
    const core = ['shared/definitions', 'shared/stats', 'shared/retrieval', 'shared/events'].flatMap(sources);
    const offending = core.flatMap((file) =>
      importsOf(file)
        .filter((target) => DRIVERS.includes(target))
        .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it('only shared/postgres/ imports the Postgres driver: every adapter uses its one slice of it', () => {
    const offending = ['shared', 'services', 'cli'].flatMap(sources).flatMap((file) =>
      file.startsWith('shared/postgres/')
        ? []
        : importsOf(file)
            .filter((target) => target === 'pg' || target.startsWith('pg-'))
            .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it('shared/model/ imports nothing but itself, the definitions types and the errors', () => {
    // The row model is what decoder, stores, retrieval and registry share: if it reached for a
    // store, a driver or a service, every one of them would depend on that too.
    const allowed = (target: string) =>
      target.startsWith('shared/model/') ||
      target === 'shared/definitions/types.ts' ||
      target === 'shared/errors.ts';
    const model = sources('shared/model');
    expect(model).toContain('shared/model/row.ts');
    const offending = model.flatMap((file) =>
      importsOf(file)
        .filter((target) => !allowed(target))
        .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it('benchmarks, scripts and fixtures never import test/: what both use lives in fixtures/ or scripts/', () => {
    // scripts/ and fixtures/ too, as bench/ imports them: test/ would come in through them.
    const offending = ['bench', 'scripts', 'fixtures'].flatMap(sources).flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith('test/'))
        .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it('the row model is declared only in shared/model/: the ports import it, never redefine it', () => {
    const declares = /^export (?:interface|type) (FeatureRow|ViewLayout|ColumnLayout)\b/m;
    const elsewhere = ['shared', 'services', 'cli']
      .flatMap(sources)
      .filter(
        (file) => !file.startsWith('shared/model/') && declares.test(readFileSync(join(ROOT, file), 'utf8')),
      );
    expect(elsewhere).toEqual([]);
    for (const port of ['shared/stores/offline/port.ts', 'shared/stores/online/port.ts']) {
      expect(importsOf(port)).toContain('shared/model/row.ts');
    }
  });

  it('nothing under shared/ imports fastify: HTTP belongs to services/serving', () => {
    const offending = sources('shared').flatMap((file) =>
      importsOf(file)
        .filter(
          (target) => target === 'fastify' || target.startsWith('fastify/') || target.startsWith('@fastify/'),
        )
        .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it('the product (shared/, services/, cli/) never imports fixtures/ or test/', () => {
    const offending = ['shared', 'services', 'cli'].flatMap(sources).flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith('fixtures/') || target.startsWith('test/'))
        .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
  });

  it('services reach drivers only through shared adapters', () => {
    const offending = sources('services').flatMap((file) =>
      importsOf(file)
        .filter((target) => DRIVERS.includes(target))
        .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
  });
});

describe('the repository stands on its own', () => {
  it('no committed file reads or cites a file outside the repository', () => {
    const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((file) => /\.(ts|mjs|js|md|json|py|sh|yml|yaml)$/.test(file) && existsSync(join(ROOT, file)))
      .filter((file) => file !== 'package-lock.json' && file !== 'test/unit/architecture.test.ts');
    // The reference folder beside a developer's clone (its design notes, golden/) is not there on a
    // user's machine, so nothing tracked may name it.
    const outside = /\.\.\/shared\/golden|\bDESIGN\.md\b|\bSTYLE\.md\b/;
    const offending = tracked.filter((file) => outside.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(offending).toEqual([]);
  });
});

describe('configuration', () => {
  /**
   * Files that may read process.env besides shared/config.ts, each for a reason it cannot go
   * through it. Everything else asks shared/config.ts (loadConfig or its accessors), so every
   * variable has one reading, one validation and one row in docs/configuration.md.
   */
  const ALLOWED: Record<string, string> = {
    // Development tooling, not the product: reuses the services the environment names and hands
    // its environment to the Kafka, Postgres and Redis processes it starts.
    'scripts/services.ts': 'starts local services',
    // Puts the services it started into its own environment for the commands it then runs.
    'scripts/quickstart.ts': 'writes, never reads',
    // The benchmarks' own knobs (BENCH_*) and the services they pass to their child processes.
    'bench/support.ts': 'benchmark knobs',
    // A user's feature repository (the example one): definitions may read their own variables.
    'feature-defs/driver.ts': 'user definitions',
  };

  function scanned(): string[] {
    const walk = (dir: string): string[] =>
      existsSync(join(ROOT, dir))
        ? readdirSync(join(ROOT, dir)).flatMap((name) => {
            const path = join(dir, name);
            if (statSync(join(ROOT, path)).isDirectory()) return walk(path);
            return /\.(ts|mjs|js)$/.test(path) ? [path] : [];
          })
        : [];
    return ['shared', 'services', 'cli', 'scripts', 'bench', 'fixtures', 'bin', 'feature-defs'].flatMap(walk);
  }

  const readsEnv = (file: string) => /\bprocess\.env\b/.test(readFileSync(join(ROOT, file), 'utf8'));

  it('finds the reads it checks', () => {
    expect(scanned()).toContain('bin/tributary.mjs');
    expect(readsEnv('shared/config.ts')).toBe(true);
  });

  it('only shared/config.ts reads process.env, apart from the commented exceptions', () => {
    const offending = scanned().filter(
      (file) => file !== 'shared/config.ts' && !ALLOWED[file] && readsEnv(file),
    );
    expect(offending).toEqual([]);
  });

  it('every exception still reads it (a stale entry is removed, not kept)', () => {
    const stale = Object.keys(ALLOWED).filter((file) => !existsSync(join(ROOT, file)) || !readsEnv(file));
    expect(stale).toEqual([]);
  });
});
