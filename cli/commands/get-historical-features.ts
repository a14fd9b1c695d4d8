import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tableFromIPC } from 'apache-arrow';
import { SingleBar } from 'cli-progress';
import { loadConfig } from '../../shared/config.ts';
import { TributaryError } from '../../shared/errors.ts';
import { createPool } from '../../shared/postgres/index.ts';
import { openRegistryWatcher } from '../../shared/registry/live.ts';
import { type EntityFrame, entitiesFromArrow, entitiesFromColumns } from '../../shared/retrieval/entities.ts';
import { historicalBatches, historicalSchema } from '../../shared/retrieval/historical.ts';
import { arrowIpcStream } from '../../shared/retrieval/ipc.ts';
import { planRetrieval } from '../../shared/retrieval/plan.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import type { Command } from '../command.ts';
import { OFFLINE_SCHEMA, REGISTRY_SCHEMA, reportError, withOptions } from '../options.ts';

const OPTIONS = {
  entities: { type: 'string' },
  features: { type: 'string', multiple: true },
  'feature-service': { type: 'string' },
  'full-feature-names': { type: 'boolean', default: false },
  output: { type: 'string' },
  ...REGISTRY_SCHEMA.option,
  ...OFFLINE_SCHEMA.option,
} as const;

/** A small RFC 4180 reader: quoted fields, doubled quotes, CRLF. */
export function parseCsv(text: string): Record<string, string[]> {
  const rows: string[][] = [];
  let field = '';
  let row: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  const [header, ...data] = rows;
  if (!header) throw new TributaryError('TRIB_BAD_REQUEST', 'the CSV file is empty');
  const columns: Record<string, string[]> = {};
  header.forEach((name, c) => {
    columns[name] = data.map((r) => r[c] ?? '');
  });
  return columns;
}

const NUMBER = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

export const getHistoricalFeaturesCommand: Command = {
  name: 'get-historical-features',
  summary: 'Write a point-in-time correct training set to an Arrow file',
  help: `Usage: tributary get-historical-features --entities FILE (--features REF... | --feature-service NAME) --output FILE.arrow

Reads entity rows (a CSV with a header, or an Arrow IPC stream/file) holding the join keys and
event_timestamp (ISO-8601 or epoch milliseconds) plus any other columns, which are kept; for each row
takes every feature's value as of that time (ttl respected, ties to the latest 'created'); writes an
Arrow IPC stream in input order, showing progress.

Options:
  --entities <file>          entity rows: .csv, or .arrow/.arrows/.ipc
  --features <view:feature>  a feature reference; repeat, or comma-separate
  --feature-service <name>   a feature service instead of --features
  --full-feature-names       name columns view__feature
  --output <file>            where to write the Arrow IPC stream
${REGISTRY_SCHEMA.help}
${OFFLINE_SCHEMA.help}

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
        const raw = parseCsv(bytes.toString('utf8'));
        const columns: Record<string, unknown[]> = {};
        for (const [name, column] of Object.entries(raw)) {
          const key = plan.joinKeys.find((k) => k.name === name);
          const numeric = column.every((v) => NUMBER.test(v));
          columns[name] =
            key?.type === 'string' || !numeric
              ? column.map((v) => (v === '' ? null : v))
              : column.map((v) => (key?.type === 'int64' ? v : Number(v)));
        }
        entities = entitiesFromColumns(columns, plan.joinKeys);
      } else {
        entities = entitiesFromArrow(tableFromIPC(bytes), plan.joinKeys);
      }
      const reader = new PostgresOfflineStore({ pool, ...OFFLINE_SCHEMA.of(values['offline-schema']) });
      bar.start(entities.length, 0);
      const batches = historicalBatches(reader, plan, entities, { onProgress: (n) => bar.update(n) });
      await pipeline(
        Readable.from(arrowIpcStream(historicalSchema(plan, entities), batches)),
        createWriteStream(values.output),
      );
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
