import { TributaryError } from './errors.ts';
import { redactUrl } from './postgres/redact.ts';

/** Tributary's configuration, read once from the environment at start and frozen. */
export interface Config {
  readonly kafkaBrokers: readonly string[];
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly repoPath: string;
  /** Empty: no auth, and the server binds 127.0.0.1 only. */
  readonly apiKeys: readonly string[];
  readonly port: number;
  readonly host: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly webhookUrl: string | undefined;
  readonly webhookSecret: string | undefined;
  /** Connections of the one Postgres pool a process shares among its adapters. */
  readonly pgPoolMax: number;
}

export const CONFIG_DEFAULTS = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tributary',
  REDIS_URL: 'redis://127.0.0.1:6379',
  TRIBUTARY_REPO: './feature-defs',
  PORT: '6566',
  LOG_LEVEL: 'info',
  TRIBUTARY_PG_POOL_MAX: '10',
} as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function invalid(variable: string, value: string, expected: string): TributaryError {
  // A URL's password never reaches a message: DATABASE_URL=postgres://user:***@host/db.
  return new TributaryError(
    'TRIB_CONFIG_INVALID',
    `${variable}=${JSON.stringify(redactUrl(value))} is invalid: expected ${expected}`,
    { details: { variable } },
  );
}

function parseBrokers(raw: string): string[] {
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  if (brokers.length === 0) throw invalid('KAFKA_BROKERS', raw, 'comma-separated host:port');
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(broker);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw invalid('KAFKA_BROKERS', raw, 'comma-separated host:port, e.g. 127.0.0.1:9092');
    }
  }
  return brokers;
}

function parseUrl(variable: string, raw: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(variable, raw, `a URL starting with ${protocols.join(' or ')}`);
  }
  if (!protocols.includes(url.protocol)) {
    throw invalid(variable, raw, `a URL starting with ${protocols.join(' or ')}`);
  }
  return raw;
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) throw invalid('PORT', raw, 'an integer 1–65535');
  return port;
}

function parsePoolMax(raw: string): number {
  const max = Number(raw);
  // Two at least: an apply holds the registry's lock on one connection while the offline store
  // creates tables on another, and a historical retrieval probes on two at once.
  if (!/^\d+$/.test(raw) || max < 2 || max > 1000) {
    throw invalid('TRIBUTARY_PG_POOL_MAX', raw, 'an integer 2–1000');
  }
  return max;
}

/** Reads and validates the configuration; throws TRIB_CONFIG_INVALID naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const get = (name: keyof typeof CONFIG_DEFAULTS): string => {
    const value = env[name];
    return value === undefined || value === '' ? CONFIG_DEFAULTS[name] : value;
  };
  const apiKeys = (env['TRIBUTARY_API_KEYS'] ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  const logLevel = get('LOG_LEVEL');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw invalid('LOG_LEVEL', logLevel, LOG_LEVELS.join(', '));
  }
  const webhookUrl = env['TRIBUTARY_WEBHOOK_URL'] || undefined;
  if (webhookUrl !== undefined) parseUrl('TRIBUTARY_WEBHOOK_URL', webhookUrl, ['http:', 'https:']);
  return Object.freeze({
    kafkaBrokers: Object.freeze(parseBrokers(get('KAFKA_BROKERS'))),
    databaseUrl: parseUrl('DATABASE_URL', get('DATABASE_URL'), ['postgres:', 'postgresql:']),
    redisUrl: parseUrl('REDIS_URL', get('REDIS_URL'), ['redis:', 'rediss:']),
    repoPath: get('TRIBUTARY_REPO'),
    apiKeys: Object.freeze(apiKeys),
    port: parsePort(get('PORT')),
    host: env['HOST'] || (apiKeys.length === 0 ? '127.0.0.1' : '0.0.0.0'),
    logLevel: logLevel as Config['logLevel'],
    webhookUrl,
    webhookSecret: env['TRIBUTARY_WEBHOOK_SECRET'] || undefined,
    pgPoolMax: parsePoolMax(get('TRIBUTARY_PG_POOL_MAX')),
  });
}
