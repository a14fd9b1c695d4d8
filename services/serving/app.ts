/**
 * The serving HTTP API (fastify), built by `buildApp(deps)` and started elsewhere (`tributary
 * serve`), so tests drive it with `app.inject()`. Routes are schema-first: their JSON schemas
 * validate requests and shape responses, and @fastify/swagger turns the same schemas into the
 * OpenAPI document (`GET /openapi.json`, rendered at `/docs`), so the document cannot drift from
 * what the server accepts.
 */
import { timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { type ErrorCode, httpStatusOf, isTributaryError, type TributaryError } from '../../shared/errors.ts';
import { DEFAULT_LIMITS, type ServingContext, type ServingDeps, type ServingLimits } from './context.ts';
import {
  clientErrorHandler,
  formatSchemaErrors,
  parseJsonBody,
  unsupportedMediaTypeMessage,
} from './request-errors.ts';
import { ARROW_STREAM, registerHistoricalRoutes } from './routes/historical.ts';
import { registerMonitorRoutes } from './routes/monitors.ts';
import { registerOnlineRoutes } from './routes/online.ts';
import { registerOpsRoutes } from './routes/ops.ts';
import { registerPredictionRoutes } from './routes/predictions.ts';
import { registerPushRoutes } from './routes/push.ts';
import { registerRegistryRoutes } from './routes/registry.ts';
import { errorResponse } from './schemas.ts';
import { authorizeUi, registerUiRoutes } from './ui/routes.ts';

/** Sends `{"error": {"code", "message"}}` with the code's status. */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.code(httpStatusOf(code)).type('application/json').send({ error: { code, message } });
}

/** Maps fastify's own errors (validation, body size, media type, bad JSON) to Tributary codes. */
function codeOfFastifyError(error: FastifyError): ErrorCode {
  if (error.validation) return 'TRIB_BAD_REQUEST';
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'TRIB_BODY_TOO_LARGE';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'TRIB_UNSUPPORTED_MEDIA_TYPE'
        : 'TRIB_BAD_REQUEST';
    default:
      return error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
        ? 'TRIB_BAD_REQUEST'
        : 'TRIB_INTERNAL';
  }
}

/**
 * A bug's own text (a driver's message, a stack's TypeError) means nothing to a client and may
 * show internals: the client gets the request id, which the log line carries with the details.
 */
function internalError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  request.log.error({ err: error }, 'unexpected error');
  return sendError(
    reply,
    'TRIB_INTERNAL',
    `internal error (request ${request.id}): the server log has the details under this id`,
  );
}

/** The body types a route reads, for the 415 message. */
function acceptedContentTypes(request: FastifyRequest): string[] {
  return request.routeOptions.url === '/get-historical-features'
    ? ['application/json', ARROW_STREAM]
    : ['application/json'];
}

function sizeOf(bytes: number): string {
  return bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : bytes % 1024 === 0
      ? `${bytes / 1024} KiB`
      : `${bytes} bytes`;
}

function keyMatches(presented: string, keys: readonly Buffer[]): boolean {
  const candidate = Buffer.from(presented);
  let ok = false;
  // Compare against every key, so the time taken does not tell which key nearly matched.
  for (const key of keys) {
    if (key.length === candidate.length && timingSafeEqual(key, candidate)) ok = true;
  }
  return ok;
}

/** Paths reachable without an API key: liveness for orchestrators. */
const OPEN_PATHS = new Set(['/health']);

