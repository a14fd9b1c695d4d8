import { describe, expect, it } from 'vitest';
import { rng } from '../../../fixtures/random.ts';
import {
  aggregateEvents,
  defaultResolution,
  floorTo,
  foldIntoTiles,
  inWindow,
  MAX_TILES_PER_WINDOW,
  tileExpiresAt,
  tileStart,
  valueFromTiles,
  windowRange,
  windowTiles,
} from '../../../shared/aggregations/index.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('tile arithmetic', () => {
  it('floorTo is exact, negative instants included', () => {
    expect(floorTo(125_000, MIN)).toBe(120_000);
    expect(floorTo(120_000, MIN)).toBe(120_000);
    expect(floorTo(-1, MIN)).toBe(-MIN);
    expect(floorTo(-MIN, MIN)).toBe(-MIN);
    expect(floorTo(Number.MAX_SAFE_INTEGER, 7)).toBe(Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % 7));
  });

  it('tiles are right-closed: (s, s + r]', () => {
    expect(tileStart(120_000, MIN)).toBe(60_000);
    expect(tileStart(120_001, MIN)).toBe(120_000);
    expect(tileStart(179_999, MIN)).toBe(120_000);
    expect(tileStart(0, MIN)).toBe(-MIN);
    expect(tileStart(-1, MIN)).toBe(-MIN);
  });

  it('the window at t is (floor(t/r)·r − W, t], and its tiles are W/r whole ones plus a partial head', () => {
    const t = 10 * HOUR + 30 * MIN + 15_000;
    expect(windowRange(t, HOUR, MIN)).toEqual({ fromExclusive: 9 * HOUR + 30 * MIN, toInclusive: t });
    const tiles = windowTiles(t, HOUR, MIN);
    expect(tiles).toEqual({ first: 9 * HOUR + 30 * MIN, last: 10 * HOUR + 30 * MIN, headPartial: true });
    expect((tiles.last - tiles.first) / MIN + 1).toBe(61);
    const aligned = windowTiles(10 * HOUR, HOUR, MIN);
    expect(aligned).toEqual({ first: 9 * HOUR, last: 10 * HOUR - MIN, headPartial: false });
    expect((aligned.last - aligned.first) / MIN + 1).toBe(60);
  });

  it('boundaries: an event exactly at floor(t/r)·r − W is out, one at t is in, one just after t is out', () => {
    const W = HOUR;
    const r = 5 * MIN;
    const random = rng(3);
    for (let i = 0; i < 200; i++) {
      const t = 1_700_000_000_000 + Math.floor(random() * DAY);
      const tail = floorTo(t, r) - W;
      const events = [tail, tail + 1, t, t + 1, tail - 1].map((ts, offset) => ({
        ts,
        created: null,
        offset,
        values: { x: 1 },
      }));
      expect(events.map((e) => inWindow(e.ts, t, W, r))).toEqual([false, true, true, false, false]);
      const aggregation = { column: 'x', function: 'count' as const, windowMs: W, resolutionMs: r };
      const expected = t === tail + 1 ? 1 : 2;
      expect(aggregateEvents(events, aggregation, t)).toBe(expected);
      const tileEvents = events.map((e) => ({ ...e, value: 1 }));
      const head = tileEvents.filter((e) => tileStart(e.ts, r) === tileStart(t, r));
      expect(valueFromTiles(aggregation, foldIntoTiles(aggregation, tileEvents), t, head)).toBe(expected);
    }
  });

  it('the tail moves in steps of r; the head follows t exactly', () => {
    const aggregation = { column: 'x', function: 'count' as const, windowMs: HOUR, resolutionMs: MIN };
    const events = [{ ts: 30_000, created: null, offset: 0, values: { x: 1 } }];
    expect(aggregateEvents(events, aggregation, 29_999)).toBe(0);
    expect(aggregateEvents(events, aggregation, 30_000)).toBe(1);
    // In for every t up to the first minute boundary past 1h + 30s, then out.
    expect(aggregateEvents(events, aggregation, HOUR + MIN - 1)).toBe(1);
    expect(aggregateEvents(events, aggregation, HOUR + MIN)).toBe(0);
  });

  it('a tile leaves every window W + r after its start', () => {
    const s = 10 * MIN;
    const expires = tileExpiresAt(s, HOUR, MIN);
    expect(windowTiles(expires - 1, HOUR, MIN).first).toBeLessThanOrEqual(s);
    expect(windowTiles(expires, HOUR, MIN).first).toBeGreaterThan(s);
  });
});

describe('default resolution', () => {
  it('follows the ladder and divides the window', () => {
    expect(defaultResolution(HOUR)).toBe(MIN);
    expect(defaultResolution(30 * MIN)).toBe(MIN);
    expect(defaultResolution(DAY)).toBe(5 * MIN);
    expect(defaultResolution(7 * DAY)).toBe(HOUR);
    expect(defaultResolution(30 * DAY)).toBe(4 * HOUR);
    expect(defaultResolution(365 * DAY)).toBe(DAY);
    expect(defaultResolution(104 * 7 * DAY)).toBe(7 * DAY);
    expect(defaultResolution(90_000)).toBe(30_000);
    expect(defaultResolution(10_000)).toBe(10_000);
  });

  it('keeps ladder windows to at most a few hundred tiles; refuses what would need too many', () => {
    for (const w of [MIN, HOUR, 2 * HOUR, DAY, 7 * DAY, 30 * DAY, 366 * DAY, 1001 * DAY]) {
      const r = defaultResolution(w)!;
      expect(w % r).toBe(0);
      expect(w / r).toBeLessThanOrEqual(366);
    }
    expect(defaultResolution(1000 * DAY)).toBe(DAY);
    expect(defaultResolution(HOUR + 1)).toBeNull();
    expect(MAX_TILES_PER_WINDOW).toBe(10_000);
  });
});
