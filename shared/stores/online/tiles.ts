/**
 * How the Redis adapter keeps a stream feature view's tiles (docs/online-store.md, "Stream
 * feature views"): one hash per (view, entity), with
 *
 * - `t:<start>:<fn>:<r>:<column>`: the encoded state (shared/aggregations `encodeState`, as JSON)
 *   of the tile `(start, start + r]` of one *tile group*. Aggregations with the same function,
 *   resolution and column share a group, so `sum` over 1h and over 1d at 1m keep one set of tiles;
 * - `v`: a version, bumped by every write, which `write_tiles.lua` compares before it writes
 *   (compare and set: the states are computed here, in the same code historical retrieval and the
 *   reference use, never re-implemented in Lua);
 * - `o:<partition>`: the highest source offset already applied from that partition. Events at or
 *   below it are skipped, so a batch redelivered after a crash counts nothing twice;
 * - `e`: `<eventTs>:<created>` of the latest event applied (the record's event timestamp);
 * - `x`: when the last live tile leaves every window; the hash expires then (PEXPIREAT);
 * - `c`: when dead tiles were last deleted (at most once a minute: `CLEANUP_EVERY_MS`).
 *
 * This module is pure: the adapter (redis.ts) does the round trips.
 */

import {
  type AggregateValue,
  type AggregationState,
  addValue,
  decodeState,
  emptyState,
  encodeState,
  finalize,
  merge,
  tileExpiresAt,
  tileStart,
  windowTiles,
} from '../../aggregations/index.ts';
import type { AggregationSpec } from '../../definitions/types.ts';
import type { ViewLayout } from '../../model/layout.ts';
import type { FeatureRow } from '../../model/row.ts';

/** Tiles of one function, resolution and column, shared by every aggregation that reads them. */
export interface TileGroup {
  /** `<fn>:<r>:<column>`, the suffix of its tile fields. */
  id: string;
  fn: AggregationSpec['function'];
  resolutionMs: number;
  /** Index of the column in the view's `features` (the order of `FeatureRow.values`). */
  columnIndex: number;
  /** The longest window reading the group: its tiles live that long. */
  windowMs: number;
}

/** A view's tile groups, and the group of each aggregation (in `layout.aggregations` order). */
export interface TileLayout {
  groups: TileGroup[];
  groupOf: number[];
}

export const VERSION_FIELD = 'v';
export const LATEST_FIELD = 'e';
export const EXPIRY_FIELD = 'x';
/** When the script last deleted dead tiles of the hash (epoch ms). */
export const CLEANED_FIELD = 'c';
const TILE_PREFIX = 't:';

/** The field that guards a partition's offsets. */
export function offsetField(partition: number): string {
  return `o:${partition}`;
}

export function tileField(start: number, group: TileGroup): string {
  return `${TILE_PREFIX}${start}:${group.id}`;
}

const layouts = new WeakMap<ViewLayout, TileLayout>();

/** The tile groups of a stream view's layout (cached per layout object). */
export function tileLayoutOf(view: ViewLayout): TileLayout {
  let layout = layouts.get(view);
  if (layout) return layout;
  const groups: TileGroup[] = [];
  const groupOf = (view.aggregations ?? []).map((a) => {
    const id = `${a.function}:${a.resolutionMs}:${a.column}`;
    let g = groups.findIndex((group) => group.id === id);
    if (g < 0) {
      const columnIndex = view.features.findIndex((f) => f.name === a.column);
      if (columnIndex < 0) throw new Error(`aggregation '${a.name}' reads unknown column '${a.column}'`);
      g = groups.push({ id, fn: a.function, resolutionMs: a.resolutionMs, columnIndex, windowMs: 0 }) - 1;
    }
    groups[g]!.windowMs = Math.max(groups[g]!.windowMs, a.windowMs);
    return g;
  });
  layout = { groups, groupOf };
  layouts.set(view, layout);
  return layout;
}

