import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import cliProgress from 'cli-progress';
import { loadConfig } from '../../shared/config.ts';
import { TributaryError } from '../../shared/errors.ts';
import { DEFAULT_EXCLUDED_COLUMNS, ProfileBuilder } from '../../shared/profiles/builder.ts';
import { readColumnBatches } from '../../shared/profiles/input.ts';
import { PostgresProfileStore } from '../../shared/profiles/postgres.ts';
import type { ColumnProfile, ReferenceProfile } from '../../shared/profiles/types.ts';
import type { Command } from '../command.ts';
import { MONITOR_SCHEMA, reportError, withOptions } from '../options.ts';

const OPTIONS = {
  model: { type: 'string' },
  'model-version': { type: 'string' },
  input: { type: 'string' },
  'prediction-column': { type: 'string' },
  columns: { type: 'string' },
  exclude: { type: 'string' },
  categorical: { type: 'string' },
  'top-k': { type: 'string' },
  schema: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

/** Files at least this large get a progress bar. */
const PROGRESS_MIN_BYTES = 8 * 1024 * 1024;

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

export const profileCommand: Command = {
  name: 'profile',
  summary:
    "Build a model version's reference profile from training data (CSV or Arrow) for the drift monitor",
  help: `Usage: tributary profile --model <name> --model-version <version> --input <file> [options]

Reads training data — a CSV file with a header row, or an Arrow IPC file or stream such as a
historical-retrieval result — and stores a reference profile for the model version in Postgres:
per column its kind (numeric or categorical), counts, missing share, mean and std, decile bin
edges with their counts, a 1000-step quantile grid for KS and Wasserstein, and the top
categories. Raw rows are not stored. The file is streamed, never read whole; large files show
a progress bar. Columns named <view>__<feature> (full feature names) are profiled under the bare
feature name, as prediction events carry them. A profile for the same model version is replaced.

Options:
  --model <name>              model name, as prediction events carry it (required)
  --model-version <version>   model version (required)
  --input <file>              CSV or Arrow IPC file (format detected from the content) (required)
  --prediction-column <name>  the column holding the model's output (default: prediction)
  --columns <a,b,...>         profile only these columns
  --exclude <a,b,...>         skip these columns (default: ${DEFAULT_EXCLUDED_COLUMNS.join(', ')};
                              Arrow timestamp columns are always skipped)
  --categorical <a,b,...>     treat these columns as categorical even if every value is a number
  --top-k <n>                 categories kept per categorical column (default: 50)
  --schema <name>             Postgres schema ${MONITOR_SCHEMA.default}
  --dry-run                   build and print the profile summary, store nothing
  --json                      print the stored profile as JSON on stdout
  -h, --help                  show this help

Environment: DATABASE_URL, TRIBUTARY_MONITOR_SCHEMA, TRIBUTARY_DEBUG (set: a failure prints its stack).

Examples:
  tributary profile --model driver_model --model-version 3 --input training.csv
  tributary get-historical-features ... --output train.arrow
  tributary profile --model driver_model --model-version 3 --input train.arrow --exclude driver_id`,

  run: withOptions('profile', OPTIONS, async (values) => {
    for (const required of ['model', 'model-version', 'input'] as const) {
      if (!values[required]) {
        console.error(`tributary profile: --${required} is required. Run 'tributary profile --help'.`);
        return 2;
      }
    }
    try {
      const input = values.input!;
      const size = (
        await stat(input).catch((error: unknown) => {
          throw new TributaryError(
            'TRIB_PROFILE_INPUT_INVALID',
            `cannot read ${input}: ${(error as Error).message}`,
          );
        })
      ).size;
      const topK = values['top-k'] === undefined ? undefined : Number(values['top-k']);
      if (topK !== undefined && !(Number.isInteger(topK) && topK > 0)) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `--top-k ${values['top-k']}: expected a positive integer`,
        );
      }
      const include = list(values.columns);
      const exclude = list(values.exclude);
      const categorical = list(values.categorical);
      const builder = new ProfileBuilder({
        model: values.model!,
        modelVersion: values['model-version']!,
        source: basename(input),
        ...(values['prediction-column'] ? { predictionColumn: values['prediction-column'] } : {}),
        ...(include ? { include } : {}),
        ...(exclude ? { exclude } : {}),
        ...(categorical ? { categorical } : {}),
        ...(topK ? { topK } : {}),
      });
      const started = performance.now();
      const bar =
        size >= PROGRESS_MIN_BYTES && process.stderr.isTTY
          ? new cliProgress.SingleBar(
              {
                format:
                  'profiling |{bar}| {percentage}% | {value}/{total} MiB | {rows} rows | eta {eta_formatted}',
                stream: process.stderr,
                hideCursor: true,
              },
              cliProgress.Presets.shades_classic,
            )
          : null;
      const mib = (bytes: number) => Math.round(bytes / 1024 / 102.4) / 10;
      bar?.start(mib(size), 0, { rows: 0 });
      for await (const batch of readColumnBatches(input, {
        onProgress: (read) => bar?.update(mib(read), { rows: builder.rowCount }),
      })) {
        builder.add(batch);
      }
      bar?.update(mib(size), { rows: builder.rowCount });
      bar?.stop();
      const profile = builder.finish();
      const seconds = (performance.now() - started) / 1000;
      if (!values['dry-run']) {
        const config = loadConfig();
        const store = new PostgresProfileStore(config.databaseUrl, MONITOR_SCHEMA.of(values.schema));
        try {
          await store.ensureSchema();
          await store.put(profile);
        } finally {
          await store.close();
        }
      }
      if (values.json) console.log(JSON.stringify(profile));
      else console.log(summary(profile, seconds, Boolean(values['dry-run'])));
      return 0;
    } catch (error) {
      return reportError('profile', error);
    }
  }),
};

function describeColumn(c: ColumnProfile): string {
  const missing = `${(c.missingShare * 100).toFixed(1)}% missing`;
  if (c.kind === 'numeric') {
    const f = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(4)) : '–');
    return `numeric      ${missing.padEnd(14)} mean ${f(c.mean)}  std ${f(c.std)}  range [${f(c.min)}, ${f(c.max)}]`;
  }
  const top = c.categories
    .slice(0, 3)
    .map((k) => `${k.value} ${((k.count / Math.max(1, c.count)) * 100).toFixed(0)}%`)
    .join(', ');
  return `categorical  ${missing.padEnd(14)} ${c.distinct}${c.distinctCapped ? '+' : ''} values: ${top}${c.categories.length > 3 ? ', …' : ''}`;
}

function summary(profile: ReferenceProfile, seconds: number, dryRun: boolean): string {
  const width = Math.max(...profile.columns.map((c) => c.name.length));
  return [
    `${dryRun ? 'Built (not stored)' : 'Stored'} the profile of ${profile.model} version ${profile.modelVersion}: ${profile.rows.toLocaleString('en-US')} rows, ${profile.columns.length} columns, in ${seconds.toFixed(1)} s`,
    ...profile.columns.map((c) => `  ${c.name.padEnd(width)}  ${describeColumn(c)}`),
  ].join('\n');
}
