/**
 * Value lengths: how many UTF-8 bytes each top-level value of a JSON array takes, kept next to
 * the array, so a reader can cut every value out without scanning the text (the online lookup's
 * hot path, docs/serving.md "Performance"; the stored layout, docs/online-store.md).
 *
 * The array is `JSON.stringify` text: no whitespace, one comma between values. So value 0 starts
 * at byte 1 and value k one byte after value k - 1 ends: the lengths alone place every value.
 *
 * Encoding, ASCII (the same characters in a JS string and in UTF-8 bytes, nothing to escape in
 * JSON or in redis-cli's output):
 *
 *     <w><length 0>...<length n-1>
 *
 * `w` is one digit, `1`–`5`: how many characters each length takes, the fewest that hold the
 * longest value. Each length is written in `w` base-64 digits, most significant first, digits
 * `0`–`9`, `A`–`Z`, `a`–`z`, `-`, `_` (0 to 63). A 50-float record takes 51 characters. The
 * digits hold no `[`, so the lengths end where the array starts; and a stored text that starts
 * with `[` has no lengths (it is read by scanning the array).
 */

const OPEN_ARRAY = 91; // [
const ZERO = 48; // '0'
const MAX_WIDTH = 5;

/** A JSON array's elements, as the online store writes them (int64 already a string). */
export type JsonArrayValue = string | number | boolean | null;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_';
/** Each byte's digit value; -1 for bytes that are not digits. */
const DIGIT_VALUES = new Int8Array(256).fill(-1);
for (let digit = 0; digit < ALPHABET.length; digit++) DIGIT_VALUES[ALPHABET.charCodeAt(digit)] = digit;

/** `value` in `width` base-64 digits. */
function digitsOf(value: number, width: number): string {
  let text = '';
  for (let shift = (width - 1) * 6; shift >= 0; shift -= 6) text += ALPHABET[(value >>> shift) & 63];
  return text;
}

/**
 * The value lengths of `values` followed by `JSON.stringify(values)`, unchanged (the array starts
 * at the text's first `[`).
 */
export function jsonArrayWithLengths(values: readonly JsonArrayValue[]): string {
  const lengths: number[] = new Array(values.length);
  let json = '[';
  let longest = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    // Each element printed alone is what JSON.stringify prints for it inside the array.
    const text = JSON.stringify(value) ?? 'null';
    if (i > 0) json += ',';
    json += text;
    // Only strings can hold non-ASCII characters (lone surrogates come out escaped).
    const length = typeof value === 'string' ? Buffer.byteLength(text, 'utf8') : text.length;
    lengths[i] = length;
    if (length > longest) longest = length;
  }
  let width = 1;
  while (width < MAX_WIDTH && longest >= 2 ** (width * 6)) width++;
  let encoded = String(width);
  for (const length of lengths) encoded += digitsOf(length, width);
  return `${encoded + json}]`;
}

/**
 * Where the value lengths starting at `bytes[from]` end: the index of the JSON array's `[`
 * after them (`from` itself when there are none: a bare array), or -1 when the text there is
 * neither lengths followed by an array nor an array.
 */
export function valueLengthsEnd(bytes: Uint8Array, from: number): number {
  const to = bytes.indexOf(OPEN_ARRAY, from);
  if (to <= from) return to;
  const width = bytes[from]! - ZERO;
  return width >= 1 && width <= MAX_WIDTH && (to - from - 1) % width === 0 ? to : -1;
}

/** The value lengths `bytes[from..to)` give for: how many values the array holds. */
export function valueLengthsCount(bytes: Uint8Array, from: number, to: number): number {
  return (to - from - 1) / (bytes[from]! - ZERO);
}

/**
 * Fills `bounds` from the value lengths `bytes[from..to)` as `scanJsonArray` would from the
 * `jsonLength` bytes of the array they precede: value k spans `bounds[base + 2k]` to
 * `bounds[base + 2k + 1]`, at most `capacity` values. Returns how many it recorded. Throws when
 * the lengths do not fit the array (checked in full when every value is read).
 */
export function readValueLengths(
  bytes: Uint8Array,
  from: number,
  to: number,
  jsonLength: number,
  bounds: Int32Array,
  base: number,
  capacity: number,
): number {
  const width = bytes[from]! - ZERO;
  const total = (to - from - 1) / width;
  const count = Math.min(total, capacity);
  let at = from + 1;
  let start = 1;
  let end = 1;
  for (let k = 0; k < count; k++, at += width) {
    let length = DIGIT_VALUES[bytes[at]!]!;
    for (let i = 1; i < width; i++) length = length * 64 + DIGIT_VALUES[bytes[at + i]!]!;
    if (length < 0) throw new SyntaxError(`not a value length at ${at}`);
    end = start + length;
    bounds[base + 2 * k] = start;
    bounds[base + 2 * k + 1] = end;
    start = end + 1;
  }
  // Every value read: the last ends at the closing `]`; else what was read stays inside the array.
  if (count === total ? end !== jsonLength - 1 : end >= jsonLength) {
    throw new SyntaxError(`value lengths do not fit the ${jsonLength}-byte array they precede`);
  }
  return count;
}
