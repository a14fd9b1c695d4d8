import { readFile } from 'node:fs/promises';
import { type Table, tableFromIPC } from 'apache-arrow';
import { SingleBar } from 'cli-progress';
import { loadConfig } from '../../shared/config.ts';
import { TributaryError } from '../../shared/errors.ts';
import { createPool } from '../../shared/postgres/index.ts';
import { openRegistryWatcher } from '../../shared/registry/live.ts';
import { type EntityFrame, entitiesFromArrow } from '../../shared/retrieval/entities.ts';
import { historicalBatches, historicalSchema } from '../../shared/retrieval/historical.ts';
import { planRetrieval } from '../../shared/retrieval/plan.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import type { Command } from '../command.ts';
import { entitiesFromCsv } from '../input/csv.ts';
import { OFFLINE_SCHEMA, REGISTRY_SCHEMA, reportError, withOptions } from '../options.ts';
import { checkOutputSchema, OUTPUT_EXTENSIONS, outputFormatOf, writeTrainingSet } from '../output/index.ts';

const OPTIONS = {
  entities: { type: 'string' },
  features: { type: 'string', multiple: true },
  'feature-service': { type: 'string' },
  'full-feature-names': { type: 'boolean', default: false },
  output: { type: 'string' },
  ...REGISTRY_SCHEMA.option,
  ...OFFLINE_SCHEMA.option,
} as const;

function readArrow(bytes: Buffer, file: string): Table {
  try {
    return tableFromIPC(bytes);
  } catch (error) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `${file} is not an Arrow IPC file or stream (entity rows are .csv, or Arrow): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

export const getHistoricalFeaturesCommand: Command = {
  name: 'get-historical-features',
  summary: 'Write a point-in-time correct training set to an Arrow, Parquet or CSV file',
  help: `Usage: tributary get-historical-features --entities FILE (--features REF... | --feature-service NAME) --output FILE

Reads entity rows (a CSV with a header, or an Arrow IPC stream/file) holding the join keys and
event_timestamp (ISO-8601 or epoch milliseconds, mixed freely in a CSV column) plus any other columns,
which are kept (a CSV column of integers as int64); for each row takes every feature's value as of
that time (ttl respected, ties to the latest 'created'); writes the rows in input order, in the format
the output's extension names, showing progress.

Options:
  --entities <file>          entity rows: .csv, or .arrow/.arrows/.ipc
  --features <view:feature>  a feature reference; repeat, or comma-separate
  --feature-service <name>   a feature service instead of --features
  --full-feature-names       name columns view__feature
  --output <file>            where to write the training set; its extension picks the format:
${OUTPUT_EXTENSIONS.map((e) => `                               ${e.extension.padEnd(9)} ${e.what}`).join('\n')}
${REGISTRY_SCHEMA.help}
${OFFLINE_SCHEMA.help}

Environment: DATABASE_URL, TRIBUTARY_REGISTRY_SCHEMA, TRIBUTARY_PG_POOL_MAX (Postgres connections,
default 10), TRIBUTARY_DEBUG (set: a failure prints its stack).

Example:
  tributary get-historical-features --entities entities.csv \\
    --features driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate --output training.arrow`,
  run: withOptions('get-historical-features', OPTIONS, async (values) => {
    if (!values.entities || !values.output) {
      console.error(
        "tributary get-historical-features: --entities and --output are required. Run 'tributary get-historical-features --help'.",
      );
      return 2;
    }
    const format = outputFormatOf(values.output);
    if (format === undefined) {
      console.error(
        `tributary get-historical-features: --output must end in ${OUTPUT_EXTENSIONS.map((e) => e.extension).join(', ')} (it names the format). Run 'tributary get-historical-features --help'.`,
      );
      return 2;
    }
    const config = loadConfig();
    // One pool for the process: the registry read and the retrieval's connections.
    const pool = createPool({
      connectionString: config.databaseUrl,
      max: config.pgPoolMax,
      applicationName: 'tributary-get-historical-features',
    });
    const definitions = await openRegistryWatcher({
      databaseUrl: config.databaseUrl,
      pool,
      schema: REGISTRY_SCHEMA.of(values['registry-schema']),
    }).catch((error) => error as Error);
    if (definitions instanceof Error) {
      await pool.end();
      return reportError('get-historical-features', definitions);
    }
    const bar = new SingleBar({
      format: 'retrieving |{bar}| {percentage}% {value}/{total} rows, {duration_formatted}',
      hideCursor: true,
    });
    try {
      const plan = planRetrieval(
        definitions.current(),
        {
          features: values.features?.flatMap((f) => f.split(',')).filter((f) => f.length > 0),
          featureService: values['feature-service'],
          fullFeatureNames: values['full-feature-names'],
        },
        'offline',
      );
      const bytes = await readFile(values.entities);
      let entities: EntityFrame;
      if (values.entities.toLowerCase().endsWith('.csv')) {
        entities = entitiesFromCsv(bytes.toString('utf8'), plan.joinKeys, values.entities);
      } else {
        entities = entitiesFromArrow(readArrow(bytes, values.entities), plan.joinKeys);
      }
      // Refused before any query: entity columns named like features, columns CSV cannot hold.
      const schema = historicalSchema(plan, entities);
      checkOutputSchema(format, schema);
      const reader = new PostgresOfflineStore({ pool, ...OFFLINE_SCHEMA.of(values['offline-schema']) });
      bar.start(entities.length, 0);
      const batches = historicalBatches(reader, plan, entities, { onProgress: (n) => bar.update(n) });
      await writeTrainingSet(values.output, format, schema, batches);
      bar.stop();
      console.log(`wrote ${entities.length} rows to ${values.output}`);
      return 0;
    } catch (error) {
      bar.stop();
      return reportError('get-historical-features', error);
    } finally {
      await definitions.close();
      await pool.end();
    }
  }),
};
