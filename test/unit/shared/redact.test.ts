import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config.ts';
import { redactSecrets, redactUrl } from '../../../shared/postgres/redact.ts';

describe('redactUrl', () => {
  it('hides the password of a URL and keeps the rest', () => {
    expect(redactUrl('postgres://app:s3cret@db.internal:5432/tributary')).toBe(
      'postgres://app:***@db.internal:5432/tributary',
    );
    expect(redactUrl('redis://:s3cret@cache:6379')).toBe('redis://:***@cache:6379');
    expect(redactUrl('postgres://app@db/tributary?password=s3cret&sslmode=require')).toBe(
      'postgres://app@db/tributary?password=***&sslmode=require',
    );
  });

  it('leaves a URL without credentials as it is', () => {
    expect(redactUrl('postgres://postgres@127.0.0.1:5432/tributary')).toBe(
      'postgres://postgres@127.0.0.1:5432/tributary',
    );
  });

  it('scrubs a URL it cannot parse', () => {
    const redacted = redactUrl('postgres://app:s3cret@db:notaport/tributary');
    expect(redacted).not.toContain('s3cret');
    expect(redacted).toContain('app:***@db');
  });

  it('redactSecrets scrubs every URL in a text', () => {
    const text = redactSecrets(
      'failed postgres://a:pw1@h/db then redis://:pw2@r:6379 and password=pw3 in a DSN',
    );
    expect(text).not.toMatch(/pw1|pw2|pw3/);
  });
});

describe('configuration errors never print a password', () => {
  it.each([
    ['DATABASE_URL', 'postgres://app:s3cret@db:notaport/tributary'],
    ['DATABASE_URL', 'mysql://app:s3cret@db/tributary'],
    ['REDIS_URL', 'http://:s3cret@cache:6379'],
  ])('%s=%s', (variable, value) => {
    let message = '';
    try {
      loadConfig({ [variable]: value });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(variable);
    expect(message).toContain('***');
    expect(message).not.toContain('s3cret');
  });
});

describe('TRIBUTARY_PG_POOL_MAX', () => {
  it('sizes the shared pool, 10 by default, at least 2', () => {
    expect(loadConfig({}).pgPoolMax).toBe(10);
    expect(loadConfig({ TRIBUTARY_PG_POOL_MAX: '25' }).pgPoolMax).toBe(25);
    expect(() => loadConfig({ TRIBUTARY_PG_POOL_MAX: '1' })).toThrow(/TRIBUTARY_PG_POOL_MAX/);
    expect(() => loadConfig({ TRIBUTARY_PG_POOL_MAX: 'many' })).toThrow(/TRIBUTARY_PG_POOL_MAX/);
  });
});
