/**
 * Entity rows from a CSV file, read the way `POST /get-historical-features` reads JSON columns:
 * each cell becomes the JSON value it would have been (a number, a string, a boolean or null),
 * and `entitiesFromColumns` (shared/retrieval/entities.ts) applies the very rules of the HTTP
 * path to them. So an `event_timestamp` column may mix ISO-8601 strings and epoch
 * milliseconds, as a JSON array may. One thing CSV says that JSON cannot: a pass-through column
 * whose values are all integers stays int64 (JSON has only numbers, which become float64).
 */
import { Int64, type Vector, vectorFromArray } from 'apache-arrow';
import type { ValueType } from '../../shared/definitions/types.ts';
import { isTributaryError, TributaryError } from '../../shared/errors.ts';
import { INT64_MAX, INT64_MIN } from '../../shared/events/int64.ts';
import type { ColumnLayout } from '../../shared/model/layout.ts';
import {
  ENTITY_TIMESTAMP_COLUMN,
  type EntityFrame,
  entitiesFromColumns,
} from '../../shared/retrieval/entities.ts';

/** One cell: its text, or null for an empty unquoted one (`""` is the empty string). */
type Cell = string | null;

export interface CsvTable {
  header: string[];
  /** Column-major cells, one array per header column. */
  columns: Cell[][];
  /** The 1-based line each data row starts on, for messages. */
  lines: number[];
}

function bad(message: string, details: Record<string, unknown> = {}): TributaryError {
  return new TributaryError('TRIB_BAD_REQUEST', message, { details });
}

/**
 * An RFC 4180 reader: comma-separated, fields optionally in double quotes (a quote inside doubled;
 * commas, CR and LF allowed inside), records ending in CRLF or LF; a leading byte-order mark is
 * skipped and blank lines are ignored. Every record must have as many fields as the header.
 */
export function parseCsv(text: string, file = 'the CSV file'): CsvTable {
  const records: { cells: Cell[]; line: number }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const cells: Cell[] = [];
    for (;;) {
      let text_ = '';
      let quoted = false;
      if (text[i] === '"') {
        quoted = true;
        i++;
        for (;;) {
          if (i >= n) throw bad(`${file} line ${start}: a quoted field is not closed`, { line: start });
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              text_ += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          text_ += c;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw bad(
            `${file} line ${line}: text after a closing quote (a quote inside a field is written "")`,
            {
              line,
            },
          );
        }
      } else {
        let end = i;
        while (end < n && text[end] !== ',' && text[end] !== '\n' && text[end] !== '\r') end++;
        // A quote inside an unquoted field (5'11") is kept as text, as most writers expect.
        text_ = text.slice(i, end);
        i = end;
      }
      cells.push(text_ === '' && !quoted ? null : text_);
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    const blank = cells.length === 1 && cells[0] === null;
    if (!blank) records.push({ cells, line: start });
  }
  const [head, ...rows] = records;
  if (!head) throw bad(`${file} is empty: it needs a header line naming the columns`);
  const header = head.cells.map((c) => c ?? '');
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) {
      throw bad(`${file} names the column '${name}' more than once: give each column a name of its own`, {
        column: name,
      });
    }
    seen.add(name);
  }
  const columns: Cell[][] = header.map(() => new Array(rows.length));
  rows.forEach((row, r) => {
    if (row.cells.length !== header.length) {
      throw bad(`${file} line ${row.line}: ${row.cells.length} fields, but the header has ${header.length}`, {
        line: row.line,
      });
    }
    row.cells.forEach((cell, c) => {
      columns[c]![r] = cell;
    });
  });
  return { header, columns, lines: rows.map((r) => r.line) };
}

/** What a JSON number may look like (RFC 8259), which the HTTP path would have read as one. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;
const INTEGER = /^-?(?:0|[1-9]\d*)$/;
const BOOLEAN: Record<string, boolean> = {
  true: true,
  false: false,
  TRUE: true,
  FALSE: false,
  True: true,
  False: false,
};

/** A cell as the JSON value a key column of `type` would have held. */
function keyValue(type: ValueType, cell: Cell): unknown {
  if (cell === null) return null;
  switch (type) {
    case 'string':
    case 'int64': // int64 keys are taken as decimal strings, exactly, beyond 2^53 too
      return cell;
    case 'float64':
    case 'timestamp': // epoch milliseconds as a number, anything else as the string it is (ISO-8601)
      return JSON_NUMBER.test(cell) ? Number(cell) : cell;
    case 'bool':
      return Object.hasOwn(BOOLEAN, cell) ? BOOLEAN[cell] : cell;
  }
}

function isInt64(cell: string): boolean {
  if (!INTEGER.test(cell) || cell.length > 20) return false;
  const v = BigInt(cell);
  return v >= INT64_MIN && v <= INT64_MAX;
}

/** A pass-through column: int64 when every value is an integer, else numbers, booleans or strings. */
function passThrough(cells: Cell[]): { int64: Vector } | { values: unknown[] } {
  const present = cells.filter((c): c is string => c !== null);
  if (present.length > 0 && present.every(isInt64)) {
    return {
      int64: vectorFromArray(
        cells.map((c) => (c === null ? null : BigInt(c))),
        new Int64(),
      ),
    };
  }
  if (present.length > 0 && present.every((c) => JSON_NUMBER.test(c))) {
    return { values: cells.map((c) => (c === null ? null : Number(c))) };
  }
  if (present.length > 0 && present.every((c) => Object.hasOwn(BOOLEAN, c))) {
    return { values: cells.map((c) => (c === null ? null : BOOLEAN[c])) };
  }
  return { values: cells };
}

/**
 * Entity rows from CSV text: join keys by their declared types, `event_timestamp` as ISO-8601 or
 * epoch milliseconds (mixed freely), other columns passed through. A refused value is the HTTP
 * path's TRIB_BAD_REQUEST, with the file's line added.
 */
export function entitiesFromCsv(
  text: string,
  joinKeys: readonly ColumnLayout[],
  file = 'the CSV file',
): EntityFrame {
  const table = parseCsv(text, file);
  // No prototype: a column named `__proto__` is a column like any other.
  const json: Record<string, unknown[]> = Object.create(null);
  const int64 = new Map<string, Vector>();
  table.header.forEach((name, c) => {
    const cells = table.columns[c]!;
    const key = joinKeys.find((k) => k.name === name);
    if (key) json[name] = cells.map((cell) => keyValue(key.type, cell));
    else if (name === ENTITY_TIMESTAMP_COLUMN) json[name] = cells.map((cell) => keyValue('timestamp', cell));
    else {
      const column = passThrough(cells);
      if ('int64' in column) int64.set(name, column.int64);
      else json[name] = column.values;
    }
  });
  let frame: EntityFrame;
  try {
    frame = entitiesFromColumns(json, joinKeys);
  } catch (error) {
    const row = isTributaryError(error) ? error.details['row'] : undefined;
    if (!isTributaryError(error) || typeof row !== 'number') throw error;
    const line = table.lines[row];
    throw new TributaryError(error.code, `${file} line ${line}: ${error.message}`, {
      details: { ...error.details, line },
      cause: error,
    });
  }
  // The header's order (a JSON object would put integer-like names first), int64 columns included.
  const byName = new Map(frame.columns.map((c) => [c.name, c.vector]));
  const columns = table.header.map((name) => ({ name, vector: int64.get(name) ?? byName.get(name)! }));
  return { ...frame, columns };
}
