/**
 * A small scanner that finds the top-level elements of a JSON array without decoding them, so
 * stored values can be copied into a JSON answer as text (the online lookup's hot path,
 * docs/serving.md "Performance"). It only finds boundaries: it does not check numbers or escape
 * sequences, and it expects text written by `JSON.stringify` (or anything as well-formed).
 */

const QUOTE = 34; // "
const BACKSLASH = 92; // \
const COMMA = 44; // ,
const OPEN_ARRAY = 91; // [
const CLOSE_ARRAY = 93; // ]
const OPEN_OBJECT = 123; // {
const CLOSE_OBJECT = 125; // }

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function malformed(text: string, at: number, why: string): Error {
  return new SyntaxError(`not a JSON array (${why} at ${at}): ${text.slice(0, 80)}`);
}

/** Index just past the string that opens at `at` (a `"`); handles `\"` and `\\`. */
function skipString(text: string, at: number): number {
  let from = at + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) throw malformed(text, at, 'unterminated string');
    // Escaped when an odd number of backslashes precede it.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if ((backslashes & 1) === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Index just past the array or object that opens at `at`, strings inside included. */
function skipNested(text: string, at: number): number {
  const length = text.length;
  let depth = 0;
  let i = at;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = skipString(text, i);
      continue;
    }
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  throw malformed(text, at, 'unterminated array or object');
}

/**
 * Finds the top-level elements of the JSON array `text`: element k spans
 * `text.slice(bounds[base + 2k], bounds[base + 2k + 1])` (surrounding whitespace excluded).
 * Records at most `capacity` elements (default: as many as fit in `bounds` after `base`) and stops
 * scanning there; returns how many it recorded. Strings (commas, brackets and escaped quotes
 * inside them), nested arrays and objects, `null`, numbers of any length and `true`/`false` are
 * single elements. A number or literal runs to the next `,` (or the closing `]`) and its text is
 * not checked. Throws a SyntaxError on text that is not an array or whose strings, arrays or
 * separators are broken.
 *
 * Searches with `indexOf` rather than reading character by character: a 50-number array is
 * scanned about 5× faster, which is the point of not calling `JSON.parse`.
 */
export function scanJsonArray(
  text: string,
  bounds: Int32Array,
  base = 0,
  capacity = (bounds.length - base) >> 1,
): number {
  const length = text.length;
  let i = 0;
  while (i < length && isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== OPEN_ARRAY) throw malformed(text, i, "expected '['");
  // The array's closing bracket: the last one of the text (values are the whole text).
  const close = text.lastIndexOf(']');
  if (close <= i) throw malformed(text, i, 'unterminated array');
  i++;
  while (i < length && isSpace(text.charCodeAt(i))) i++;
  if (i === close) return 0;
  let count = 0;
  while (count < capacity) {
    if (i >= close) throw malformed(text, i, 'expected a value');
    const start = i;
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = skipString(text, i);
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) i = skipNested(text, i);
    else if (c === COMMA) throw malformed(text, i, 'expected a value');
    else {
      // A number, true, false or null: runs to the next separator.
      i = text.indexOf(',', i);
      if (i < 0 || i > close) i = close;
      while (isSpace(text.charCodeAt(i - 1))) i--;
    }
    bounds[base + count * 2] = start;
    bounds[base + count * 2 + 1] = i;
    count++;
    while (i < length && isSpace(text.charCodeAt(i))) i++;
    if (i === close) return count;
    if (text.charCodeAt(i) !== COMMA) throw malformed(text, i, "expected ',' or ']'");
    i++;
    while (i < length && isSpace(text.charCodeAt(i))) i++;
  }
  return count;
}
