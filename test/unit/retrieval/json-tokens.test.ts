import { describe, expect, it } from 'vitest';
import { scanJsonArray } from '../../../shared/stores/online/json-tokens.ts';

/** The elements' texts as the scanner finds them in the UTF-8 bytes of `text`. */
function tokens(text: string, capacity = 64): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const bounds = new Int32Array(capacity * 2);
  const count = scanJsonArray(bytes, bounds);
  return Array.from({ length: count }, (_, k) => bytes.toString('utf8', bounds[2 * k], bounds[2 * k + 1]));
}

describe('scanJsonArray', () => {
  it('splits what JSON.stringify writes into its top-level elements, texts as written', () => {
    const values = [0.42, -841.0711194731545, 1e-7, 12, null, true, false, 'x', '', null, null];
    const text = JSON.stringify(values);
    expect(tokens(text)).toEqual(values.map((v) => JSON.stringify(v)));
    expect(tokens('[]')).toEqual([]);
    expect(tokens('[null]')).toEqual(['null']);
    expect(tokens('[null,null,null]')).toEqual(['null', 'null', 'null']);
  });

  it('keeps strings with commas, brackets, colons and escaped quotes and backslashes whole', () => {
    const values = [
      'a,b',
      'c]d,[e',
      'say "hi", then',
      'back\\slash\\',
      '\\"',
      'tab\tnew\nline',
      'é🙂',
      '{"k":1}',
    ];
    const text = JSON.stringify(values);
    expect(tokens(text)).toEqual(values.map((v) => JSON.stringify(v)));
    expect(tokens(text).map((t) => JSON.parse(t))).toEqual(values);
  });

  it('keeps big integers, int64 strings and long numbers as their exact text', () => {
    expect(
      tokens('["9007199254740993","-9223372036854775808",9007199254740993,123456789012345678901234567890]'),
    ).toEqual([
      '"9007199254740993"',
      '"-9223372036854775808"',
      '9007199254740993',
      '123456789012345678901234567890',
    ]);
  });

  it('gives byte offsets, multi-byte characters counted in bytes', () => {
    const bounds = new Int32Array(6);
    // "é" is 2 bytes, "🙂" 4: the string spans bytes 1 to 9, the number after it 10 to 11.
    expect(scanJsonArray(Buffer.from('["é🙂",7,"\\u00e9"]'), bounds)).toBe(3);
    expect(Array.from(bounds)).toEqual([1, 9, 10, 11, 12, 20]);
  });

  it('takes nested arrays and objects, nulls inside them, as one element each', () => {
    expect(tokens('[[null,[null]],{"a":[1,"]"],"b":null},null,[]]')).toEqual([
      '[null,[null]]',
      '{"a":[1,"]"],"b":null}',
      'null',
      '[]',
    ]);
  });

  it('finds a closing bracket or quote inside a string as part of it', () => {
    expect(tokens('["a]"]')).toEqual(['"a]"']);
    expect(tokens('["\\\\",1]')).toEqual(['"\\\\"', '1']);
    expect(tokens('["\\"]",2]')).toEqual(['"\\"]"', '2']);
  });

  it('skips whitespace around elements', () => {
    expect(tokens(' [ 1 ,\n"a b" ,\tnull ] ')).toEqual(['1', '"a b"', 'null']);
    expect(tokens('[ ]')).toEqual([]);
  });

  it('records at most the capacity and stops there, at an offset when asked', () => {
    expect(tokens('[1,2,3,4]', 2)).toEqual(['1', '2']);
    const bounds = new Int32Array(10).fill(-1);
    expect(scanJsonArray(Buffer.from('[7,"8"]'), bounds, 4, 3)).toBe(2);
    expect(Array.from(bounds)).toEqual([-1, -1, -1, -1, 1, 2, 3, 6, -1, -1]);
    // Past the capacity the rest is not even looked at.
    expect(tokens('[1,2,"unterminated]', 2)).toEqual(['1', '2']);
  });

  it('throws a SyntaxError on text that is not a well-formed array', () => {
    for (const bad of ['', '1', '{"a":1}', '[1,2', '["a', '["a\\"]', '[1 2', '[,1]', '[1,]', '[[1,2]']) {
      expect(() => tokens(bad), bad).toThrow(SyntaxError);
    }
  });
});
