/**
 * Training-data readers for profiling: a CSV file or an Arrow IPC file/stream (what historical
 * retrieval returns), read as column batches so that neither is ever held whole in memory.
 */

import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { DataType, type RecordBatch, RecordBatchReader, type Vector } from 'apache-arrow';
import { TributaryError } from '../errors.ts';

/** A raw cell: CSV gives strings; Arrow gives numbers, bigints, booleans, strings, dates or null. */
export type RawValue = string | number | bigint | boolean | Date | null | undefined;

/** A run of rows, column by column. `columns[i]` belongs to `names[i]`. */
export interface ColumnBatch {
  names: readonly string[];
  /** Per column, its values for this batch; a typed array when the column has no nulls. */
  columns: readonly ArrayLike<RawValue>[];
  /** Declared column types, when the input carries them (Arrow); absent for CSV. */
  types?: readonly ('numeric' | 'categorical' | 'timestamp')[];
  rows: number;
}

export interface ReadOptions {
  /** Called with bytes consumed so far and the total size. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
  /** Rows per batch; default 8192. */
  batchRows?: number;
}

export type InputFormat = 'csv' | 'arrow';

const ARROW_MAGIC = 'ARROW1';

/** Detects the format by content: Arrow IPC files start with ARROW1, streams with a continuation marker. */
export async function detectFormat(path: string): Promise<InputFormat> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw new TributaryError(
      'TRIB_PROFILE_INPUT_INVALID',
      `cannot open ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  });
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, 8, 0);
    if (bytesRead >= 6 && head.subarray(0, 6).toString('latin1') === ARROW_MAGIC) return 'arrow';
    // IPC stream: 0xFFFFFFFF continuation marker, then a metadata length.
    if (bytesRead >= 4 && head.readUInt32LE(0) === 0xffffffff) return 'arrow';
    return 'csv';
  } finally {
    await handle.close();
  }
}

/** Reads a CSV or Arrow IPC file as column batches (format detected from the content). */
export async function* readColumnBatches(
  path: string,
  options: ReadOptions = {},
): AsyncGenerator<ColumnBatch> {
  const format = await detectFormat(path);
  if (format === 'arrow') yield* readArrow(path, options);
  else yield* readCsv(path, options);
}

// ---- CSV ----------------------------------------------------------------------------------

/**
 * Streams an RFC 4180 CSV file (header row, comma separator, double-quote quoting, CRLF or LF)
 * in column batches. Lines without quotes take a fast split; quoted fields may hold commas,
 * doubled quotes and newlines.
 */
export async function* readCsv(path: string, options: ReadOptions = {}): AsyncGenerator<ColumnBatch> {
  const batchRows = options.batchRows ?? 8192;
  const total = (await stat(path)).size;
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let bytesRead = 0;
  let carry = '';
  let header: string[] | null = null;
  let columns: string[][] = [];
  let rows = 0;
  let lineNumber = 0;
  let pending = ''; // a record whose quoted field spans lines

  const flush = (): ColumnBatch => {
    const batch: ColumnBatch = { names: header!, columns, rows };
    columns = header!.map(() => []);
    rows = 0;
    return batch;
  };

  const takeRecord = (fields: string[]) => {
    if (header === null) {
      header = fields.map((f) => f.trim());
      if (header.length === 0 || header.every((h) => h === '')) {
        throw new TributaryError('TRIB_PROFILE_INPUT_INVALID', `${path}: the CSV header row is empty`);
      }
      if (header[0]!.charCodeAt(0) === 0xfeff) header[0] = header[0]!.slice(1);
      columns = header.map(() => []);
      return;
    }
    if (fields.length === 1 && fields[0] === '') return; // blank line
    if (fields.length !== header.length) {
      throw new TributaryError(
        'TRIB_PROFILE_INPUT_INVALID',
        `${path}: line ${lineNumber} has ${fields.length} fields, the header has ${header.length}`,
        { details: { line: lineNumber } },
      );
    }
    for (let i = 0; i < fields.length; i++) columns[i]!.push(fields[i]!);
    rows++;
  };

  const takeLine = (line: string): void => {
    lineNumber++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (pending !== '') {
      line = `${pending}\n${line}`;
      pending = '';
    }
    if (line.indexOf('"') === -1) {
      takeRecord(line.split(','));
      return;
    }
    const fields = parseQuoted(line);
    if (fields === null)
      pending = line; // an open quote: the record continues on the next line
    else takeRecord(fields);
  };

  for await (const chunk of stream as AsyncIterable<string>) {
    bytesRead = stream.bytesRead;
    let text = carry + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      takeLine(text.slice(start, nl));
      start = nl + 1;
      if (rows >= batchRows) yield flush();
    }
    carry = text.slice(start);
    text = '';
    options.onProgress?.(bytesRead, total);
  }
  if (carry !== '') takeLine(carry);
  if (pending !== '') {
    throw new TributaryError(
      'TRIB_PROFILE_INPUT_INVALID',
      `${path}: a quoted field is not closed at the end of the file`,
    );
  }
  if (header === null) throw new TributaryError('TRIB_PROFILE_INPUT_INVALID', `${path}: the file is empty`);
  if (rows > 0) yield flush();
  options.onProgress?.(total, total);
}

/** Splits one CSV record with quotes; null when a quoted field is still open at the end. */
export function parseQuoted(line: string): string[] | null {
  const fields: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < line.length) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
    i++;
  }
  if (quoted) return null;
  fields.push(field);
  return fields;
}

// ---- Arrow --------------------------------------------------------------------------------

function kindOfArrowType(type: DataType): 'numeric' | 'categorical' | 'timestamp' {
  if (DataType.isInt(type) || DataType.isFloat(type) || DataType.isDecimal(type)) return 'numeric';
  if (DataType.isTimestamp(type) || DataType.isDate(type) || DataType.isTime(type)) return 'timestamp';
  if (DataType.isDuration(type) || DataType.isInterval(type)) return 'timestamp';
  return 'categorical';
}

function valuesOf(vector: Vector): ArrayLike<RawValue> {
  // Typed arrays are the fast path; nulls need the validity bitmap, so go value by value.
  if (vector.nullCount === 0) {
    const array = vector.toArray() as ArrayLike<RawValue>;
    if (ArrayBuffer.isView(array) || Array.isArray(array)) return array;
  }
  const out = new Array<RawValue>(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector.get(i) as RawValue;
  return out;
}

/** Reads an Arrow IPC file or stream, one column batch per record batch. */
export async function* readArrow(path: string, options: ReadOptions = {}): AsyncGenerator<ColumnBatch> {
  const total = (await stat(path)).size;
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let reader: Awaited<ReturnType<typeof RecordBatchReader.from>>;
  try {
    reader = await RecordBatchReader.from(stream);
  } catch (error) {
    stream.destroy();
    throw new TributaryError(
      'TRIB_PROFILE_INPUT_INVALID',
      `${path}: not a readable Arrow IPC file: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  for await (const batch of reader as AsyncIterable<RecordBatch>) {
    const fields = batch.schema.fields;
    const names = fields.map((f) => f.name);
    const types = fields.map((f) => kindOfArrowType(f.type));
    const columns = fields.map((_, i) => valuesOf(batch.getChildAt(i)!));
    yield { names, columns, types, rows: batch.numRows };
    options.onProgress?.(stream.bytesRead, total);
  }
  options.onProgress?.(total, total);
}