/** Fields to delete: tiles past every window, by group id, as `write_tiles.lua` takes them. */
export function cutoffsOf(tiles: TileLayout, now: number): string[] {
  const args: string[] = [String(tiles.groups.length)];
  // A tile (s, s + r] is in no window from s + W + r on: delete it once s ≤ now − W − r.
  for (const g of tiles.groups) args.push(g.id, String(now - g.windowMs - g.resolutionMs));
  return args;
}

/**
 * Dead tiles are looked for at most this often per entity: the look reads every field name of
 * the hash in Redis, which costs more than the write itself when done on every new tile. A tile
 * outlives its last window by at most this, plus the time to the entity's next write.
 */
export const CLEANUP_EVERY_MS = 60_000;

/** The fields a write reads for one entity, and where each tile and guard is among them. */
export interface TileRead {
  /** VERSION_FIELD, LATEST_FIELD, EXPIRY_FIELD, CLEANED_FIELD, then guards and tiles. */
  fields: string[];
  /** Per partition, the index of its guard in `fields`. */
  guards: Map<number, number>;
  /** Per tile group (layout order), tile start → index of its field in `fields`. */
  tiles: Map<number, number>[];
}

/** The fields a write must read for one entity's rows: the meta fields, the guards, the tiles touched. */
export function fieldsToRead(layout: TileLayout, rows: readonly FeatureRow[]): TileRead {
  const fields = [VERSION_FIELD, LATEST_FIELD, EXPIRY_FIELD, CLEANED_FIELD];
  const guards = new Map<number, number>();
  const tiles = layout.groups.map(() => new Map<number, number>());
  for (const row of rows) {
    const partition = row.origin.partition;
    if (!guards.has(partition)) guards.set(partition, fields.push(offsetField(partition)) - 1);
    for (let g = 0; g < layout.groups.length; g++) {
      const group = layout.groups[g]!;
      const value = row.values[group.columnIndex];
      if (value === null || value === undefined) continue;
      const start = tileStart(row.eventTimestamp, group.resolutionMs);
      const starts = tiles[g]!;
      if (!starts.has(start)) starts.set(start, fields.push(tileField(start, group)) - 1);
    }
  }
  return { fields, guards, tiles };
}

/** One entity's compare-and-set write: what `write_tiles.lua` takes for it. */
export interface TileWrite {
  expectedVersion: string;
  /** True when the script should delete dead tiles (a tile is created, none looked for lately). */
  cleanup: boolean;
  expireAt: number;
  /** Field, value, field, value, … */
  pairs: string[];
  /** Events that counted (not already applied). */
  applied: number;
}

/**
 * Applies one entity's rows (in offset order, as a partition delivers them) to the stored fields
 * `read` names (`stored[i]` is the value of `read.fields[i]`, null when absent). Rows at or below
 * their partition's guard are skipped; a value whose tile left every window by `now` is not kept.
 * Returns null when nothing changes (every row already applied).
 */
