import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** docs/configuration.md lists every environment variable the product reads. */
const ROOT = resolve(import.meta.dirname, '../..');
// The operating system's, read only to name a user or a cache folder.
const SYSTEM = new Set(['USER', 'LOGNAME', 'HOME', 'XDG_CACHE_HOME', 'PATH', 'CI']);

function variablesRead(): Set<string> {
  const files = execFileSync(
    'git',
    ['ls-files', 'shared', 'services', 'cli', 'scripts', 'bin', 'feature-defs'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  )
    .split('\n')
    .filter((f) => /\.(ts|mjs)$/.test(f));
  const found = new Set<string>();
  const patterns = [
    /\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g, // process.env['X'], env['X']
    /\bprocess\.env\.([A-Z][A-Z0-9_]+)/g,
    /\bget\(['"]([A-Z][A-Z0-9_]+)['"]\)/g, // shared/config.ts reads through get('X')
  ];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.add(m[1]!);
  }
  for (const name of SYSTEM) found.delete(name);
  return found;
}

describe('docs/configuration.md', () => {
  it('finds the variables it checks', () => {
    expect(variablesRead()).toContain('DATABASE_URL');
  });

  it('lists every environment variable the code reads', () => {
    const doc = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
    const missing = [...variablesRead()].filter((name) => !doc.includes(`\`${name}\``)).sort();
    expect(missing).toEqual([]);
  });
});
