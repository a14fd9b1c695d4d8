import { type Logger, pino } from 'pino';

export type { Logger };

/** A structured JSON logger (pino) with the service name on every line. */
export function createLogger(service: string, level: string = process.env['LOG_LEVEL'] || 'info'): Logger {
  return pino({ name: service, level, base: { service } });
}
