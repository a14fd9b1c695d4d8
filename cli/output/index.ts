/**
 * Where `tributary get-historical-features` writes a training set, by the output file's
 * extension. Each format is written batch by batch as retrieval delivers them, into a temporary
 * file beside the target that is renamed over it only once complete: a failed or interrupted
 * run leaves no file that a reader could take for a whole training set (a CSV cut short, in
 * particular, would read as a valid smaller one).
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RecordBatch, Schema } from 'apache-arrow';
import { arrowIpcStream } from '../../shared/retrieval/ipc.ts';
import { arrowIpcFile } from './arrow-file.ts';
import { checkCsvSchema, csvFile } from './csv.ts';
import { parquetFile } from './parquet.ts';

export type OutputFormat = 'arrow' | 'arrows' | 'parquet' | 'csv';

/** Extensions and the formats they select; `--help` lists them from here. */
export const OUTPUT_EXTENSIONS: readonly { extension: string; format: OutputFormat; what: string }[] = [
  { extension: '.arrow', format: 'arrow', what: 'Arrow IPC file (Feather v2)' },
  { extension: '.feather', format: 'arrow', what: 'Arrow IPC file (Feather v2)' },
  { extension: '.arrows', format: 'arrows', what: 'Arrow IPC stream' },
  { extension: '.parquet', format: 'parquet', what: 'Parquet (Snappy)' },
  { extension: '.csv', format: 'csv', what: 'CSV (RFC 4180, ISO-8601 UTC timestamps, null = empty field)' },
];

/** The format an output path's extension selects (case-insensitive), or undefined. */
export function outputFormatOf(path: string): OutputFormat | undefined {
  const lower = path.toLowerCase();
  return OUTPUT_EXTENSIONS.find((e) => lower.endsWith(e.extension))?.format;
}

/** Throws, before any query runs, when the format cannot hold a column of `schema`. */
export function checkOutputSchema(format: OutputFormat, schema: Schema): void {
  if (format === 'csv') checkCsvSchema(schema);
}

function encode(
  format: OutputFormat,
  schema: Schema,
  batches: AsyncIterable<RecordBatch>,
): AsyncIterable<Uint8Array | string> {
  switch (format) {
    case 'arrow':
      return arrowIpcFile(schema, batches);
    case 'arrows':
      return arrowIpcStream(schema, batches);
    case 'parquet':
      return parquetFile(schema, batches);
    case 'csv':
      return csvFile(schema, batches);
  }
}

/** Writes batches of `schema` to `path` in `format`, whole or not at all. */
export async function writeTrainingSet(
  path: string,
  format: OutputFormat,
  schema: Schema,
  batches: AsyncIterable<RecordBatch>,
): Promise<void> {
  const partial = join(dirname(path), `.${basename(path)}.${process.pid}.partial`);
  try {
    const file = createWriteStream(partial, { flags: 'wx' });
    await once(file, 'open');
    await pipeline(Readable.from(encode(format, schema, batches), { objectMode: false }), file);
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
