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

/**
 * What a configured schema (TRIBUTARY_*_SCHEMA, --schema) may be called: a plain identifier, so
 * it also reads as a NOTIFY channel (the registry's) and in logs without quoting surprises.
 */
const SCHEMA_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

/** A configured schema name as a quoted identifier; throws TRIB_CONFIG_INVALID for anything but [A-Za-z_][A-Za-z0-9_]{0,62}. */
export function quoteSchema(schema: string, what = 'schema'): string {
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new TributaryError(
      'TRIB_CONFIG_INVALID',
      `${what} name ${JSON.stringify(schema)} is invalid: expected a letter or _, then letters, digits or _, at most 63 in all`,
    );
  }
  return quoteIdent(schema);
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
