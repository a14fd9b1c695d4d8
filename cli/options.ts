/** Option parsing and error reporting every `tributary` command shares. */
import { parseArgs } from 'node:util';
import { isTributaryError } from '../shared/errors.ts';
import { DEFAULT_REGISTRY_SCHEMA } from '../shared/registry/postgres.ts';

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
export function parseOptions<T extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(
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
