import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config.ts';
import { isTributaryError } from '../../../shared/errors.ts';

describe('loadConfig', () => {
  it('applies the documented defaults and freezes the result', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      kafkaBrokers: ['127.0.0.1:9092'],
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/tributary',
      redisUrl: 'redis://127.0.0.1:6379',
      repoPath: './feature-defs',
      apiKeys: [],
      port: 6566,
      host: '127.0.0.1',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'a:1, b:2',
      DATABASE_URL: 'postgresql://u@h:5/db',
      REDIS_URL: 'rediss://h:6',
      TRIBUTARY_REPO: '/repo',
      TRIBUTARY_API_KEYS: 'k1,,k2 ',
      PORT: '8080',
    });
    expect(config.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(config.apiKeys).toEqual(['k1', 'k2']);
    expect(config.port).toBe(8080);
    // With API keys the server may listen beyond loopback.
    expect(config.host).toBe('0.0.0.0');
  });

  it.each([
    ['KAFKA_BROKERS', 'localhost', /KAFKA_BROKERS="localhost" is invalid/],
    ['KAFKA_BROKERS', 'h:99999', /KAFKA_BROKERS/],
    [
      'DATABASE_URL',
      'mysql://x',
      /DATABASE_URL="mysql:\/\/x" is invalid: expected a URL starting with postgres:/,
    ],
    ['REDIS_URL', 'not a url', /REDIS_URL/],
    ['PORT', '0', /PORT="0" is invalid/],
    ['PORT', '80a', /PORT/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL/],
    ['TRIBUTARY_WEBHOOK_URL', 'ftp://x', /TRIBUTARY_WEBHOOK_URL/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    let thrown: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      thrown = error;
    }
    expect(isTributaryError(thrown, 'TRIB_CONFIG_INVALID')).toBe(true);
    expect((thrown as Error).message).toMatch(message);
  });
});
