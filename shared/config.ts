import os from 'node:os';
import { TributaryError } from './errors.ts';
import { redactUrl } from './postgres/redact.ts';

/** Tributary's configuration, read once from the environment at start and frozen. */
export interface Config {
  readonly kafkaBrokers: readonly string[];
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /**
   * REDIS_CLUSTER_NODES: a Redis Cluster's `host:port` nodes for the online store; empty: the
   * single Redis of `redisUrl`. When set it wins over REDIS_URL (docs/configuration.md).
   */
  readonly redisClusterNodes: readonly string[];
  readonly repoPath: string;
  /** Bearer keys of the HTTP API and, off loopback, of the ops endpoints; empty: no auth. */
  readonly apiKeys: readonly string[];
  readonly port: number;
  /** Bind address of every listener (the API and the ops endpoints); default 127.0.0.1. */
  readonly host: string;
  /** TRIBUTARY_ALLOW_UNAUTHENTICATED: lets a listener bind beyond loopback without API keys. */
  readonly allowUnauthenticated: boolean;
  /** `/metrics` and `/health` port of `materialize`; the monitor uses it + 1. */
  readonly metricsPort: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly webhookUrl: string | undefined;
  /** Connections of the one Postgres pool a process shares among its adapters. */
  readonly pgPoolMax: number;
  /** Closed windows per model whose histograms the monitor keeps for the dashboard; 0: none. */
  readonly keepWindowDetail: number;
}

export const CONFIG_DEFAULTS = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/tributary',
  REDIS_URL: 'redis://127.0.0.1:6379',
  TRIBUTARY_REPO: './feature-defs',
  PORT: '6566',
  HOST: '127.0.0.1',
  METRICS_PORT: '9464',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'auto',
  TRIBUTARY_PG_POOL_MAX: '10',
  TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL: '500',
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

