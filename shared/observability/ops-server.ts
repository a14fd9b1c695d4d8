import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthReport {
  ok: boolean;
  [detail: string]: unknown;
}

/**
 * A small HTTP server for a background service (materializer, monitor): `GET /metrics` in
 * Prometheus text and `GET /health` (200 when healthy, 503 when not) for orchestrators.
 */
export async function startOpsServer(options: {
  port: number;
  host?: string;
  registry: Registry;
  health: () => HealthReport | Promise<HealthReport>;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    void (async () => {
      try {
        if (request.method === 'GET' && request.url === '/metrics') {
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
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
