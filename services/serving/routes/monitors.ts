/**
 * The drift monitor's query API as fastify routes, for the serving app to register:
 *
 *   GET /monitors                              models with closed windows
 *   GET /monitors/:model/windows?from&to&limit&model_version&drifted
 *   GET /monitors/:model/windows/:id          one window with its histograms and shares
 *   GET /monitors/:model/drift?from&to&limit   per-column drift rates over recent windows
 *   GET /monitors/:model/retrains?from&to&limit
 *   GET /monitors/:model/profiles              stored reference profiles
 *
 * `from`/`to` bound the window end (epoch ms or ISO-8601; `from` inclusive, `to` exclusive).
 * Errors answer `{"error": {"code", "message"}}` with the code's status, with or without the
 * app's own error handler.
 */

import type { FastifyInstance, FastifyReply } from 'fastify';
import { httpStatusOf, isTributaryError, TributaryError } from '../../../shared/errors.ts';
import type { MonitorQueries, RangeParams } from '../../../shared/monitoring/queries.ts';
import { postgresError, sqlState } from '../../../shared/postgres/errors.ts';

export interface MonitorRoutesDeps {
  queries: MonitorQueries;
}

const columnDrift = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['numeric', 'categorical'] },
    method: { type: ['string', 'null'] },
    score: { type: ['number', 'null'] },
    threshold: { type: ['number', 'null'] },
    drifted: { type: 'boolean' },
    missing_share: { type: 'number' },
    measured: { type: 'boolean' },
    reason: { type: 'string' },
  },
} as const;

const driftEvent = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'drift' },
    id: { type: 'string' },
    model: { type: 'string' },
    model_version: { type: 'string' },
    window: {
      type: 'object',
      properties: { start: { type: 'number' }, end: { type: 'number' }, rows: { type: 'integer' } },
    },
    features: { type: 'array', items: columnDrift },
    prediction: { anyOf: [columnDrift, { type: 'null' }] },
    dataset: {
      type: 'object',
      properties: {
        drifted_share: { type: 'number' },
        threshold: { type: 'number' },
        drifted: { type: 'boolean' },
      },
    },
  },
} as const;

const retrainEvent = {
  type: 'object',
  properties: {
    type: { type: 'string', const: 'retrain' },
    id: { type: 'string' },
    model: { type: 'string' },
    model_version: { type: 'string' },
    reason: { type: 'string' },
    windows: { type: 'array', items: { type: 'string' } },
    requested_at: { type: 'number' },
  },
} as const;

