import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { isLoopback } from '../config.ts';
import { TributaryError } from '../errors.ts';

export interface HealthReport {
  ok: boolean;
  [detail: string]: unknown;
}

/**
 * A listen failure as the one line an operator acts on: which address, which setting picks
 * it, what to do. EADDRINUSE and friends otherwise surface as a bare libuv message.
 */
export function listenError(error: unknown, host: string, port: number, setting: string): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host}:${port}`;
  const reasons: Record<string, string> = {
    EADDRINUSE: `${where} is already in use (another process listens there): stop it, or choose another port with ${setting}`,
    EACCES: `${where} needs privileges to listen on: choose a port above 1023 with ${setting}`,
    EADDRNOTAVAIL: `${host} is not an address of this host: fix HOST`,
    ENOTFOUND: `${host} does not resolve: fix HOST`,
  };
  const reason = code ? reasons[code] : undefined;
  if (!reason) return error instanceof Error ? error : new Error(String(error));
  return new TributaryError('TRIB_CONFIG_INVALID', `cannot listen: ${reason}`, {
    cause: error,
    details: { host, port, errno: code },
  });
}

/**
 * Fails at once, with `listenError`'s line, when `host:port` cannot be listened on; used before
 * a command connects to Kafka, Postgres and Redis, so a taken port costs no start-up. Port 0
 * (any free port) always passes. The port is released again before this returns.
 */
export async function checkPortFree(host: string, port: number, setting: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error) => reject(listenError(error, host, port, setting)));
    probe.listen({ port, host, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** True when `request` comes from this host or carries one of `keys` as a Bearer token. */
function allowed(request: IncomingMessage, keys: readonly Buffer[]): boolean {
  if (keys.length === 0 || isLoopback(request.socket.remoteAddress ?? '')) return true;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  return keys.some((key) => key.length === given.length && timingSafeEqual(key, given));
}

/**
 * A small HTTP server for a background service (materializer, monitor): `GET /metrics` in
 * Prometheus text and `GET /health` (200 when healthy, 503 when not) for orchestrators.
 * With `apiKeys`, a request from beyond loopback needs `Authorization: Bearer <key>` on both;
 * local probes need none. Whether it may bind beyond loopback without keys at all is the
 * caller's check (`checkListenPolicy` in shared/config.ts).
 */
export async function startOpsServer(options: {
  port: number;
  host?: string;
  /** Keys a non-loopback request must present; empty or absent: none needed. */
  apiKeys?: readonly string[];
  /** What sets the port, named in a listen error: `--metrics-port or METRICS_PORT`. */
  portSetting?: string;
  registry: Registry;
  health: () => HealthReport | Promise<HealthReport>;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const keys = (options.apiKeys ?? []).map((k) => Buffer.from(k));
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    void (async () => {
      try {
        if (!allowed(request, keys)) {
          response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
          response.end(
            JSON.stringify({
              error: {
                code: 'TRIB_UNAUTHORIZED',
                message: 'missing or unknown API key: send Authorization: Bearer <key>',
              },
            }),
          );
        } else if (request.method === 'GET' && request.url === '/metrics') {
          response.writeHead(200, { 'content-type': options.registry.contentType });
          response.end(await options.registry.metrics());
        } else if (request.method === 'GET' && request.url === '/health') {
          const report = await options.health();
          response.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' });
          response.end(JSON.stringify(report));
        } else {
          response.writeHead(404, { 'content-type': 'application/json' });
          response.end(
            JSON.stringify({ error: { code: 'TRIB_NOT_FOUND', message: 'try GET /metrics or GET /health' } }),
          );
        }
      } catch (error) {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { code: 'TRIB_INTERNAL', message: (error as Error).message } }));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(listenError(error, host, options.port, options.portSetting ?? 'the metrics port option')),
    );
    server.listen(options.port, host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
