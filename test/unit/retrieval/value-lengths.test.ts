import { describe, expect, it } from 'vitest';
import { scanJsonArray } from '../../../shared/stores/online/json-tokens.ts';
import {
  type JsonArrayValue,
  jsonArrayWithLengths,
  readValueLengths,
  valueLengthsCount,
  valueLengthsEnd,
} from '../../../shared/stores/online/value-lengths.ts';

/** The encoded text's parts, and its values' texts as the lengths cut them from the UTF-8 bytes. */
function cut(values: readonly JsonArrayValue[], capacity = values.length) {
  const encoded = jsonArrayWithLengths(values);
  const bytes = Buffer.from(encoded, 'utf8');
  const to = valueLengthsEnd(bytes, 0);
  const json = bytes.subarray(to);
  const bounds = new Int32Array(Math.max(1, capacity) * 2);
  const count = readValueLengths(bytes, 0, to, json.length, bounds, 0, capacity);
  return {
    encoded,
    lengths: encoded.slice(0, to),
    json: json.toString('utf8'),
    texts: Array.from({ length: count }, (_, k) => json.toString('utf8', bounds[2 * k], bounds[2 * k + 1])),
    bounds,
    bytes,
    to,
  };
}

/** A deterministic pseudo-random source, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const tricky: JsonArrayValue[] = [
  'a,b',
  'c]d,[e',
  'say "hi", then',
  'back\\slash\\',
  '\\"',
  'tab\tnew\nline\u0000',
  'é🙂',
  '\ud800 lone surrogate',
  '\u2028',
  '{"k":1}',
  '',
  '9007199254740993',
  null,
  0,
  -0,
  0.1,
  -841.0711194731545,
  1e21,
  5e-324,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
];

describe('value lengths', () => {
  it('precede exactly what JSON.stringify writes, and cut out every value as written', () => {
    const { json, texts } = cut(tricky);
    expect(json).toBe(JSON.stringify(tricky));
    expect(texts).toEqual(tricky.map((v) => JSON.stringify(v) ?? 'null'));
    expect(texts.map((t) => JSON.parse(t))).toEqual(JSON.parse(JSON.stringify(tricky)));
  });

  it('are written in the fewest base-64 digits that hold the longest value', () => {
    // [0.5,0.25,"7"]: width 1, values of 3, 4 and 3 bytes.
    expect(cut([0.5, 0.25, '7']).encoded).toBe('1343[0.5,0.25,"7"]');
    expect(cut([]).encoded).toBe('1[]');
    // A 62-byte string: digit 62 is '-'.
    expect(cut([null, 'x'.repeat(60), true]).lengths).toBe('14-4');
    const fifty = Array.from({ length: 50 }, (_, i) => Math.sin(i) * 1000);
    expect(cut(fifty).lengths).toHaveLength(1 + 50);
    // 5,002 bytes: 1 × 64² + 14 × 64 + 10 → "1EA" in three digits.
    const long = ['x'.repeat(5_000), 1];
    expect(cut(long).lengths).toBe('31EA001');
    expect(cut(long).texts).toEqual(long.map((v) => JSON.stringify(v)));
  });

  it('give the bounds scanJsonArray finds, for any array the store writes', () => {
    const rnd = random(7);
    const pick = () => {
      const r = rnd();
      if (r < 0.5) return tricky[Math.floor(rnd() * tricky.length)]!;
      if (r < 0.8) return Math.sin(rnd() * 1e4) * 10 ** Math.floor(rnd() * 10);
      return 'é,"['.repeat(Math.floor(rnd() * 30));
    };
    for (let round = 0; round < 300; round++) {
      const values = Array.from({ length: Math.floor(rnd() * 120) }, pick);
      const { bytes, bounds, json, to } = cut(values);
      const scanned = new Int32Array(Math.max(1, values.length) * 2);
      expect(scanJsonArray(Buffer.from(json, 'utf8'), scanned)).toBe(values.length);
      expect(Array.from(bounds)).toEqual(Array.from(scanned));
      expect(valueLengthsCount(bytes, 0, to)).toBe(values.length);
    }
  });

  it('record at most `capacity` values, at the given base', () => {
    const values = [1, 'two', null, 4.5];
    expect(cut(values, 2).texts).toEqual(['1', '"two"']);
    const bytes = Buffer.from(`prefix:${jsonArrayWithLengths(values)}`);
    const to = valueLengthsEnd(bytes, 7);
    const bounds = new Int32Array(12).fill(-1);
    expect(readValueLengths(bytes, 7, to, bytes.length - to, bounds, 4, 8)).toBe(4);
    expect(Array.from(bounds)).toEqual([-1, -1, -1, -1, 1, 2, 3, 8, 9, 13, 14, 17]);
  });

  it('end at the array, and a bare array has none', () => {
    for (const values of [[], tricky, ['x'.repeat(300_000)]]) {
      const encoded = jsonArrayWithLengths(values);
      const to = valueLengthsEnd(Buffer.from(encoded, 'utf8'), 0);
      expect(encoded.slice(to)).toBe(JSON.stringify(values));
      expect(encoded.indexOf('[')).toBe(to);
    }
    expect(valueLengthsEnd(Buffer.from('[1,2]'), 0)).toBe(0);
    // Not lengths then an array: no array, a width that is not 1-5, lengths cut short.
    for (const text of ['1343', '0[]', '6343[]', '2343[1,2,3]'])
      expect(valueLengthsEnd(Buffer.from(text), 0), text).toBe(-1);
  });

  it('fail on lengths that do not fit the array they precede', () => {
    for (const text of ['1344[0.5,0.25,"7"]', '1342[0.5,0.25,"7"]', '13*3[0.5,0.25,"7"]', '12[0.5,0.25]']) {
      const bytes = Buffer.from(text);
      const to = valueLengthsEnd(bytes, 0);
      const read = () => readValueLengths(bytes, 0, to, bytes.length - to, new Int32Array(8), 0, 4);
      expect(read, text).toThrow(SyntaxError);
    }
  });
});