const errorBody = {
  type: 'object',
  properties: {
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

const modelParam = {
  type: 'object',
  required: ['model'],
  properties: { model: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

const rangeQuery = {
  type: 'object',
  properties: {
    from: { type: 'string', description: 'window end at or after: epoch ms or ISO-8601' },
    to: { type: 'string', description: 'window end before: epoch ms or ISO-8601' },
    limit: { type: 'string', description: 'at most this many, 1–1000 (default 100)' },
    model_version: { type: 'string' },
    drifted: { type: 'string', enum: ['true', 'false'], description: 'only windows whose dataset drifted' },
  },
} as const;

type ModelRequest = { Params: { model: string }; Querystring: RangeParams };

/**
 * The answer to a failed query. A client never sees SQL, a table name or a driver's message:
 * - a coded error passes with its code and message (the store's messages are written for
 *   clients: they name the fault and its SQLSTATE, see shared/postgres/errors.ts);
 * - a driver error that escaped uncoded is coded here by the same SQLSTATE mapping;
 * - a value Postgres refused while reading (class 22, TRIB_WRONG_TYPE) is a stored value, not
 *   the request's (parameters are checked before any query): TRIB_STORE_QUERY_FAILED, a 500,
 *   not a 400 that would send the client looking for a fault in its request;
 * - anything else is a bug: TRIB_INTERNAL naming what failed, the details in the server log.
 */
function fail(reply: FastifyReply, error: unknown, what: string): FastifyReply {
  let e: TributaryError;
  if (isTributaryError(error)) e = error;
  else if (sqlState(error) !== undefined) e = postgresError(error, what);
  else e = new TributaryError('TRIB_INTERNAL', `${what}: internal error, the server log has the details`);
  const state = e.details.sqlState;
  if (e.code === 'TRIB_WRONG_TYPE' && typeof state === 'string' && state.startsWith('22')) {
    e = new TributaryError(
      'TRIB_STORE_QUERY_FAILED',
      `${what}: Postgres cannot read a stored value (SQLSTATE ${state}); retrying cannot fix it, see docs/errors.md`,
      { cause: error, details: { sqlState: state } },
    );
  }
  const status = httpStatusOf(e.code);
  if (status >= 500) reply.log.error({ err: error }, 'monitor query failed');
  return reply
    .code(status)
    .type('application/json')
    .send({ error: { code: e.code, message: e.message } });
}

/** Registers the monitor query routes on `app` (under the app's own prefix, if any). */
export function registerMonitorRoutes(app: FastifyInstance, deps: MonitorRoutesDeps): void {
  const { queries } = deps;
  const tags = ['monitor'];

  app.get(
    '/monitors',
    {
      schema: {
        tags,
        summary: 'Models with closed drift windows',
        response: {
          200: {
            type: 'object',
            properties: {
              monitors: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    model: { type: 'string' },
                    windows: { type: 'integer' },
                    last_window_end: { type: 'number' },
                  },
                },
              },
            },
          },
          '5xx': errorBody,
        },
      },
    },
    async (_request, reply) => {
      try {
        const models = await queries.models();
        return {
          monitors: models.map((m) => ({
            model: m.model,
            windows: m.windows,
            last_window_end: m.lastWindowEnd,
          })),
        };
      } catch (error) {
        return fail(reply, error, 'cannot list the monitored models');
      }
    },
  );

  app.get<ModelRequest>(
    '/monitors/:model/windows',
    {
      schema: {
        tags,
        summary: 'Closed windows of a model (drift events), newest first',
        params: modelParam,
        querystring: rangeQuery,
        response: {
          200: { type: 'object', properties: { windows: { type: 'array', items: driftEvent } } },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (request, reply) => {
      try {
        return { windows: await queries.windows(request.params.model, request.query) };
      } catch (error) {
        return fail(reply, error, 'cannot read the drift windows');
      }
    },
  );

  app.get<{ Params: { model: string; id: string } }>(
    '/monitors/:model/windows/:id',
    {
      schema: {
        tags,
        summary:
          'One closed window: its drift event and, for the last N windows, per column the reference and window histograms or category shares',
        params: {
          type: 'object',
          required: ['model', 'id'],
          properties: {
            model: { type: 'string', minLength: 1, maxLength: 200 },
            id: { type: 'string', minLength: 1, maxLength: 200 },
          },
        },
        response: {
          // The detail's shape is documented in shared/monitoring/detail.ts; passed as stored.
          200: {
            type: 'object',
            properties: {
              window: driftEvent,
              detail: { anyOf: [{ type: 'object', additionalProperties: true }, { type: 'null' }] },
            },
          },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (request, reply) => {
      try {
        return await queries.window(request.params.model, request.params.id);
      } catch (error) {
        return fail(reply, error, 'cannot read the drift window');
      }
    },
  );

  app.get<ModelRequest>(
    '/monitors/:model/drift',
    {
      schema: {
        tags,
        summary:
          'Drift of a model over its recent windows: per column drift rates, latest verdicts, drift streak',
        params: modelParam,
        querystring: rangeQuery,
        response: {
          200: {
            type: 'object',
            properties: {
              model: { type: 'string' },
              windows: { type: 'integer' },
              drifted_windows: { type: 'integer' },
              current_drift_streak: { type: 'integer' },
              latest: { anyOf: [driftEvent, { type: 'null' }] },
              latest_retrain: { anyOf: [retrainEvent, { type: 'null' }] },
              columns: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    kind: { type: 'string' },
                    method: { type: ['string', 'null'] },
                    windows: { type: 'integer' },
                    drifted_windows: { type: 'integer' },
                    drift_rate: { type: 'number' },
                    latest_score: { type: ['number', 'null'] },
                    latest_drifted: { type: 'boolean' },
                  },
                },
              },
            },
          },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (request, reply) => {
      try {
        return await queries.drift(request.params.model, request.query);
      } catch (error) {
        return fail(reply, error, 'cannot summarize the drift');
      }
    },
  );

  app.get<ModelRequest>(
    '/monitors/:model/retrains',
    {
      schema: {
        tags,
        summary: 'Retraining requests of a model, newest first',
        params: modelParam,
        querystring: rangeQuery,
        response: {
          200: { type: 'object', properties: { retrains: { type: 'array', items: retrainEvent } } },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (request, reply) => {
      try {
        return { retrains: await queries.retrains(request.params.model, request.query) };
      } catch (error) {
        return fail(reply, error, 'cannot read the retraining requests');
      }
    },
  );

  app.get<ModelRequest>(
    '/monitors/:model/profiles',
    {
      schema: {
        tags,
        summary: 'Stored reference profiles of a model, newest first',
        params: modelParam,
        response: {
          200: {
            type: 'object',
            properties: {
              profiles: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    model_version: { type: 'string' },
                    created_at: { type: 'string' },
                    rows: { type: 'integer' },
                  },
                },
              },
            },
          },
          '5xx': errorBody,
        },
      },
    },
    async (request, reply) => {
      try {
        const profiles = await queries.profiles(request.params.model);
        return {
          profiles: profiles.map((p) => ({
            model_version: p.modelVersion,
            created_at: p.createdAt,
            rows: p.rows,
          })),
        };
      } catch (error) {
        return fail(reply, error, 'cannot list the profiles');
      }
    },
  );
}
