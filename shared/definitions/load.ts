/**
 * Loads a feature repository: imports every `*.ts` file of a folder, collects the exported
 * declarations and resolves them into a RepoSpec. Only `plan` and `apply` read files;
 * services read the registry (`shared/registry/live.ts`).
 */
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';
import { TributaryError } from '../errors.ts';
import { DECLARATION, isDeclaration } from './declare.ts';
import type { RepoSpec } from './types.ts';
import { type LocatedDeclaration, resolveRepo } from './validate.ts';

/** The `*.ts` files of a repository, sorted; skips `node_modules`, dot entries, `.d.ts` and tests. */
export async function repoFiles(dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(root);
  } catch (error) {
    throw new TributaryError(
      'TRIB_DEFINITION_LOAD_FAILED',
      `${displayPath(root)}: no such feature repository folder`,
      {
        cause: error,
      },
    );
  }
  if (!info.isDirectory()) {
    throw new TributaryError('TRIB_DEFINITION_LOAD_FAILED', `${displayPath(root)}: not a folder`);
  }
  const files: string[] = [];
  const walk = async (folder: string) => {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (
        entry.isFile() &&
        /\.[cm]?ts$/.test(entry.name) &&
        !/\.d\.[cm]?ts$/.test(entry.name) &&
        !/\.(test|spec)\.[cm]?ts$/.test(entry.name)
      ) {
        files.push(full);
      }
    }
  };
  await walk(root);
  return files.sort();
}

/** A path as users see it in messages: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

let selfResolution = false;

/** Makes 'tributary' resolve to the running package where a repository has no copy of its own. */
function resolveTributaryToSelf(): void {
  if (selfResolution) return;
  selfResolution = true;
  const self = new URL('../index.ts', import.meta.url);
  module.register('./resolve-self.mjs', import.meta.url, { data: { selfUrl: self.href } });
}

/**
 * Imports the repository's files and returns their exported declarations with the file of each.
 * Every call uses a fresh module namespace, so a changed file is read again.
 */
/**
 * The line of a loader's message that says what is wrong: esbuild's starts with "Transform
 * failed with 1 error:" and gives the position and cause on the next line.
 */
function firstReason(message: string): string {
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const header = /^Transform failed with \d+ errors?:?$/;
  return (header.test(lines[0] ?? '') ? lines[1] : lines[0]) ?? message;
}

export async function loadDeclarations(dir: string): Promise<LocatedDeclaration[]> {
  const files = await repoFiles(dir);
  resolveTributaryToSelf();
  const api = register({ namespace: `tributary-repo-${randomBytes(6).toString('hex')}` });
  const found: LocatedDeclaration[] = [];
  try {
    for (const file of files) {
      let namespace: Record<string, unknown>;
      try {
        namespace = (await api.import(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new TributaryError(
          'TRIB_DEFINITION_LOAD_FAILED',
          `${displayPath(file)}: cannot load: ${firstReason(reason)}`,
          { cause: error, details: { file: displayPath(file) } },
        );
      }
      for (const value of Object.values(namespace)) {
        if (isDeclaration(value)) found.push({ declaration: value, file: displayPath(file) });
      }
    }
  } finally {
    await api.unregister();
  }
  return found;
}

/** Loads, validates and resolves a feature repository; throws TRIB_DEFINITION_* errors naming the file. */
export async function loadRepo(dir: string): Promise<RepoSpec> {
  const declarations = await loadDeclarations(dir);
  if (declarations.length === 0) {
    throw new TributaryError(
      'TRIB_DEFINITION_INVALID',
      `${displayPath(path.resolve(dir))}: no declarations found: export entity(), featureView() and the like from its .ts files`,
    );
  }
  // A declaration exported by several files (re-exports) counts once, under the file that made it.
  const byDeclaration = new Map<unknown, LocatedDeclaration>();
  for (const item of declarations) {
    const declaredAt = item.declaration[DECLARATION].declaredAt;
    const own = declaredAt !== undefined && displayPath(declaredAt) === item.file;
    if (!byDeclaration.has(item.declaration) || own) byDeclaration.set(item.declaration, item);
  }
  const ordered = [...byDeclaration.values()].sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : 0,
  );
  return resolveRepo(ordered, { fileOf: displayPath });
}
