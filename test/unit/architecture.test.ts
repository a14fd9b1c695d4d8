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
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => {
    const target = m[1]!;
    return target.startsWith('.') ? relative(ROOT, resolve(ROOT, file, '..', target)) : target;
  });
}

const DRIVERS = ['pg', 'pg-copy-streams', 'ioredis', 'kafkajs'];

describe('dependency direction', () => {
  it('reads the imports it checks', () => {
    expect(importsOf('shared/postgres/pool.ts')).toContain('pg');
    expect(importsOf('services/materializer/materializer.ts')).toContain('shared/stream/port.ts');
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
