/**
 * Strict timestamp reading for events: ISO-8601 (a profile of it, see `parseIsoTimestamp`) or
 * epoch milliseconds as a JSON number. `Date.parse` is deliberately not used: it accepts
 * locale-ish forms ("Nov 26 2026", "2026-11-26 10:00 GMT+2") and treats a zone-less date-time
 * as local time, so the same event would land at different instants on different machines.
 *
 * Hand-written rather than a regex because it runs for every event on the hot path.
 */

/** Earliest event or creation time accepted: the Unix epoch, 1970-01-01T00:00:00Z. */
export const MIN_EVENT_TIME_MS = 0;
/** Latest event or creation time ever accepted (exclusive): 2100-01-01T00:00:00Z. */
export const MAX_EVENT_TIME_MS = Date.UTC(2100, 0, 1);
/** Range of a `timestamp` feature value: years 0001 to 9999, what a four-digit ISO year can say. */
export const MIN_TIMESTAMP_VALUE_MS = -62_135_596_800_000;
export const MAX_TIMESTAMP_VALUE_MS = 253_402_300_800_000;

const MS_PER_DAY = 86_400_000;

const C_0 = 0x30;
const C_PLUS = 0x2b;
const C_COMMA = 0x2c;
const C_DASH = 0x2d;
const C_DOT = 0x2e;
const C_COLON = 0x3a;
const C_SPACE = 0x20;
const C_T = 0x54;
const C_Z = 0x5a;
const C_t = 0x74;
const C_z = 0x7a;

/** The two-digit number at `i`, or -1. Reading past the end gives NaN codes, hence -1. */
function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - C_0;
  const b = s.charCodeAt(i + 1) - C_0;
  if (!(a >= 0 && a <= 9 && b >= 0 && b <= 9)) return -1;
  return a * 10 + b;
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/**
 * Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
 * `Date.UTC` is avoided because it maps years 0–99 to 1900–1999.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = month > 2 ? month - 3 : month + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * Parses an ISO-8601 timestamp to epoch milliseconds; NaN when it is not one of the accepted forms:
 *
 * - `YYYY-MM-DD` (midnight UTC);
 * - `YYYY-MM-DDThh:mm`, `…:ss`, `…:ss.f` with 1–9 fraction digits (`.` or `,`); `T`, `t` or a space
 *   between date and time;
 * - then optionally a zone: `Z`/`z`, `±hh:mm`, `±hhmm` or `±hh`. No zone means UTC.
 *
 * Calendar fields are range-checked (no 2026-02-30, no hour 24, no leap second 60). Digits beyond
 * milliseconds are truncated, so the result is always an integer.
 */
export function parseIsoTimestamp(s: string): number {
  const n = s.length;
  if (n < 10) return Number.NaN;
  const hi = twoDigits(s, 0);
  const lo = twoDigits(s, 2);
  if (hi < 0 || lo < 0 || s.charCodeAt(4) !== C_DASH || s.charCodeAt(7) !== C_DASH) return Number.NaN;
  const year = hi * 100 + lo;
  const month = twoDigits(s, 5);
  if (month < 1 || month > 12) return Number.NaN;
  const day = twoDigits(s, 8);
  if (day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  const date = daysFromCivil(year, month, day) * MS_PER_DAY;
  if (n === 10) return date;

  const sep = s.charCodeAt(10);
  if ((sep !== C_T && sep !== C_t && sep !== C_SPACE) || n < 16) return Number.NaN;
  const hour = twoDigits(s, 11);
  if (hour < 0 || hour > 23 || s.charCodeAt(13) !== C_COLON) return Number.NaN;
  const minute = twoDigits(s, 14);
  if (minute < 0 || minute > 59) return Number.NaN;
  let i = 16;
  let second = 0;
  let millis = 0;
  if (s.charCodeAt(i) === C_COLON) {
    second = twoDigits(s, i + 1);
    if (second < 0 || second > 59) return Number.NaN;
    i += 3;
    const dot = s.charCodeAt(i);
    if (dot === C_DOT || dot === C_COMMA) {
      i++;
      const start = i;
      for (;;) {
        const d = s.charCodeAt(i) - C_0;
        if (!(d >= 0 && d <= 9)) break;
        if (i - start < 3) millis = millis * 10 + d;
        i++;
      }
      const digits = i - start;
      if (digits === 0 || digits > 9) return Number.NaN;
      if (digits === 1) millis *= 100;
      else if (digits === 2) millis *= 10;
    }
  }
  const local = date + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis;
  if (i === n) return local;

  const zone = s.charCodeAt(i);
  if (zone === C_Z || zone === C_z) return i + 1 === n ? local : Number.NaN;
  if (zone !== C_PLUS && zone !== C_DASH) return Number.NaN;
  const offsetHours = twoDigits(s, i + 1);
  if (offsetHours < 0 || offsetHours > 23) return Number.NaN;
  i += 3;
  let offsetMinutes = 0;
  if (i < n) {
    if (s.charCodeAt(i) === C_COLON) i++;
    offsetMinutes = twoDigits(s, i);
    if (offsetMinutes < 0 || offsetMinutes > 59 || i + 2 !== n) return Number.NaN;
  }
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  return zone === C_PLUS ? local - offset : local + offset;
}

/**
 * Reads a JSON timestamp value: an ISO-8601 string (see `parseIsoTimestamp`) or epoch milliseconds
 * as a finite number (fractions are floored). NaN for anything else, including numeric strings.
 */
export function epochMsOf(value: unknown): number {
  // `+ 0` turns -0 into 0, so rows compare equal however the producer wrote zero.
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) + 0 : Number.NaN;
  if (typeof value === 'string') return parseIsoTimestamp(value);
  return Number.NaN;
}
