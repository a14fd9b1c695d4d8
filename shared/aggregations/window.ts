/**
 * Window and tile arithmetic, in integer epoch milliseconds.
 *
 * For an instant `t`, an aggregation with window `W` and resolution `r` (W a multiple of r)
 * covers the events with
 *
 *     floor(t / r)·r − W  <  event_timestamp  ≤  t
 *
 * The head is exact; the tail moves in steps of `r`. Tiles are right-closed, `(s, s + r]`
 * with `s` a multiple of `r`, so that the tail bound `floor(t/r)·r − W` (excluded) is the
 * exclusive start of a tile: the window is W/r whole tiles, plus, when `t` is not itself a
 * multiple of `r`, the head tile `(floor(t/r)·r, floor(t/r)·r + r]` of which only the
 * events at or before `t` count.
 */

/** floor(t / r)·r, exactly (no float division), for any integer t (negative too) and r > 0. */
export function floorTo(t: number, r: number): number {
  const m = t % r;
  return m < 0 ? t - m - r : t - m;
}

/**
 * The exclusive start `s` of the tile `(s, s + r]` holding an event at `ts`: ceil(ts/r)·r − r.
 * For the read instant `t` it is the start of the head tile, the last tile of the window.
 */
export function tileStart(ts: number, r: number): number {
  const f = floorTo(ts, r);
  return f === ts ? ts - r : f;
}

/** The events a window covers at `t`: `fromExclusive < event_timestamp ≤ toInclusive`. */
export interface WindowRange {
  fromExclusive: number;
  toInclusive: number;
}

/** The covered range at `t`: `(floor(t/r)·r − W, t]`. */
export function windowRange(t: number, windowMs: number, resolutionMs: number): WindowRange {
  return { fromExclusive: floorTo(t, resolutionMs) - windowMs, toInclusive: t };
}

/** True when an event at `ts` counts for a read at `t`. */
export function inWindow(ts: number, t: number, windowMs: number, resolutionMs: number): boolean {
  return ts > floorTo(t, resolutionMs) - windowMs && ts <= t;
}

/** The tiles a read at `t` merges. */
export interface WindowTiles {
  /** Exclusive start of the first tile: `floor(t/r)·r − W`. */
  first: number;
  /** Exclusive start of the last (head) tile: `tileStart(t, r)`. Tiles step by `r`. */
  last: number;
  /**
   * True when the head tile also spans instants after `t` (t is not a multiple of r): its
   * events after `t` must not count. False when every tile lies wholly inside the window.
   */
  headPartial: boolean;
}

/** The tile starts a read at `t` merges: W/r tiles, or W/r + 1 when the head is partial. */
export function windowTiles(t: number, windowMs: number, resolutionMs: number): WindowTiles {
  const first = floorTo(t, resolutionMs) - windowMs;
  const last = tileStart(t, resolutionMs);
  return { first, last, headPartial: floorTo(t, resolutionMs) !== t };
}

/**
 * The instant after which a tile `(s, s + r]` is in no window of `W` any more: reads at
 * `t ≥ s + W + r` have `floor(t/r)·r − W ≥ s + r`. The online store may expire a tile of the
 * longest window at that instant (by event time or wall clock, whichever it keys on).
 */
export function tileExpiresAt(start: number, windowMs: number, resolutionMs: number): number {
  return start + windowMs + resolutionMs;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Window bound → default resolution; the first row whose bound the window does not exceed applies. */
export const DEFAULT_RESOLUTIONS: readonly { upTo: number; resolutionMs: number }[] = [
  { upTo: HOUR, resolutionMs: MINUTE },
  { upTo: DAY, resolutionMs: 5 * MINUTE },
  { upTo: 7 * DAY, resolutionMs: HOUR },
  { upTo: 30 * DAY, resolutionMs: 4 * HOUR },
  { upTo: 366 * DAY, resolutionMs: DAY },
  { upTo: Number.POSITIVE_INFINITY, resolutionMs: 7 * DAY },
];

/** The most tiles one window may span; keeps per-entity state and read cost bounded. */
export const MAX_TILES_PER_WINDOW = 10_000;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The resolution used when an aggregation gives none: the ladder value for the window
 * (1m up to 1h, 5m up to 1d, 1h up to 7d, 4h up to 30d, 1d up to 366d, 1w beyond: at most
 * 366 tiles), or its greatest common divisor with the window when it does not divide it
 * (a 90s window gets 30s). Null when even that would need more than MAX_TILES_PER_WINDOW
 * tiles (a window of 1h + 1ms): the declaration must then give a resolution.
 */
export function defaultResolution(windowMs: number): number | null {
  const row = DEFAULT_RESOLUTIONS.find((r) => windowMs <= r.upTo)!;
  const r = gcd(windowMs, row.resolutionMs);
  return windowMs / r > MAX_TILES_PER_WINDOW ? null : r;
}