/** Builds the serving app (not listening); `await app.ready()` or `app.inject()` to use it. */
export async function buildApp(deps: ServingDeps): Promise<FastifyInstance> {
  const limits: ServingLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const context: ServingContext = {
    ...deps,
    limits,
    now: deps.now ?? Date.now,
    metrics: {
      registry,
      requests: new Counter({
        name: 'tributary_http_requests_total',
        help: 'HTTP requests by route, method and status',
        labelNames: ['route', 'method', 'status'],
        registers: [registry],
      }),
      duration: new Histogram({
        name: 'tributary_http_request_duration_seconds',
        help: 'HTTP request duration by route',
        labelNames: ['route'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
      rows: new Counter({
        name: 'tributary_served_entity_rows_total',
        help: 'Entity rows answered, by route',
        labelNames: ['route'],
        registers: [registry],
      }),
    },
  };

  // Typed as the default instance: routes take `FastifyInstance`, whatever logger it carries.
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyInstance['log'],
    bodyLimit: limits.bodyLimitBytes,
    // Per-request lines would be one per call at this rate; routes log what matters themselves.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: {
      customOptions: { coerceTypes: false, allErrors: false, removeAdditional: false, keywords: ['example'] },
    },
    schemaErrorFormatter: formatSchemaErrors,
    clientErrorHandler,
    // Fastify answers a URL it cannot decode (`/%`) here, before any route or error handler.
    frameworkErrors: (error, request, reply) => {
      sendError(
        reply,
        'TRIB_BAD_REQUEST',
        error.code === 'FST_ERR_BAD_URL'
          ? `the URL ${JSON.stringify(request.url)} is not valid: a '%' must start an escape of two hex digits (%25 for '%' itself)`
          : `the request could not be routed: ${error.message}`,
      );
    },
  }) as unknown as FastifyInstance;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  // No route reads text; without this fastify hands a text/plain body to the schema as a string.
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tributary feature server',
        description:
          'Online lookups, pushes and point-in-time historical retrieval. Errors are `{"error": {"code", "message"}}`.',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'one of TRIBUTARY_API_KEYS' },
        },
      },
      security: deps.config.apiKeys.length > 0 ? [{ bearer: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const keys = deps.config.apiKeys.map((k) => Buffer.from(k));
  if (keys.length > 0) {
    // Callback hooks (not async): no promise per request on the hot path.
    app.addHook('onRequest', (request, reply, done) => {
      const url = request.url;
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      if (OPEN_PATHS.has(path)) return done();
      // The dashboard also takes its session cookie (browsers send no Bearer header on a link).
      if (path === '/ui' || path.startsWith('/ui/')) {
        if (authorizeUi(request, reply, path, (k) => keyMatches(k, keys), deps.config.apiKeys)) done();
        return;
      }
      const header = request.headers.authorization ?? '';
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match || !keyMatches(match[1]!, keys)) {
        // Answered here: fastify skips the route; `done` is not called.
        sendError(reply, 'TRIB_UNAUTHORIZED', 'missing or unknown API key: send Authorization: Bearer <key>');
        return;
      }
      done();
    });
  }

  // Label objects reused per route (and per method and status), not built per request.
  const routeLabels = new Map<
    string,
    { route: { route: string }; byStatus: Map<string, Record<string, string>> }
  >();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    let labels = routeLabels.get(route);
    if (labels === undefined) {
      labels = { route: { route }, byStatus: new Map() };
      routeLabels.set(route, labels);
    }
    const key = `${request.method} ${reply.statusCode}`;
    let counted = labels.byStatus.get(key);
    if (counted === undefined) {
      counted = { route, method: request.method, status: String(reply.statusCode) };
      labels.byStatus.set(key, counted);
    }
    context.metrics.requests.inc(counted);
    context.metrics.duration.observe(labels.route, reply.elapsedTime / 1000);
    done();
  });

  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, 'TRIB_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);

  app.setErrorHandler((error: FastifyError | TributaryError, request, reply) => {
    // No route: a body it could not parse does not matter, the 404 does.
    if (request.is404) return notFound(request, reply);
    if (isTributaryError(error)) {
      if (error.code === 'TRIB_INTERNAL') return internalError(request, reply, error);
      if (httpStatusOf(error.code) >= 500) request.log.error({ err: error }, 'request failed');
      return sendError(reply, error.code, error.message);
    }
    const code = codeOfFastifyError(error as FastifyError);
    switch (code) {
      case 'TRIB_UNSUPPORTED_MEDIA_TYPE':
        return sendError(
          reply,
          code,
          unsupportedMediaTypeMessage(request.headers['content-type'], acceptedContentTypes(request)),
        );
      case 'TRIB_BODY_TOO_LARGE':
        return sendError(
          reply,
          code,
          `the body is larger than this route's limit of ${sizeOf(request.routeOptions.bodyLimit ?? limits.bodyLimitBytes)}: split the request`,
        );
      case 'TRIB_INTERNAL':
        return internalError(request, reply, error);
      default:
        return sendError(reply, code, error.message);
    }
  });
  app.setNotFoundHandler(notFound);

  registerOnlineRoutes(app, context);
  registerPushRoutes(app, context);
  registerPredictionRoutes(app, context);
  registerHistoricalRoutes(app, context);
  registerRegistryRoutes(app, context);
  registerOpsRoutes(app, context);
  if (deps.monitorQueries) registerMonitorRoutes(app, { queries: deps.monitorQueries });
  await registerUiRoutes(app, {
    queries: deps.monitorQueries,
    definitions: deps.definitions,
    featureViewStats: deps.featureViewStats,
    apiKeys: deps.config.apiKeys,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

export { DEFAULT_LIMITS, type ServingContext, type ServingDeps, type ServingLimits } from './context.ts';
export { errorResponse };
