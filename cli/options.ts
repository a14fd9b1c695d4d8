/** Option parsing and error reporting every `tributary` command shares. */
import { parseArgs } from 'node:util';
import { isTributaryError } from '../shared/errors.ts';
import { DEFAULT_MONITOR_SCHEMA } from '../shared/monitoring/postgres.ts';
import { DEFAULT_REGISTRY_SCHEMA } from '../shared/registry/postgres.ts';

// Options several commands take, each with its help line (descriptions start at column 30).

/** `--registry-schema`: every command that reads or writes the registry. */
export const REGISTRY_SCHEMA_OPTION = { 'registry-schema': { type: 'string' } } as const;
export const REGISTRY_SCHEMA_HELP = `  --registry-schema <name>   Postgres schema of the registry (default: TRIBUTARY_REGISTRY_SCHEMA, else ${DEFAULT_REGISTRY_SCHEMA})`;

/** `--offline-schema`: commands that use the offline store. */
export const OFFLINE_SCHEMA_OPTION = { 'offline-schema': { type: 'string' } } as const;
export const OFFLINE_SCHEMA_HELP =
  '  --offline-schema <name>    Postgres schema of the offline tables (default: tributary_offline)';

/** `--online-prefix`: commands that use the online store. */
export const ONLINE_PREFIX_OPTION = { 'online-prefix': { type: 'string' } } as const;
export const ONLINE_PREFIX_HELP =
  '  --online-prefix <prefix>   Redis key prefix of the online store (default: trib)';

/** `--monitor-schema`: commands that read the drift monitor's tables besides their own. */
export const MONITOR_SCHEMA_OPTION = { 'monitor-schema': { type: 'string' } } as const;
/** How a monitor schema option defaults, for its help line. */
export const MONITOR_SCHEMA_DEFAULT = `(default: TRIBUTARY_MONITOR_SCHEMA, else ${DEFAULT_MONITOR_SCHEMA})`;

/** Options `plan` and `apply` share. */
export const REGISTRY_OPTIONS = {
  repo: { type: 'string' },
  json: { type: 'boolean', default: false },
  ...REGISTRY_SCHEMA_OPTION,
} as const;

export const REGISTRY_OPTIONS_HELP = `  --repo <dir>               feature repository folder (default: TRIBUTARY_REPO, else ./feature-defs)
  --json                     print a machine-readable result on stdout
${REGISTRY_SCHEMA_HELP}`;

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

/** The drift monitor's schema: the option, else TRIBUTARY_MONITOR_SCHEMA, else the default. */
export function monitorSchema(option: string | undefined): string {
  return option || process.env['TRIBUTARY_MONITOR_SCHEMA'] || DEFAULT_MONITOR_SCHEMA;
}

/** The offline store's `schema` option from --offline-schema; the store's default without it. */
export function offlineSchemaOf(values: { 'offline-schema'?: string | undefined }): { schema?: string } {
  return values['offline-schema'] ? { schema: values['offline-schema'] } : {};
}

/** The online store's `prefix` option from --online-prefix; the store's default without it. */
export function onlinePrefixOf(values: { 'online-prefix'?: string | undefined }): { prefix?: string } {
  return values['online-prefix'] ? { prefix: values['online-prefix'] } : {};
}
