/**
 * A small scanner that finds the top-level elements of a JSON array without decoding them, so
 * stored values can be copied into a JSON answer as bytes (the online lookup's hot path,
 * docs/serving.md "Performance"). It only finds boundaries: it does not check numbers or escape
 * sequences, and it expects text written by `JSON.stringify` (or anything as well-formed).
 *
 * It reads UTF-8 bytes, as the online store returns them: every byte of a multi-byte character
 * is ≥ 0x80, so none is taken for a quote, backslash, bracket, brace or comma. Runs of a number
 * or string are skipped four bytes at a time (one 32-bit read tells whether any of them is a
 * comma, or a quote or backslash), about twice as fast as byte by byte on 50-number arrays.
 */

const QUOTE = 34; // "
const BACKSLASH = 92; // \
const COMMA = 44; // ,
const OPEN_ARRAY = 91; // [
const CLOSE_ARRAY = 93; // ]
const OPEN_OBJECT = 123; // {
const CLOSE_OBJECT = 125; // }

/** A DataView of `bytes`, for the four-byte reads. */
export function wordsOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Whether any byte of the 32-bit word `word` is zero (exact; the classic SWAR test). */
function hasZeroByte(word: number): boolean {
  return ((word - 0x01010101) & ~word & 0x80808080) !== 0;
}

/** `byte` in each of four bytes, to XOR a word with: equal bytes become zero. */
const COMMAS = 0x2c2c2c2c;
const QUOTES = 0x22222222;
const BACKSLASHES = 0x5c5c5c5c;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function malformed(bytes: Uint8Array, at: number, why: string): Error {
  const start = new TextDecoder().decode(bytes.subarray(0, 80));
  return new SyntaxError(`not a JSON array (${why} at ${at}): ${start}`);
}

/** Index just past the string that opens at `at` (a `"`); an escape's next byte is never its end. */
function skipString(bytes: Uint8Array, words: DataView, at: number): number {
  const length = bytes.length;
  let i = at + 1;
  while (i < length) {
    // Whole words without a quote or backslash are string content.
    while (i + 4 <= length) {
      const word = words.getInt32(i, true);
      if (hasZeroByte(word ^ QUOTES) || hasZeroByte(word ^ BACKSLASHES)) break;
      i += 4;
    }
    if (i >= length) break;
    const c = bytes[i]!;
    if (c === QUOTE) return i + 1;
    i += c === BACKSLASH ? 2 : 1;
  }
  throw malformed(bytes, at, 'unterminated string');
}

/** Index just past the array or object that opens at `at`, strings inside included. */
function skipNested(bytes: Uint8Array, words: DataView, at: number): number {
  const length = bytes.length;
  let depth = 0;
  let i = at;
  while (i < length) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      i = skipString(bytes, words, i);
      continue;
    }
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  throw malformed(bytes, at, 'unterminated array or object');
}

/**
 * Finds the top-level elements of the JSON array in `bytes` (UTF-8): element k spans bytes
 * `bounds[base + 2k]` to `bounds[base + 2k + 1]` (surrounding whitespace excluded).
 * Records at most `capacity` elements (default: as many as fit in `bounds` after `base`) and stops
 * scanning there; returns how many it recorded. Strings (commas, brackets and escaped quotes
 * inside them), nested arrays and objects, `null`, numbers of any length and `true`/`false` are
 * single elements. A number or literal runs to the next `,` (or the closing `]`) and its text is
 * not checked. Throws a SyntaxError on text that is not an array or whose strings, arrays or
 * separators are broken.
 *
 * One pass over the bytes, none decoded: cheaper than `JSON.parse`, and the spans can be copied
 * into a UTF-8 answer as they are. `words` is `wordsOf(bytes)`, for callers that have one.
 */
export function scanJsonArray(
  bytes: Uint8Array,
  bounds: Int32Array,
  base = 0,
  capacity = (bounds.length - base) >> 1,
  words = wordsOf(bytes),
): number {
  const length = bytes.length;
  let i = 0;
  while (i < length && isSpace(bytes[i]!)) i++;
  if (bytes[i] !== OPEN_ARRAY) throw malformed(bytes, i, "expected '['");
  // The array's closing bracket: the last one of the text (values are the whole text).
  const close = bytes.lastIndexOf(CLOSE_ARRAY);
  if (close <= i) throw malformed(bytes, i, 'unterminated array');
  i++;
  while (i < length && isSpace(bytes[i]!)) i++;
  if (i === close) return 0;
  let count = 0;
  while (count < capacity) {
    if (i >= close) throw malformed(bytes, i, 'expected a value');
    const start = i;
    const c = bytes[i]!;
    if (c === QUOTE) i = skipString(bytes, words, i);
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) i = skipNested(bytes, words, i);
    else if (c === COMMA) throw malformed(bytes, i, 'expected a value');
    else {
      // A number, true, false or null: runs to the next separator.
      while (i + 4 <= close && !hasZeroByte(words.getInt32(i, true) ^ COMMAS)) i += 4;
      while (i < close && bytes[i] !== COMMA) i++;
      while (isSpace(bytes[i - 1]!)) i--;
    }
    bounds[base + count * 2] = start;
    bounds[base + count * 2 + 1] = i;
    count++;
    while (i < length && isSpace(bytes[i]!)) i++;
    if (i === close) return count;
    if (bytes[i] !== COMMA) throw malformed(bytes, i, "expected ',' or ']'");
    i++;
    while (i < length && isSpace(bytes[i]!)) i++;
  }
  return count;
}