function parseBrokers(raw: string, variable = 'KAFKA_BROKERS', example = '127.0.0.1:9092'): string[] {
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  if (brokers.length === 0) throw invalid(variable, raw, 'comma-separated host:port');
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(broker);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw invalid(variable, raw, `comma-separated host:port, e.g. ${example}`);
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

function parseMetricsPort(raw: string): number {
  const port = Number(raw);
  // 65535 is left out: the monitor listens on METRICS_PORT + 1.
  if (!/^\d+$/.test(raw) || port > 65534)
    throw invalid('METRICS_PORT', raw, 'an integer 0–65534 (0: any free port)');
  return port;
}

function parseFlag(variable: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw invalid(variable, raw, '1 or true (or 0, false, unset)');
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

function parseKeepWindowDetail(raw: string): number {
  const n = Number(raw);
  // About 1 KB per numeric column and window: a million windows of 25 columns is ~25 GB.
  if (!/^\d+$/.test(raw) || n > 1_000_000) {
    throw invalid('TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL', raw, 'an integer 0–1000000');
  }
  return n;
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
  // createLogger reads LOG_FORMAT through logDefaultsFromEnv; checked here so a typo stops the
  // start, not the logs.
  const logFormat = get('LOG_FORMAT');
  if (!['auto', 'json', 'pretty'].includes(logFormat)) {
    throw invalid('LOG_FORMAT', logFormat, 'auto, json or pretty');
  }
  const webhookUrl = env['TRIBUTARY_WEBHOOK_URL'] || undefined;
  if (webhookUrl !== undefined) parseUrl('TRIBUTARY_WEBHOOK_URL', webhookUrl, ['http:', 'https:']);
  return Object.freeze({
    kafkaBrokers: Object.freeze(parseBrokers(get('KAFKA_BROKERS'))),
    databaseUrl: parseUrl('DATABASE_URL', get('DATABASE_URL'), ['postgres:', 'postgresql:']),
    redisUrl: parseUrl('REDIS_URL', get('REDIS_URL'), ['redis:', 'rediss:']),
    redisClusterNodes: Object.freeze(
      env['REDIS_CLUSTER_NODES']
        ? parseBrokers(env['REDIS_CLUSTER_NODES'], 'REDIS_CLUSTER_NODES', '127.0.0.1:7000,127.0.0.1:7001')
        : [],
    ),
    repoPath: get('TRIBUTARY_REPO'),
    apiKeys: Object.freeze(apiKeys),
    port: parsePort(get('PORT')),
    // Loopback even with API keys: reaching beyond the host is always a decision (HOST).
    host: get('HOST'),
    allowUnauthenticated: parseFlag(
      'TRIBUTARY_ALLOW_UNAUTHENTICATED',
      env['TRIBUTARY_ALLOW_UNAUTHENTICATED'],
    ),
    metricsPort: parseMetricsPort(get('METRICS_PORT')),
    logLevel: logLevel as Config['logLevel'],
    webhookUrl,
    pgPoolMax: parsePoolMax(get('TRIBUTARY_PG_POOL_MAX')),
    keepWindowDetail: parseKeepWindowDetail(get('TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL')),
  });
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1, `localhost`. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return (
    bare === 'localhost' ||
    bare === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
  );
}

/**
 * Refuses to listen beyond loopback without API keys, unless TRIBUTARY_ALLOW_UNAUTHENTICATED
 * says so: an open feature store or metrics endpoint on a network is a decision, not a default.
 * Every long-running command calls it before it connects to anything.
 */
export function checkListenPolicy(config: Pick<Config, 'host' | 'apiKeys' | 'allowUnauthenticated'>): void {
  if (isLoopback(config.host) || config.apiKeys.length > 0 || config.allowUnauthenticated) return;
  throw new TributaryError(
    'TRIB_CONFIG_INVALID',
    `HOST=${config.host} is not a loopback address and TRIBUTARY_API_KEYS is empty: set TRIBUTARY_API_KEYS, or TRIBUTARY_ALLOW_UNAUTHENTICATED=1 to listen without auth`,
    { details: { variable: 'HOST' } },
  );
}

/** Environment variable names a declaration may reference (`secretEnv`). */
export const SECRET_ENV_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * The value of the environment variable a declaration names for a secret (a webhook's
 * `secretEnv`); throws TRIB_CONFIG_INVALID naming the variable when it is unset or empty.
 * The value never reaches a message.
 */
export function secretFromEnv(variable: string, what: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = SECRET_ENV_PATTERN.test(variable) ? env[variable] : undefined;
  if (value === undefined || value === '') {
    throw new TributaryError(
      'TRIB_CONFIG_INVALID',
      `${variable} is not set: ${what} names it as its secret; set it in this process's environment`,
      { details: { variable } },
    );
  }
  return value;
}

// ---- Variables read outside loadConfig -----------------------------------------------------
// The one file that reads process.env (test/unit/architecture.test.ts enforces it): what a
// command reads before or without a Config comes from these accessors, each documented in
// docs/configuration.md.

/** METRICS_PORT alone, validated as loadConfig does: for a service started without a Config. */
export function metricsPortFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return parseMetricsPort(env['METRICS_PORT'] || CONFIG_DEFAULTS.METRICS_PORT);
}

/** The drift monitor's ops port: METRICS_PORT + 1; 0 stays 0 (any free port), never port 1. */
export function monitorOpsPort(metricsPort: number): number {
  return metricsPort === 0 ? 0 : metricsPort + 1;
}

/**
 * TRIBUTARY_MONITOR_SCHEMA and TRIBUTARY_REGISTRY_SCHEMA: a command's schemas when no option
 * names them; undefined when unset (the caller has the default). Checked where they are used,
 * as identifiers, like the options that override them.
 */
export function schemasFromEnv(env: NodeJS.ProcessEnv = process.env): {
  monitor: string | undefined;
  registry: string | undefined;
} {
  return {
    monitor: env['TRIBUTARY_MONITOR_SCHEMA'] || undefined,
    registry: env['TRIBUTARY_REGISTRY_SCHEMA'] || undefined,
  };
}

/**
 * The logger's defaults, for a logger its caller gives no level or format: LOG_LEVEL (else
 * `info`), LOG_FORMAT (else `auto`) and NO_COLOR (any value: no colours in pretty lines). Read
 * as set: loadConfig validates LOG_LEVEL and LOG_FORMAT when a service starts.
 */
export function logDefaultsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  level: string;
  format: string;
  color: boolean;
} {
  return {
    level: env['LOG_LEVEL'] || CONFIG_DEFAULTS.LOG_LEVEL,
    format: env['LOG_FORMAT'] || CONFIG_DEFAULTS.LOG_FORMAT,
    color: !env['NO_COLOR'],
  };
}

/** TRIBUTARY_DEBUG (any value): a failing CLI command also prints the error's stack. */
export function debugFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env['TRIBUTARY_DEBUG']);
}

/**
 * TRIBUTARY_KAFKA_CLIENT: which Kafka client the stream port runs on, `kafkajs` (default) or
 * `platformatic` (@platformatic/kafka); throws TRIB_CONFIG_INVALID for anything else.
 */
export function kafkaClientFromEnv(env: NodeJS.ProcessEnv = process.env): 'kafkajs' | 'platformatic' {
  const value = env['TRIBUTARY_KAFKA_CLIENT'] || 'kafkajs';
  if (value === 'kafkajs' || value === 'platformatic') return value;
  throw invalid('TRIBUTARY_KAFKA_CLIENT', value, 'kafkajs or platformatic');
}

/** Who is applying: TRIBUTARY_APPLIED_BY, else `user@host`. */
export function defaultAppliedBy(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['TRIBUTARY_APPLIED_BY'];
  if (explicit) return explicit;
  let user = env['USER'] || env['LOGNAME'] || 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (some containers): keep the environment's answer
  }
  return `${user}@${os.hostname()}`;
}
