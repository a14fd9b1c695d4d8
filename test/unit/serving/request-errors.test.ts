import { describe, expect, it } from 'vitest';
import {
  formatSchemaErrors,
  prototypeKeyPath,
  unsupportedMediaTypeMessage,
} from '../../../services/serving/request-errors.ts';

describe('prototypeKeyPath', () => {
  it('names the path of a __proto__ key or a constructor holding a prototype', () => {
    expect(prototypeKeyPath(JSON.parse('{"df":{"a":[1],"__proto__":[2]}}'))).toBe('body.df.__proto__');
    expect(prototypeKeyPath(JSON.parse('{"a":[{"b":1},{"constructor":{"prototype":{}}}]}'))).toBe(
      'body.a[1].constructor.prototype',
    );
    // A column named "constructor" holding values is an ordinary column.
    expect(prototypeKeyPath(JSON.parse('{"entities":{"constructor":[1,2]}}'))).toBeUndefined();
    expect(prototypeKeyPath(JSON.parse('{"prototype":1,"proto":[{"x":"__proto__"}]}'))).toBeUndefined();
    expect(prototypeKeyPath(null)).toBeUndefined();
  });

  it('walks a million nested arrays without overflowing the stack', () => {
    const depth = 1_000_000;
    const value = JSON.parse(`${'['.repeat(depth)}{"__proto__":1}${']'.repeat(depth)}`);
    const path = prototypeKeyPath(value);
    expect(path?.endsWith('[0].__proto__')).toBe(true);
    expect(path?.length).toBe('body'.length + 3 * depth + '.__proto__'.length);
  });
});

describe('formatSchemaErrors', () => {
  const message = (error: object, dataVar = 'body') =>
    formatSchemaErrors([{ params: {}, ...error } as never], dataVar).message;

  it('names the property, with array indexes and escaped pointer parts', () => {
    expect(message({ instancePath: '/features/1', keyword: 'type', params: { type: 'string' } })).toBe(
      'body.features[1] must be a string',
    );
    expect(message({ instancePath: '/entities/a~1b', keyword: 'type', params: { type: 'array' } })).toBe(
      'body.entities.a/b must be an array',
    );
    expect(message({ instancePath: '', keyword: 'type', params: { type: 'object' } })).toBe(
      'the body must be a JSON object, sent as application/json',
    );
    expect(
      message(
        { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'x' } },
        'querystring',
      ),
    ).toBe("querystring has an unknown property 'x'");
    expect(message({ instancePath: '', keyword: 'required', params: { missingProperty: 'df' } })).toBe(
      "body must have the property 'df'",
    );
  });
});

describe('unsupportedMediaTypeMessage', () => {
  it('lists the accepted content types', () => {
    expect(
      unsupportedMediaTypeMessage('text/csv', ['application/json', 'application/vnd.apache.arrow.stream']),
    ).toBe(
      "content type 'text/csv' is not accepted here: send application/json or application/vnd.apache.arrow.stream",
    );
    expect(unsupportedMediaTypeMessage(undefined, ['application/json'])).toContain('without a content type');
  });
});
