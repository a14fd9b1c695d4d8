/**
 * `POST /get-online-features`: Feast's feature-server lookup. Column-major answer, join keys
 * first; one online-store round trip for every view and entity of the request.
 *
 * This is the hot path (docs/serving.md, Performance): plans are cached per definitions version
 * and feature selection; the store hands back each record's values as their stored JSON text
 * (`readJson`) and `online-response.ts` copies them into the answer, written as JSON text directly
 * (the response schema below still documents it), without parsing and printing every value.
 */
import type { FastifyInstance } from 'fastify';
import type { RepoSpec } from '../../../shared/definitions/types.ts';
import { TributaryError } from '../../../shared/errors.ts';
import { coerceKey, type KeyValue } from '../../../shared/retrieval/entities.ts';
import { planRetrieval, type RetrievalPlan } from '../../../shared/retrieval/plan.ts';
import type { ServingContext } from '../context.ts';
import { onlineResponseJson, recordsAsJson } from '../online-response.ts';
import { entityColumns, errorResponses, featureSelection } from '../schemas.ts';

export type FeatureStatus = 'PRESENT' | 'NOT_FOUND' | 'NULL_VALUE' | 'OUTSIDE_MAX_AGE';

interface OnlineBody {
  features?: string[];
  feature_service?: string;
  entities: Record<string, unknown[]>;
  full_feature_names?: boolean;
}

/** Plans by definitions version (a new spec object per version), then by selection. */
const planCache = new WeakMap<RepoSpec, Map<string, RetrievalPlan>>();
/** Distinct selections kept per version; past it the cache starts over, so odd clients cannot grow it. */
const PLAN_CACHE_SIZE = 512;

function cachedPlan(repo: RepoSpec, body: OnlineBody): RetrievalPlan {
  let plans = planCache.get(repo);
  if (!plans) {
    plans = new Map();
    planCache.set(repo, plans);
  }
  const key = JSON.stringify([
    body.features ?? null,
    body.feature_service ?? null,
    body.full_feature_names === true,
  ]);
  let plan = plans.get(key);
  if (!plan) {
    plan = planRetrieval(
      repo,
      {
        features: body.features,
        featureService: body.feature_service,
        fullFeatureNames: body.full_feature_names,
      },
      'online',
    );
    if (plans.size >= PLAN_CACHE_SIZE) plans.clear();
    plans.set(key, plan);
  }
  return plan;
}

const schema = {
  summary: 'Latest feature values for entities (Feast shape)',
  tags: ['online'],
  body: {
    type: 'object',
    required: ['entities'],
    additionalProperties: false,
    properties: { ...featureSelection, entities: entityColumns },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        metadata: {
          type: 'object',
          properties: { feature_names: { type: 'array', items: { type: 'string' } } },
        },
        results: {
          type: 'array',
          description: 'results[i] belongs to metadata.feature_names[i]; one entry per entity row',
          items: {
            type: 'object',
            properties: {
              values: { type: 'array', items: {} },
              statuses: {
                type: 'array',
                items: { type: 'string', enum: ['PRESENT', 'NOT_FOUND', 'NULL_VALUE', 'OUTSIDE_MAX_AGE'] },
              },
              event_timestamps: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;

export function registerOnlineRoutes(app: FastifyInstance, context: ServingContext): void {
  app.post<{ Body: OnlineBody }>('/get-online-features', { schema }, async (request, reply) => {
    const body = request.body;
    const plan = cachedPlan(context.definitions.current(), body);
    const names = Object.keys(body.entities);
    for (const name of names) {
      if (!plan.joinKeys.some((k) => k.name === name)) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `'${name}' is not a join key of the requested feature views (${plan.joinKeys.map((k) => k.name).join(', ')})`,
          { details: { column: name } },
        );
      }
    }
    const keyColumns = new Map<string, KeyValue[]>();
    let rows: number | undefined;
    for (const key of plan.joinKeys) {
      const raw = body.entities[key.name];
      if (raw === undefined) {
        throw new TributaryError('TRIB_MISSING_ENTITY', `entities lack the join key '${key.name}'`, {
          details: { join_key: key.name },
        });
      }
      if (rows === undefined) rows = raw.length;
      else if (raw.length !== rows) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `entity columns differ in length (${rows} and ${raw.length})`,
        );
      }
      if (raw.length > context.limits.maxOnlineRows) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `${raw.length} entity rows is above the limit of ${context.limits.maxOnlineRows} per lookup`,
        );
      }
      keyColumns.set(
        key.name,
        raw.map((value, i) => {
          const coerced = coerceKey(key.type, value);
          if (coerced === undefined) {
            throw new TributaryError(
              'TRIB_BAD_REQUEST',
              `entities.${key.name}[${i}]: expected ${key.type}, got ${JSON.stringify(value)}`,
              { details: { column: key.name, row: i } },
            );
          }
          return coerced;
        }),
      );
    }
    const n = rows ?? 0;
    const requests = plan.views.map((view) => {
      const columns = view.layout.joinKeys.map((k) => keyColumns.get(k.name)!);
      return {
        view: view.layout,
        keys: Array.from({ length: n }, (_, i) => columns.map((column) => column[i]!)),
      };
    });
    const online = context.online;
    const records =
      n === 0
        ? plan.views.map(() => [])
        : online.readJson
          ? await online.readJson(requests)
          : (await online.read(requests)).map(recordsAsJson);
    context.metrics.rows.inc({ route: '/get-online-features' }, n);
    reply.type('application/json; charset=utf-8');
    return onlineResponseJson(plan, names, keyColumns, records, n, context.now());
  });
}
