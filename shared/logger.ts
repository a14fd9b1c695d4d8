import { type DestinationStream, type Logger, pino } from 'pino';
import { logDefaultsFromEnv } from './config.ts';

export type { Logger };

/** How log lines look: `json` for collectors, `pretty` for a person; `auto` picks by the terminal. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormatSetting = (typeof LOG_FORMATS)[number];

/** `auto` (or unset) means pretty on a terminal, JSON otherwise (a pipe, a file, a container log). */
export function resolveLogFormat(setting: string | undefined, isTTY: boolean): 'json' | 'pretty' {
  if (setting === 'json' || setting === 'pretty') return setting;
  return isTTY ? 'pretty' : 'json';
}

export interface LoggerOptions {
  /** Default: LOG_FORMAT (validated by loadConfig at start), else `auto`. */
  format?: string;
  /** Colours in pretty lines on a terminal; default: unless NO_COLOR is set. */
  color?: boolean;
  /** Where lines go; default stdout. Its `isTTY` decides `auto`. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * A structured logger (pino) with the service name on every line: level names and ISO times,
 * as JSON or, on a terminal, as one readable line each.
 */
export function createLogger(service: string, level?: string, options: LoggerOptions = {}): Logger {
  const defaults = logDefaultsFromEnv();
  const out = options.destination ?? process.stdout;
  const format = resolveLogFormat(options.format ?? defaults.format, out.isTTY === true);
  const settings = {
    name: service,
    level: level ?? defaults.level,
    base: { service },
    // Names and ISO times read the same in a terminal, `jq` and a log collector.
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (format === 'pretty')
    return pino(settings, prettyStream(out, out.isTTY === true && (options.color ?? defaults.color)));
  return options.destination ? pino(settings, options.destination as DestinationStream) : pino(settings);
}

const OMIT = new Set(['level', 'time', 'service', 'name', 'msg', 'err']);
const COLOURS: Record<string, string> = {
  trace: '90',
  debug: '36',
  info: '32',
  warn: '33',
  error: '31',
  fatal: '35',
};

/**
 * pino's JSON line as `time LEVEL service: message key=value …`. A tiny formatter instead of
 * pino-pretty: one dependency and a worker thread fewer for a handful of lines a minute. The
 * stack of an error is shown only at error level and above: a retried failure is one line.
 */
export function formatPretty(line: string, colour = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = String(entry['level']);
  const label = level.toUpperCase().padEnd(5);
  const fields = Object.entries(entry)
    .filter(([key, value]) => !OMIT.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? quoted(value) : JSON.stringify(value)}`);
  const err = entry['err'] as { type?: string; message?: string; code?: string; stack?: string } | undefined;
  if (err) fields.unshift(`err=${quoted(`${err.code ?? err.type ?? 'Error'}: ${err.message ?? ''}`)}`);
  const head = `${entry['time']} ${colour ? `\x1b[${COLOURS[level] ?? '0'}m${label}\x1b[0m` : label} ${entry['service'] ?? entry['name']}: ${entry['msg'] ?? ''}`;
  const stack =
    err?.stack && (level === 'error' || level === 'fatal')
      ? `\n    ${err.stack.split('\n').join('\n    ')}`
      : '';
  return `${[head, ...fields].join(' ')}${stack}\n`;
}

function quoted(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

function prettyStream(out: NodeJS.WritableStream, colour: boolean): DestinationStream {
  return { write: (line: string) => void out.write(formatPretty(line, colour)) };
}

/**
 * One line per state change of an outage, not one per retry: the first failure of a `key`
 * (a store, a step) is a warn naming what to check, further attempts are debug, and the first
 * success after it is one info line with the outage's duration and attempts. Keys are shared
 * by concurrent callers (every partition writing to the same store is one outage).
 */
export class OutageLog {
  private readonly open = new Map<string, { since: number; attempts: number }>();

  constructor(private readonly logger: Logger) {}

  /** A failed attempt: a warn if it starts an outage of `key`, else debug. */
  failed(key: string, fields: Record<string, unknown>, message: string): void {
    const outage = this.open.get(key);
    if (outage) {
      outage.attempts++;
      this.logger.debug({ ...fields, attempt: outage.attempts }, `${message} (attempt ${outage.attempts})`);
      return;
    }
    this.open.set(key, { since: Date.now(), attempts: 1 });
    this.logger.warn(fields, `${message} (further attempts log at debug until it recovers)`);
  }

  /** A success: ends the outage of `key`, if one is open, with one info line. */
  recovered(key: string, fields: Record<string, unknown> = {}, message = `${key}: recovered`): void {
    const outage = this.open.get(key);
    if (!outage) return;
    this.open.delete(key);
    this.logger.info(
      { ...fields, outageMs: Date.now() - outage.since, failedAttempts: outage.attempts },
      message,
    );
  }

  /** Ends an outage without a recovery line (the failure turned into a hold, logged as such). */
  forget(key: string): void {
    this.open.delete(key);
  }
}
