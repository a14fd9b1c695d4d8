/**
 * Streaming aggregations, the pure core (no I/O): window and tile arithmetic, per-function
 * tile state with exact merge and finalize, its compact encoding, and the brute-force
 * reference. The online store (tiles in Redis) and historical retrieval build on these so
 * that online, offline and the reference agree bit for bit. Semantics: docs/aggregations.md.
 */
export * from './exact.ts';
export * from './reference.ts';
export * from './state.ts';
export * from './window.ts';

import type { AggregationSpec } from '../definitions/types.ts';
import {
  type AggregationState,
  addValue,
  type EventOrder,
  type EventValue,
  emptyState,
  finalize,
  merge,
} from './state.ts';
import { tileStart, windowTiles } from './window.ts';

/** An event as the tile path reads it: its order and the aggregated column's value. */
export interface TileEvent extends EventOrder {
  value: EventValue;
}

/**
 * Folds events into tiles of `resolutionMs`, keyed by tile start (exclusive), in the order
 * given: what the online store does incrementally, one event at a time.
 */
export function foldIntoTiles(
  aggregation: Pick<AggregationSpec, 'function' | 'resolutionMs'>,
  events: Iterable<TileEvent>,
  tiles: Map<number, AggregationState> = new Map(),
): Map<number, AggregationState> {
  for (const event of events) {
    const start = tileStart(event.ts, aggregation.resolutionMs);
    const state = tiles.get(start) ?? emptyState(aggregation.function);
    tiles.set(start, addValue(state, event.value, event));
  }
  return tiles;
}

/**
 * The value at `t` from tiles, in tile order: every whole tile of the window, plus the head
 * tile's events at or before `t` when the head is partial. The head tile's events are needed
 * for that (a tile state cannot be split), so `headEvents` gives them: the events of tile
 * `tileStart(t, r)`; pass undefined only when `t` is a multiple of `r` or no event of the
 * head tile is later than `t` (then its state is used as it is).
 */
export function valueFromTiles(
  aggregation: Pick<AggregationSpec, 'function' | 'windowMs' | 'resolutionMs'>,
  tiles: ReadonlyMap<number, AggregationState>,
  t: number,
  headEvents?: Iterable<TileEvent>,
): ReturnType<typeof finalize> {
  const { first, last, headPartial } = windowTiles(t, aggregation.windowMs, aggregation.resolutionMs);
  let state = emptyState(aggregation.function);
  for (let s = first; s < last; s += aggregation.resolutionMs) {
    const tile = tiles.get(s);
    if (tile) state = merge(state, tile);
  }
  if (headPartial && headEvents !== undefined) {
    let head = emptyState(aggregation.function);
    for (const e of headEvents) if (e.ts <= t) head = addValue(head, e.value, e);
    state = merge(state, head);
  } else {
    const tile = tiles.get(last);
    if (tile) state = merge(state, tile);
  }
  return finalize(state);
}
