/**
 * SQL text helpers every Postgres adapter shares: identifiers, the type map, the default schema
 * of the offline tables, and `.sql` files with their one placeholder, `{{schema}}`.
 */
import { readFileSync } from 'node:fs';
import type { ValueType } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';

/** Postgres keeps identifiers to 63 bytes and silently truncates longer ones. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Where the offline store's tables live unless configured otherwise. */
export const DEFAULT_OFFLINE_SCHEMA = 'tributary_offline';

/**
 * Each value type's Postgres type, as `information_schema.columns.data_type` names it (so a
 * table's columns can be compared with it) and as casts and DDL use it.
 */
export const PG_TYPES: Record<ValueType, string> = {
  int64: 'bigint',
  float64: 'double precision',
  string: 'text',
  bool: 'boolean',
  timestamp: 'timestamp with time zone',
};

/** `"name"`, with embedded quotes doubled; throws when Postgres would truncate the name. */
export function quoteIdent(name: string): string {
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES || name.length === 0) {
    throw new TributaryError(
      'TRIB_DEFINITION_INVALID',
      `'${name}' cannot name a Postgres table or column: 1 to ${MAX_IDENTIFIER_BYTES} bytes`,
      { details: { field: name } },
    );
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** A string literal, as node-postgres's escapeLiteral writes it (E'' when it holds backslashes). */
export function quoteLiteral(value: string): string {
  const quoted = `'${value.replace(/'/g, "''").replace(/\\/g, '\\\\')}'`;
  return value.includes('\\') ? `E${quoted}` : quoted;
}

/** `"schema"."table"`. */
export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/**
 * Reads a `.sql` file (a URL next to the adapter, `new URL('./x.sql', import.meta.url)`) and
 * puts the quoted schema in place of every `{{schema}}`, the one placeholder SQL files use.
 * Values are never placed in the text: they are `$n` parameters.
 */
export function loadSql(file: URL, options: { schema: string }): string {
  return readFileSync(file, 'utf8').replaceAll('{{schema}}', quoteIdent(options.schema));
}
