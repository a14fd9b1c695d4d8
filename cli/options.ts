/** Option parsing and error reporting every `tributary` command shares. */
import { parseArgs } from 'node:util';
import { debugFromEnv, schemasFromEnv } from '../shared/config.ts';
import { isTributaryError, TributaryError } from '../shared/errors.ts';
import { DEFAULT_MONITOR_SCHEMA } from '../shared/monitoring/postgres.ts';
import { DEFAULT_REGISTRY_SCHEMA } from '../shared/registry/postgres.ts';

// Options several commands take: the parseArgs spec, the help line (descriptions start at
// column 30) and what the given value (or its absence) resolves to.

/** `--registry-schema`: every command that reads or writes the registry. */
export const REGISTRY_SCHEMA = {
  option: { 'registry-schema': { type: 'string' } },
  help: `  --registry-schema <name>   Postgres schema of the registry (default: TRIBUTARY_REGISTRY_SCHEMA, else ${DEFAULT_REGISTRY_SCHEMA})`,
  of: (value: string | undefined): string => registrySchema(value),
} as const;

/** `--offline-schema`: commands that use the offline store; `of` gives the store's `schema` option. */
export const OFFLINE_SCHEMA = {
  option: { 'offline-schema': { type: 'string' } },
  help: '  --offline-schema <name>    Postgres schema of the offline tables (default: tributary_offline)',
  of: (value: string | undefined): { schema?: string } => (value ? { schema: value } : {}),
} as const;

/** `--online-prefix`: commands that use the online store; `of` gives the store's `prefix` option. */
export const ONLINE_PREFIX = {
  option: { 'online-prefix': { type: 'string' } },
  help: '  --online-prefix <prefix>   Redis key prefix of the online store (default: trib)',
  of: (value: string | undefined): { prefix?: string } => (value ? { prefix: value } : {}),
} as const;

/**
 * The drift monitor's schema: `--monitor-schema` where a command reads it besides its own tables
 * (`monitor` and `profile`, whose own tables they are, call it `--schema`).
 */
export const MONITOR_SCHEMA = {
  option: { 'monitor-schema': { type: 'string' } },
  /** How it defaults, for a help line. */
  default: `(default: TRIBUTARY_MONITOR_SCHEMA, else ${DEFAULT_MONITOR_SCHEMA})`,
  of: (value: string | undefined): string => value || schemasFromEnv().monitor || DEFAULT_MONITOR_SCHEMA,
} as const;

/** Options `plan` and `apply` share. */
export const REGISTRY_OPTIONS = {
  repo: { type: 'string' },
  json: { type: 'boolean', default: false },
  ...REGISTRY_SCHEMA.option,
} as const;

export const REGISTRY_OPTIONS_HELP = `  --repo <dir>               feature repository folder (default: TRIBUTARY_REPO, else ./feature-defs)
  --json                     print a machine-readable result on stdout
${REGISTRY_SCHEMA.help}`;

type OptionSpecs = NonNullable<Parameters<typeof parseArgs>[0]>['options'];
type OptionValues<T extends OptionSpecs> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: false }>
>['values'];

/**
 * A command's `run`: parses argv against `options` (a usage error prints one line and exits 2),
 * then runs `body` with the parsed values.
 */
export function withOptions<T extends OptionSpecs>(
  command: string,
  options: T,
  body: (values: OptionValues<T>) => Promise<number>,
): (argv: string[]) => Promise<number> {
  return async (argv) => {
    const parsed = parseOptions(command, argv, options);
    if ('error' in parsed) {
      console.error(parsed.error);
      return 2;
    }
    return body(parsed.values);
  };
}

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
  if (debugFromEnv()) console.error(error);
  return 1;
}

/** How long a long-running command waits for a dependency to answer at start. */
export const STARTUP_CHECK_TIMEOUT_MS = 10_000;

/**
 * Makes sure each dependency answers before a long-running command starts working, each check
 * at once (no client retries) and within `timeoutMs`: a service that is down at start is a
 * one-line error naming the variable to check, not a process that retries for minutes or runs
 * on without it. Checks run in parallel; the first failure (in the order given) is thrown.
 */
export async function checkReachable(
  checks: readonly { name: string; variable: string; check: () => Promise<unknown> }[],
  timeoutMs = STARTUP_CHECK_TIMEOUT_MS,
): Promise<void> {
  const results = await Promise.all(
    checks.map(async ({ name, variable, check }) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new TributaryError(
                'TRIB_SERVICE_UNAVAILABLE',
                `${name} did not answer within ${timeoutMs / 1000} s`,
              ),
            ),
          timeoutMs,
        );
        timer.unref();
      });
      try {
        await Promise.race([check(), timeout]);
        return null;
      } catch (error) {
        const code = isTributaryError(error) ? error.code : 'TRIB_SERVICE_UNAVAILABLE';
        const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
        const hint = message.includes(variable) ? '' : `; check ${variable}`;
        return new TributaryError(code, `${name} at start: ${message}${hint}`, {
          cause: error,
          details: { variable },
        });
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failed = results.find((r) => r !== null);
  if (failed) throw failed;
}

/**
 * Closes what a failed start had opened, newest first, ignoring errors and giving up after
 * `withinMs`: the reason is printed already, and cli/main.ts ends the process shortly after
 * a failure whatever still hangs.
 */
export async function closeQuietly(
  closers: readonly (() => Promise<void>)[],
  withinMs = 2_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, withinMs);
  });
  const all = (async () => {
    for (const close of [...closers].reverse()) await close().catch(() => undefined);
  })();
  await Promise.race([all, deadline]);
  clearTimeout(timer);
}

export function registrySchema(option: string | undefined): string {
  return option || schemasFromEnv().registry || DEFAULT_REGISTRY_SCHEMA;
}
