import { parseArgs } from 'node:util';
import { loadConfig } from '../../shared/config.ts';
import { displayPath, loadRepo } from '../../shared/definitions/load.ts';
import { isTributaryError } from '../../shared/errors.ts';
import { planRepo } from '../../shared/registry/apply.ts';
import { formatPlan } from '../../shared/registry/format.ts';
import { DEFAULT_REGISTRY_SCHEMA, PostgresRegistry } from '../../shared/registry/postgres.ts';
import type { Command } from '../command.ts';

/** Options `plan` and `apply` share. */
export const REGISTRY_OPTIONS = {
  repo: { type: 'string' },
  json: { type: 'boolean', default: false },
  'registry-schema': { type: 'string' },
} as const;

export const REGISTRY_OPTIONS_HELP = `  --repo <dir>               feature repository folder (default: TRIBUTARY_REPO, else ./feature-defs)
  --json                     print a machine-readable result on stdout
  --registry-schema <name>   Postgres schema of the registry (default: TRIBUTARY_REGISTRY_SCHEMA, else ${DEFAULT_REGISTRY_SCHEMA})`;

/** Parses argv, or returns the one-line usage error. */
export function parseOptions<T extends Parameters<typeof parseArgs>[0]['options']>(
  command: string,
  argv: string[],
  options: T,
):
  | {
      values: ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: false }>>['values'];
    }
  | { error: string } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: options as T,
      allowPositionals: false,
      strict: true,
    });
    return { values: values as never };
  } catch (error) {
    return {
      error: `tributary ${command}: ${(error as Error).message.split('\n')[0]}. Run 'tributary ${command} --help'.`,
    };
  }
}

/** Prints an error as its one-line reason; definition errors list each problem on its own line. */
export function reportError(command: string, error: unknown): number {
  if (isTributaryError(error)) {
    const [first, ...rest] = error.message.split('\n');
    console.error(`tributary ${command}: ${error.code}: ${first}`);
    if (error.code === 'TRIB_DEFINITION_INVALID') for (const line of rest) console.error(`  ${line}`);
  } else {
    console.error(
      `tributary ${command}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
  if (process.env['TRIBUTARY_DEBUG']) console.error(error);
  return 1;
}

export function registrySchema(option: string | undefined): string {
  return option || process.env['TRIBUTARY_REGISTRY_SCHEMA'] || DEFAULT_REGISTRY_SCHEMA;
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'Show what apply would change in the registry, stores and topics (changes nothing)',
  help: `Usage: tributary plan [options]

Loads the feature repository, validates it, and prints its difference from the registry's
current version: objects added, changed and removed, which changes break readers or stored
data (a feature's type, a view's entities or join keys, a removed feature or view), what
happens to offline tables, and which topics apply would create. Changes nothing.

Options:
${REGISTRY_OPTIONS_HELP}
  -h, --help                 show this help

Environment: DATABASE_URL (the registry), TRIBUTARY_REPO.

Examples:
  tributary plan
  tributary plan --repo ./my-features
  tributary plan --json | jq '.changes[] | select(.breaking | length > 0)'`,

  async run(argv) {
    const parsed = parseOptions('plan', argv, REGISTRY_OPTIONS);
    if ('error' in parsed) {
      console.error(parsed.error);
      return 2;
    }
    const { values } = parsed;
    let registry: PostgresRegistry | undefined;
    try {
      const config = loadConfig();
      const dir = values.repo ?? config.repoPath;
      const spec = await loadRepo(dir);
      registry = new PostgresRegistry({
        connectionString: config.databaseUrl,
        schema: registrySchema(values['registry-schema']),
      });
      const plan = await planRepo(registry, spec);
      if (values.json) console.log(JSON.stringify(plan, null, 2));
      else {
        const from = plan.from
          ? `version ${plan.from.version} (sha256 ${plan.from.hash.slice(0, 12)})`
          : 'empty';
        console.log(`Registry ${registry.schema}: ${from}`);
        console.log(`Repository ${displayPath(dir)}: sha256 ${plan.hash.slice(0, 12)}`);
        console.log('');
        for (const line of formatPlan(plan, displayPath(dir))) console.log(line);
      }
      return 0;
    } catch (error) {
      return reportError('plan', error);
    } finally {
      await registry?.close().catch(() => undefined);
    }
  },
};
