/** `GET /health` (200 healthy, 503 not) and `GET /metrics` (Prometheus text). */
import type { FastifyInstance } from 'fastify';
import type { ServingContext } from '../context.ts';

export function registerOpsRoutes(app: FastifyInstance, context: ServingContext): void {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Health: definitions loaded and each dependency reachable',
        tags: ['ops'],
        response: {
          200: { type: 'object', additionalProperties: true },
          503: { type: 'object', additionalProperties: true },
        },
      },
    },
    async (_request, reply) => {
      const checks: Record<string, boolean> = {};
      try {
        context.definitions.current();
        checks['definitions'] = true;
      } catch {
        checks['definitions'] = false;
      }
      await Promise.all(
        Object.entries(context.health ?? {}).map(async ([name, check]) => {
          checks[name] = await check().catch(() => false);
        }),
      );
      const ok = Object.values(checks).every(Boolean);
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', checks });
    },
  );
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['ops'] } },
    async (_request, reply) => {
      reply.type(context.metrics.registry.contentType);
      return context.metrics.registry.metrics();
    },
  );
}
