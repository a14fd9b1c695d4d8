import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TributaryError } from '../../shared/errors.ts';
import type { Command } from '../command.ts';
import { reportError } from '../options.ts';

/** This package's folder: the example repository is copied from it, and the scaffold depends on it. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const initCommand: Command = {
  name: 'init',
  summary: 'Create a feature repository of your own (declarations, package.json, tsconfig, README)',
  help: `Usage: tributary init [dir] [options]

Creates a feature repository in <dir> (default: ./feature_repo), like \`feast init\`:
  feature-defs/driver.ts   example declarations: an entity, a Kafka and a push source, a
                           feature view, a feature service and a monitor
  package.json             depends on tributary, with plan/apply/materialize/serve scripts
  tsconfig.json            type-checks the declarations against tributary's API
  README.md                the next commands
  .gitignore

The repository may live anywhere: where it does not install tributary itself, the running
tributary resolves \`import ... from 'tributary'\` to itself.

Options:
  --force                    write into a folder that is not empty (existing files are kept)
  -h, --help                 show this help

Environment: TRIBUTARY_DEBUG (set: a failure prints its stack).

Examples:
  tributary init my_features && cd my_features
  tributary plan && tributary apply`,

  async run(argv) {
    let parsed: ReturnType<typeof parseInit>;
    try {
      parsed = parseInit(argv);
    } catch (error) {
      console.error(`tributary init: ${(error as Error).message}; see tributary init --help`);
      return 2;
    }
    try {
      const dir = path.resolve(parsed.dir);
      const written = await scaffold(dir, parsed.force);
      const shown = path.relative(process.cwd(), dir) || '.';
      console.log(`Created a feature repository in ${shown}:`);
      for (const file of written) console.log(`  ${file}`);
      console.log('');
      console.log('Next:');
      if (shown !== '.') console.log(`  cd ${shown}`);
      console.log('  tributary plan      # what apply would change (needs DATABASE_URL)');
      console.log('  tributary apply     # registers the declarations, creates tables and topics');
      return 0;
    } catch (error) {
      return reportError('init', error);
    }
  },
};

function parseInit(argv: string[]): { dir: string; force: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { force: { type: 'boolean', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 1) throw new Error(`one folder at most, got ${positionals.join(' ')}`);
  return { dir: positionals[0] ?? 'feature_repo', force: values.force ?? false };
}

/** Writes the scaffold into `dir`; returns the files written, relative to it. */
export async function scaffold(dir: string, force = false): Promise<string[]> {
  const existing = await readdir(dir).catch(() => [] as string[]);
  if (existing.length > 0 && !force) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `${dir} is not empty: choose another folder, or pass --force to add the files that are missing`,
    );
  }
  const name =
    path
      .basename(dir)
      .replace(/[^a-z0-9._-]/gi, '-')
      .toLowerCase() || 'feature-repo';
  const own = JSON.parse(await readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(
      {
        name,
        private: true,
        type: 'module',
        scripts: {
          plan: 'tributary plan',
          apply: 'tributary apply',
          materialize: 'tributary materialize',
          serve: 'tributary serve',
          typecheck: 'tsc --noEmit',
        },
        dependencies: { tributary: `file:${PACKAGE_ROOT.replace(/\/$/, '')}` },
        tributary: { createdWith: own.version },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          // Until `npm install` links tributary into node_modules, editors find it here.
          paths: { tributary: [path.join(PACKAGE_ROOT, 'shared/index.ts')] },
        },
        include: ['feature-defs/**/*.ts'],
      },
      null,
      2,
    )}\n`,
    'README.md': `# ${name}

A Tributary feature repository: the declarations in \`feature-defs/\` say which entities,
sources, feature views, feature services and monitors exist.

\`\`\`sh
export DATABASE_URL=postgres://user:pass@localhost:5432/tributary
export KAFKA_BROKERS=localhost:9092
export REDIS_URL=redis://localhost:6379

tributary plan          # what apply would change
tributary apply         # register the declarations, create tables and topics
tributary materialize   # Kafka -> Postgres (offline) + Redis (online)
tributary serve         # HTTP: /get-online-features, /push, /get-historical-features
\`\`\`

Run the commands from this folder (or set \`TRIBUTARY_REPO\` to its \`feature-defs\`).
\`npm install\` links the tributary package named in package.json; without it, the
\`tributary\` command you run provides the \`tributary\` module itself.
`,
    '.gitignore': 'node_modules/\n.services.env\n',
  };
  await mkdir(path.join(dir, 'feature-defs'), { recursive: true });
  const written: string[] = [];
  const have = new Set(existing);
  for (const [file, text] of Object.entries(files)) {
    if (have.has(file)) continue;
    await writeFile(path.join(dir, file), text);
    written.push(file);
  }
  // The example declarations are the package's own example repository, so both stay one text.
  const examples = path.join(PACKAGE_ROOT, 'feature-defs');
  const already = new Set(await readdir(path.join(dir, 'feature-defs')));
  for (const file of (await readdir(examples)).filter((f) => f.endsWith('.ts')).sort()) {
    if (already.has(file)) continue;
    await copyFile(path.join(examples, file), path.join(dir, 'feature-defs', file));
    written.push(`feature-defs/${file}`);
  }
  return written;
}
