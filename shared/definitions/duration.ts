import type { Duration } from './types.ts';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** What a Duration must look like, for error messages. */
export const DURATION_HINT = "a duration like '1d', '12h', '30m', '45s', '250ms' or milliseconds as a number";

/**
 * Converts a Duration to whole milliseconds; returns an error text (not a throw) for anything else,
 * so the validator can put it in a message naming the file, object and field.
 */
export function parseDuration(value: unknown): { ms: number } | { error: string } {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || !Number.isInteger(value)) {
      return { error: `expected ${DURATION_HINT}, got ${String(value)}` };
    }
    if (value < 0) return { error: `must not be negative, got ${value}` };
    return { ms: value };
  }
  if (typeof value !== 'string') return { error: `expected ${DURATION_HINT}, got ${describe(value)}` };
  const match = DURATION.exec(value.trim());
  if (!match) return { error: `expected ${DURATION_HINT}, got ${JSON.stringify(value)}` };
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(Math.round(ms))) return { error: `is too large: ${JSON.stringify(value)}` };
  return { ms: Math.round(ms) };
}

/** Formats milliseconds back as the shortest exact Duration string, for plans and docs. */
export function formatDuration(ms: number): Duration {
  if (ms === 0) return 0;
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** A short description of a value's type, for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
