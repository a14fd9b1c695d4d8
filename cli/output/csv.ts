/**
 * CSV output (RFC 4180): a header, then one record per row, CRLF line ends; a field holding a
 * comma, a quote, CR or LF is quoted, with quotes doubled. A null is an empty field and an empty
 * string is `""`, so the two stay apart (the CSV reader in `cli/input/csv.ts` reads them back so).
 * Timestamps are ISO-8601 in UTC with `Z`, with as many fraction digits as they need (none, 3, 6
 * or 9); int64 values are written exactly, floats as JavaScript's shortest round-trip form.
 */
import {
  type DataType,
  DataType as DT,
  type RecordBatch,
  type Schema,
  TimeUnit,
  type Vector,
} from 'apache-arrow';
import { TributaryError } from '../../shared/errors.ts';

const NEEDS_QUOTES = /[",\r\n]/;

function quote(s: string): string {
  if (s === '') return '""';
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const NANOS_PER_UNIT: Record<TimeUnit, bigint> = {
  [TimeUnit.SECOND]: 1_000_000_000n,
  [TimeUnit.MILLISECOND]: 1_000_000n,
  [TimeUnit.MICROSECOND]: 1000n,
  [TimeUnit.NANOSECOND]: 1n,
};

/** An instant as `YYYY-MM-DDTHH:MM:SS[.fff[fff[fff]]]Z`. */
export function isoOfNanos(nanos: bigint): string {
  let seconds = nanos / 1_000_000_000n;
  let fraction = nanos % 1_000_000_000n;
  if (fraction < 0n) {
    fraction += 1_000_000_000n;
    seconds -= 1n;
  }
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  if (fraction === 0n) return `${base}Z`;
  let digits = fraction.toString().padStart(9, '0');
  while (digits.endsWith('000')) digits = digits.slice(0, -3);
  return `${base}.${digits}Z`;
}

function formatNumber(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'inf' : '-inf';
}

type Format = (vector: Vector, out: string[]) => void;

/** Fills `out[i]` with row i's field, or '' for null. */
function formatterOf(type: DataType): Format | undefined {
  if (DT.isTimestamp(type)) {
    const scale = NANOS_PER_UNIT[type.unit as TimeUnit];
    return (vector, out) => {
      let at = 0;
      for (const data of vector.data) {
        const values = data.values as unknown as BigInt64Array;
        for (let i = 0; i < data.length; i++) {
          out[at + i] = data.getValid(i) ? isoOfNanos(values[i]! * scale) : '';
        }
        at += data.length;
      }
    };
  }
  if (DT.isDate(type)) {
    return (vector, out) => {
      for (let i = 0; i < vector.length; i++) {
        const v = vector.get(i) as Date | number | null;
        out[i] = v === null ? '' : new Date(v).toISOString().slice(0, 10);
      }
    };
  }
  const each = (format: (v: never) => string): Format => {
    return (vector, out) => {
      for (let i = 0; i < vector.length; i++) {
        const v = vector.get(i);
        out[i] = v === null || v === undefined ? '' : format(v as never);
      }
    };
  };
  if (DT.isInt(type)) return each((v: number | bigint) => String(v));
  if (DT.isFloat(type)) return each(formatNumber);
  if (DT.isBool(type)) return each((v: boolean) => (v ? 'true' : 'false'));
  if (DT.isUtf8(type) || DT.isLargeUtf8(type)) return each(quote);
  // Dictionary-encoded columns (pandas categoricals in an Arrow entity file) read as their values.
  if (DT.isDictionary(type)) {
    const values = type.dictionary;
    if (DT.isUtf8(values) || DT.isLargeUtf8(values)) return each(quote);
    if (DT.isInt(values)) return each((v: number | bigint) => String(v));
    if (DT.isFloat(values)) return each(formatNumber);
    return undefined;
  }
  return undefined;
}

function formattersOf(schema: Schema): Format[] {
  const formats: Format[] = [];
  const refused: string[] = [];
  for (const field of schema.fields) {
    const format = formatterOf(field.type as DataType);
    if (format) formats.push(format);
    else refused.push(`'${field.name}' (${String(field.type)})`);
  }
  if (refused.length > 0) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `CSV cannot hold the column(s) ${refused.join(', ')}: write .arrow or .parquet instead`,
      { details: { columns: refused } },
    );
  }
  return formats;
}

/** Checks that every column of `schema` can be written as CSV; throws TRIB_BAD_REQUEST naming those that cannot. */
export function checkCsvSchema(schema: Schema): void {
  formattersOf(schema);
}

/** Encodes batches of `schema` as CSV text, a batch at a time. */
export async function* csvFile(schema: Schema, batches: AsyncIterable<RecordBatch>): AsyncGenerator<string> {
  const formats = formattersOf(schema);
  yield `${schema.fields.map((f) => quote(f.name)).join(',')}\r\n`;
  for await (const batch of batches) {
    const n = batch.numRows;
    const columns = formats.map((format, c) => {
      const out: string[] = new Array(n);
      format(batch.getChildAt(c)!, out);
      return out;
    });
    const lines: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      let line = columns[0]![i]!;
      for (let c = 1; c < columns.length; c++) line += `,${columns[c]![i]}`;
      lines[i] = line;
    }
    if (n > 0) yield `${lines.join('\r\n')}\r\n`;
  }
}
