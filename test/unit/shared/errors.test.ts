import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, httpStatusOf, TributaryError, toTributaryError } from '../../../shared/errors.ts';

describe('error codes', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.keys(ERROR_CODES))('%s is documented in docs/errors.md with its status', (code) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, `docs/errors.md lacks a row for ${code}`).toBeDefined();
    const status = httpStatusOf(code as keyof typeof ERROR_CODES);
    expect(row).toContain(`| ${status} |`);
    expect(row).toContain(ERROR_CODES[code as keyof typeof ERROR_CODES].retriable ? '| yes |' : '| no |');
  });

  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `(TRIB_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('carries code, retriable flag, details and cause', () => {
    const cause = new Error('connection refused');
    const error = new TributaryError('TRIB_OFFLINE_STORE_UNAVAILABLE', 'postgres down', {
      cause,
      details: { host: 'x' },
    });
    expect(error.code).toBe('TRIB_OFFLINE_STORE_UNAVAILABLE');
    expect(error.retriable).toBe(true);
    expect(error.details).toEqual({ host: 'x' });
    expect(error.cause).toBe(cause);
    expect(new TributaryError('TRIB_WRONG_TYPE', 'bad').retriable).toBe(false);
  });

  it('wraps foreign errors as internal and keeps its own', () => {
    const own = new TributaryError('TRIB_BAD_REQUEST', 'bad');
    expect(toTributaryError(own)).toBe(own);
    const wrapped = toTributaryError(new RangeError('boom'));
    expect(wrapped.code).toBe('TRIB_INTERNAL');
    expect(wrapped.message).toBe('boom');
  });
});