export function planTileWrite(
  layout: TileLayout,
  rows: readonly FeatureRow[],
  read: TileRead,
  stored: readonly (string | null)[],
  now: number,
): TileWrite | null {
  const guards = new Map<number, number>();
  for (const [partition, at] of read.guards) {
    const text = stored[at];
    guards.set(partition, text == null ? -1 : Number(text));
  }
  let latest = parseLatest(stored[1] ?? null);
  let expireAt = Number(stored[2] ?? 0);
  let created = false;
  let applied = 0;
  const states = layout.groups.map(() => new Map<number, AggregationState>());
  for (const row of rows) {
    const offset = Number(row.origin.offset);
    if (offset <= guards.get(row.origin.partition)!) continue;
    guards.set(row.origin.partition, offset);
    applied++;
    if (latest === null || isLaterEvent(row, latest))
      latest = { ts: row.eventTimestamp, created: row.created };
    const order = { ts: row.eventTimestamp, created: row.created, offset };
    for (let g = 0; g < layout.groups.length; g++) {
      const group = layout.groups[g]!;
      const value = row.values[group.columnIndex];
      if (value === null || value === undefined) continue;
      const start = tileStart(row.eventTimestamp, group.resolutionMs);
      const expires = tileExpiresAt(start, group.windowMs, group.resolutionMs);
      // A late event whose tile is in no live window any more counts offline only.
      if (expires <= now) continue;
      let state = states[g]!.get(start);
      if (state === undefined) {
        const text = stored[read.tiles[g]!.get(start)!] ?? null;
        if (text === null) created = true;
        state = text === null ? emptyState(group.fn) : decodeState(group.fn, JSON.parse(text));
      }
      states[g]!.set(start, addValue(state, value, order));
      if (expires > expireAt) expireAt = expires;
    }
  }
  if (applied === 0) return null;
  const expected = stored[0] ?? '0';
  const cleanup = created && now - Number(stored[3] ?? 0) >= CLEANUP_EVERY_MS;
  const pairs: string[] = [VERSION_FIELD, String(Number(expected) + 1)];
  pairs.push(LATEST_FIELD, `${latest!.ts}:${latest!.created ?? ''}`, EXPIRY_FIELD, String(expireAt));
  if (cleanup) pairs.push(CLEANED_FIELD, String(now));
  for (const [partition, offset] of guards) pairs.push(offsetField(partition), String(offset));
  states.forEach((byStart, g) => {
    const group = layout.groups[g]!;
    for (const [start, state] of byStart)
      pairs.push(tileField(start, group), JSON.stringify(encodeState(state)));
  });
  return { expectedVersion: expected, cleanup, expireAt, pairs, applied };
}

interface Latest {
  ts: number;
  created: number | null;
}

function parseLatest(text: string | null): Latest | null {
  if (text === null) return null;
  const colon = text.indexOf(':');
  const created = text.slice(colon + 1);
  return { ts: Number(text.slice(0, colon)), created: created === '' ? null : Number(created) };
}

function isLaterEvent(row: FeatureRow, held: Latest): boolean {
  if (row.eventTimestamp !== held.ts) return row.eventTimestamp > held.ts;
  return (row.created ?? Number.NEGATIVE_INFINITY) > (held.created ?? Number.NEGATIVE_INFINITY);
}

/** A stream view's record: the latest event's times and each aggregation's value at `t`. */
export interface TileRecord {
  eventTimestamp: number;
  created: number | null;
  values: AggregateValue[];
}

/**
 * The aggregations' values at `t` from an entity's hash (`HGETALL` as field → value), or null
 * when the hash holds no event. A read merges every stored tile of the window, the head tile
 * whole: an event timestamped after `t` but inside the head tile (a producer's clock ahead of
 * this one) counts from its arrival (docs/aggregations.md, "Online").
 */
export function valuesAt(view: ViewLayout, hash: Record<string, string>, t: number): TileRecord | null {
  const latest = parseLatest(hash[LATEST_FIELD] ?? null);
  if (latest === null) return null;
  const tiles = tileLayoutOf(view);
  const aggregations = view.aggregations ?? [];
  // Per group, its stored tiles by start: decoded once even when several windows read them.
  const byGroup = tiles.groups.map((): [number, string][] => []);
  const groupIndex = new Map(tiles.groups.map((g, i) => [g.id, i]));
  for (const field in hash) {
    if (!field.startsWith(TILE_PREFIX)) continue;
    const colon = field.indexOf(':', TILE_PREFIX.length);
    const g = groupIndex.get(field.slice(colon + 1));
    if (g === undefined) continue;
    byGroup[g]!.push([Number(field.slice(TILE_PREFIX.length, colon)), hash[field]!]);
  }
  const decoded = tiles.groups.map(() => new Map<number, AggregationState>());
  const values = aggregations.map((a, i) => {
    const g = tiles.groupOf[i]!;
    const group = tiles.groups[g]!;
    const { first, last } = windowTiles(t, a.windowMs, a.resolutionMs);
    let state = emptyState(a.function);
    for (const [start, text] of byGroup[g]!) {
      if (start < first || start > last) continue;
      let tile = decoded[g]!.get(start);
      if (tile === undefined) {
        tile = decodeState(group.fn, JSON.parse(text));
        decoded[g]!.set(start, tile);
      }
      state = merge(state, tile);
    }
    return finalize(state);
  });
  return { eventTimestamp: latest.ts, created: latest.created, values };
}

