import { describe, expect, it } from 'vitest';
import {
  checkListenPolicy,
  debugFromEnv,
  defaultAppliedBy,
  isLoopback,
  loadConfig,
  logDefaultsFromEnv,
  metricsPortFromEnv,
  monitorOpsPort,
  schemasFromEnv,
  secretFromEnv,
} from '../../../shared/config.ts';
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
      allowUnauthenticated: false,
      metricsPort: 9464,
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
    // API keys alone never widen the bind: reaching beyond loopback takes HOST.
    expect(config.host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0', METRICS_PORT: '0' })).toMatchObject({
      host: '0.0.0.0',
      metricsPort: 0,
    });
    expect(loadConfig({ TRIBUTARY_ALLOW_UNAUTHENTICATED: 'true' }).allowUnauthenticated).toBe(true);
    expect(loadConfig({ TRIBUTARY_ALLOW_UNAUTHENTICATED: '0' }).allowUnauthenticated).toBe(false);
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
    ['METRICS_PORT', 'nine', /METRICS_PORT="nine" is invalid/],
    ['METRICS_PORT', '65535', /METRICS_PORT/],
    ['TRIBUTARY_ALLOW_UNAUTHENTICATED', 'yes please', /TRIBUTARY_ALLOW_UNAUTHENTICATED/],
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

describe('checkListenPolicy', () => {
  it('lets loopback listen without keys, and beyond loopback with keys or the opt-out', () => {
    for (const HOST of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) {
      expect(() => checkListenPolicy(loadConfig({ HOST }))).not.toThrow();
    }
    expect(() => checkListenPolicy(loadConfig({ HOST: '0.0.0.0', TRIBUTARY_API_KEYS: 'k' }))).not.toThrow();
    expect(() =>
      checkListenPolicy(loadConfig({ HOST: '0.0.0.0', TRIBUTARY_ALLOW_UNAUTHENTICATED: '1' })),
    ).not.toThrow();
  });

  it('refuses a non-loopback HOST without keys, naming the keys and the opt-out', () => {
    for (const HOST of ['0.0.0.0', '::', '10.0.0.5', 'my-host.example']) {
      let thrown: unknown;
      try {
        checkListenPolicy(loadConfig({ HOST }));
      } catch (error) {
        thrown = error;
      }
      expect(isTributaryError(thrown, 'TRIB_CONFIG_INVALID'), HOST).toBe(true);
      expect((thrown as Error).message).toBe(
        `HOST=${HOST} is not a loopback address and TRIBUTARY_API_KEYS is empty: set TRIBUTARY_API_KEYS, or TRIBUTARY_ALLOW_UNAUTHENTICATED=1 to listen without auth`,
      );
    }
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1', 'LOCALHOST'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '128.0.0.1', '127.0.0.1.example', ''].some(isLoopback)).toBe(false);
  });
});

describe('secretFromEnv', () => {
  it('reads the named variable', () => {
    expect(secretFromEnv('HOOK_SECRET', "monitor 'm'", { HOOK_SECRET: 'k1' })).toBe('k1');
  });

  it('names the variable and its user when it is unset or empty, never a value', () => {
    for (const env of [{}, { HOOK_SECRET: '' }]) {
      let thrown: unknown;
      try {
        secretFromEnv('HOOK_SECRET', "monitor 'm' (webhook https://h)", env);
      } catch (error) {
        thrown = error;
      }
      expect(isTributaryError(thrown, 'TRIB_CONFIG_INVALID')).toBe(true);
      expect((thrown as Error).message).toBe(
        "HOOK_SECRET is not set: monitor 'm' (webhook https://h) names it as its secret; set it in this process's environment",
      );
    }
  });
});

describe('the accessors for variables read without a Config', () => {
  it('METRICS_PORT: one validation, and the monitor never lands on port 1', () => {
    expect(metricsPortFromEnv({})).toBe(9464);
    expect(monitorOpsPort(metricsPortFromEnv({}))).toBe(9465);
    // 0 means any free port for both commands; 0 + 1 was port 1, privileged and wrong.
    expect(monitorOpsPort(metricsPortFromEnv({ METRICS_PORT: '0' }))).toBe(0);
    for (const bad of ['65535', 'abc', '-1']) {
      try {
        metricsPortFromEnv({ METRICS_PORT: bad });
        expect.unreachable(`METRICS_PORT=${bad} was accepted`);
      } catch (error) {
        expect(isTributaryError(error) && error.code).toBe('TRIB_CONFIG_INVALID');
        expect((error as Error).message).toContain('METRICS_PORT');
      }
    }
  });

  it("the logger's defaults: LOG_LEVEL, LOG_FORMAT and NO_COLOR", () => {
    expect(logDefaultsFromEnv({})).toEqual({ level: 'info', format: 'auto', color: true });
    expect(logDefaultsFromEnv({ LOG_LEVEL: 'debug', LOG_FORMAT: 'json', NO_COLOR: '1' })).toEqual({
      level: 'debug',
      format: 'json',
      color: false,
    });
    // An empty value is unset, as everywhere in loadConfig.
    expect(logDefaultsFromEnv({ LOG_LEVEL: '', NO_COLOR: '' }).level).toBe('info');
    expect(logDefaultsFromEnv({ NO_COLOR: '' }).color).toBe(true);
  });

  it('the schemas, TRIBUTARY_DEBUG and TRIBUTARY_APPLIED_BY', () => {
    expect(schemasFromEnv({})).toEqual({ monitor: undefined, registry: undefined });
    expect(schemasFromEnv({ TRIBUTARY_MONITOR_SCHEMA: 'mon', TRIBUTARY_REGISTRY_SCHEMA: 'reg' })).toEqual({
      monitor: 'mon',
      registry: 'reg',
    });
    expect(debugFromEnv({})).toBe(false);
    expect(debugFromEnv({ TRIBUTARY_DEBUG: '1' })).toBe(true);
    expect(defaultAppliedBy({ TRIBUTARY_APPLIED_BY: 'ci-bot' })).toBe('ci-bot');
    expect(defaultAppliedBy({})).toMatch(/^.+@.+$/);
  });
});
