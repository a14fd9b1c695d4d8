/**
 * Exact int64 reading. `JSON.parse` turns every number into a float64, which holds integers
 * exactly only up to ±(2^53 - 1): 9007199254740993 parses as 9007199254740992. Ids beyond that
 * arrive either as decimal strings (read with `parseInt64String`) or, from producers that write
 * 64-bit longs as bare JSON numbers (Jackson does), as numbers whose exact digits are recovered
 * from the message text (`rawMemberToken` + `parseInt64Token`) — a slow path taken only for
 * such numbers.
 */

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** Why an int64 could not be read; `undefined` from a parser means the input had no integer form at all. */
export type Int64Failure = 'fraction' | 'range';

// A plain decimal: optional minus, no plus, no leading zeros, no spaces, at most 19 digits.
const DECIMAL = /^-?(?:0|[1-9][0-9]{0,18})$/;
const NUMBER_TOKEN = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

/** A decimal string within int64 as a bigint; undefined when it is not a plain decimal; 'range' beyond int64. */
export function parseInt64String(s: string): bigint | 'range' | undefined {
  if (!DECIMAL.test(s)) {
    // Longer digit runs are well-formed decimals that are simply too big.
    return /^-?[1-9][0-9]{19,}$/.test(s) ? 'range' : undefined;
  }
  const v = BigInt(s);
  if (s.length >= 19 && (v > INT64_MAX || v < INT64_MIN)) return 'range';
  return v;
}

/**
 * The exact integer a JSON number token denotes ("9007199254740993", "9.2e18", "1e3"), or
 * 'fraction' when it has a non-zero fractional part, 'range' beyond int64, undefined if not a number token.
 */
export function parseInt64Token(token: string): bigint | Int64Failure | undefined {
  const m = NUMBER_TOKEN.exec(token);
  if (m === null) return undefined;
  const negative = m[1] === '-';
  const fraction = m[3] ?? '';
  let digits = (m[2] ?? '') + fraction;
  let exponent = Number(m[4] ?? '0') - fraction.length;
  let start = 0;
  while (start < digits.length - 1 && digits.charCodeAt(start) === 0x30) start++;
  digits = digits.slice(start);
  if (exponent < 0) {
    const cut = digits.length + exponent;
    const dropped = cut > 0 ? digits.slice(cut) : digits;
    if (/[1-9]/.test(dropped)) return 'fraction';
    digits = cut > 0 ? digits.slice(0, cut) : '0';
    exponent = 0;
  }
  if (digits === '0') return 0n;
  if (digits.length + exponent > 19) return 'range';
  let v = BigInt(digits) * 10n ** BigInt(exponent);
  if (negative) v = -v;
  return v > INT64_MAX || v < INT64_MIN ? 'range' : v;
}

const WS_SPACE = 0x20;
const WS_TAB = 0x09;
const WS_LF = 0x0a;
const WS_CR = 0x0d;

function skipWhitespace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== WS_SPACE && c !== WS_TAB && c !== WS_LF && c !== WS_CR) return i;
    i++;
  }
}

/** Index just past the string literal starting at `i` (which holds its opening quote). */
function endOfString(text: string, i: number): number {
  i++;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) i += 2;
    else if (Number.isNaN(c)) return i;
    else i++;
  }
}

/** Index just past the JSON value starting at `i`. */
function endOfValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === 0x22) return endOfString(text, i);
  if (first === 0x7b || first === 0x5b) {
    let depth = 0;
    for (;;) {
      const c = text.charCodeAt(i);
      if (Number.isNaN(c)) return i;
      if (c === 0x22) {
        i = endOfString(text, i);
        continue;
      }
      if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
  }
  // number, true, false, null
  for (;;) {
    const c = text.charCodeAt(i);
    if (
      Number.isNaN(c) ||
      c === 0x2c ||
      c === 0x7d ||
      c === 0x5d ||
      c === WS_SPACE ||
      c === WS_TAB ||
      c === WS_LF ||
      c === WS_CR
    ) {
      return i;
    }
    i++;
  }
}

/**
 * The raw text of member `key` of the top-level object in `text`, which must be JSON that
 * `JSON.parse` accepted. The last occurrence wins, as in `JSON.parse`. Undefined when absent.
 */
export function rawMemberToken(text: string, key: string): string | undefined {
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  i = skipWhitespace(text, i + 1);
  let found: string | undefined;
  while (text.charCodeAt(i) === 0x22) {
    const keyEnd = endOfString(text, i);
    const rawKey = text.slice(i, keyEnd);
    const name = rawKey.includes('\\') ? (JSON.parse(rawKey) as string) : rawKey.slice(1, -1);
    i = skipWhitespace(text, keyEnd);
    i = skipWhitespace(text, i + 1); // past ':'
    const valueEnd = endOfValue(text, i);
    if (name === key) found = text.slice(i, valueEnd);
    i = skipWhitespace(text, valueEnd);
    if (text.charCodeAt(i) !== 0x2c) break;
    i = skipWhitespace(text, i + 1);
  }
  return found;
}