// ---- the window cache -------------------------------------------------------------------------

/**
 * A read merges every tile of each window (hundreds for a 7-day window at 1 h); the result only
 * changes when the entity is written (its version `v` moves) or the window's tiles change (the
 * tail steps every `r`). So a read stores what it merged, per aggregation, as
 * `w:<fn>:<W>:<r>:<column>` = `<version>:<first>:<last>:<value as JSON>`, and the next read of
 * the same window at the same version takes it from there: one HMGET of a few fields instead of
 * the whole hash. An entry written for another version or window is ignored, so it is never
 * wrong, only unused. bench:online measures both paths.
 */
export function cacheField(a: AggregationSpec): string {
  return `w:${a.function}:${a.windowMs}:${a.resolutionMs}:${a.column}`;
}

const cacheFieldLists = new WeakMap<ViewLayout, string[]>();

/** The fields a read asks for first: the latest event, the version, each aggregation's cache entry. */
export function cachedReadFields(view: ViewLayout): string[] {
  let fields = cacheFieldLists.get(view);
  if (!fields) {
    fields = [LATEST_FIELD, VERSION_FIELD, ...(view.aggregations ?? []).map(cacheField)];
    cacheFieldLists.set(view, fields);
  }
  return fields;
}

/** An aggregation's value as the cache keeps it: int64 values as strings of digits. */
function cacheText(value: AggregateValue): string {
  return typeof value === 'bigint' ? `"${value}"` : (JSON.stringify(value) ?? 'null');
}

/**
 * The record from `cachedReadFields`' values when every aggregation's entry is for this version
 * and `t`'s window; `null` when the entity has no state; `undefined` when the tiles must be read.
 */
export function cachedValuesAt(
  view: ViewLayout,
  stored: readonly (string | null)[],
  t: number,
): TileRecord | null | undefined {
  const latest = parseLatest(stored[0] ?? null);
  if (latest === null) return null;
  const version = stored[1] ?? '0';
  const aggregations = view.aggregations ?? [];
  const windows = windowKeys(view, t);
  const values: AggregateValue[] = [];
  for (let i = 0; i < aggregations.length; i++) {
    const entry = stored[i + 2];
    const window = windows[i]!;
    // `<version><:first:last:>` then the value.
    if (entry == null || !entry.startsWith(version) || !entry.startsWith(window, version.length))
      return undefined;
    const value = JSON.parse(entry.slice(version.length + window.length)) as AggregateValue;
    values.push(aggregations[i]!.type === 'int64' && typeof value === 'string' ? BigInt(value) : value);
  }
  return { eventTimestamp: latest.ts, created: latest.created, values };
}

const windowKeyMemo = new WeakMap<ViewLayout, { t: number; keys: string[] }>();

/**
 * `:<first>:<last>:` of each aggregation's window at `t`: the part of a cache entry after the
 * version. The same for every entity of a read, so worked out once per view and instant.
 */
function windowKeys(view: ViewLayout, t: number): string[] {
  const memo = windowKeyMemo.get(view);
  if (memo && memo.t === t) return memo.keys;
  const keys = (view.aggregations ?? []).map((a) => {
    const { first, last } = windowTiles(t, a.windowMs, a.resolutionMs);
    return `:${first}:${last}:`;
  });
  windowKeyMemo.set(view, { t, keys });
  return keys;
}

/** The cache entries of a record computed from the tiles of a hash at `version`: field, value, … */
export function cacheEntries(view: ViewLayout, version: string, t: number, record: TileRecord): string[] {
  const pairs: string[] = [];
  const windows = windowKeys(view, t);
  (view.aggregations ?? []).forEach((a, i) => {
    pairs.push(cacheField(a), `${version}${windows[i]}${cacheText(record.values[i] ?? null)}`);
  });
  return pairs;
}
