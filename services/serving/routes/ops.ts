/** `GET /health` (200 healthy, 503 not) and `GET /metrics` (Prometheus text). */
import type { FastifyInstance } from 'fastify';
import { checkDependencies } from '../../../shared/observability/health.ts';
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
      const report = await checkDependencies({
        definitions: async () => context.definitions.current(),
        ...context.health,
      });
      // 503 names what is down, so an operator (or an orchestrator's log) knows where to look.
      return reply.code(report.ok ? 200 : 503).send({
        status: report.ok ? 'ok' : 'degraded',
        dependencies: report.dependencies,
        down: report.down,
      });
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
