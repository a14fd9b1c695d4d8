/**
 * `POST /get-online-features`: Feast's feature-server lookup. Column-major answer, join keys
 * first; one online-store round trip for every view and entity of the request.
 *
 * This is the hot path (docs/serving.md, Performance): plans are cached per definitions version
 * and feature selection, each stored record's timestamp is formatted once per view rather than
 * once per feature, and the answer is written as JSON text directly (the response schema below
 * still documents it), since generic serialization of 5,000 values × 3 arrays dominated a
 * 100 × 50 lookup.
 */
import type { FastifyInstance } from 'fastify';
import type { RepoSpec } from '../../../shared/definitions/types.ts';
import { TributaryError } from '../../../shared/errors.ts';
import { coerceKey, type KeyValue } from '../../../shared/retrieval/entities.ts';
import { isoTimestamp, jsonValue } from '../../../shared/retrieval/json.ts';
import { planRetrieval, type RetrievalPlan } from '../../../shared/retrieval/plan.ts';
import type { OnlineRecord } from '../../../shared/stores/online/port.ts';
import type { ServingContext } from '../context.ts';
import { entityColumns, errorResponses, featureSelection } from '../schemas.ts';

export type FeatureStatus = 'PRESENT' | 'NOT_FOUND' | 'NULL_VALUE' | 'OUTSIDE_MAX_AGE';

interface OnlineBody {
  features?: string[];
  feature_service?: string;
  entities: Record<string, unknown[]>;
  full_feature_names?: boolean;
}

const EPOCH_JSON = '"1970-01-01T00:00:00Z"';

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

/** A feature or key value as JSON text: int64 as a number while exact, else a decimal string. */
function valueJson(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return JSON.stringify(jsonValue(value)) ?? 'null';
}

/** Per entity row of one view: the record to answer from, or null for NOT_FOUND / OUTSIDE_MAX_AGE. */
interface ViewAnswer {
  live: (OnlineRecord | null)[];
  /** Status of rows without a live record. */
  missing: ('"NOT_FOUND"' | '"OUTSIDE_MAX_AGE"')[];
  /** `event_timestamps` of every feature of this view, as JSON text. */
  timestampsJson: string;
}

function viewAnswer(
  records: readonly (OnlineRecord | null)[],
  n: number,
  ttlMs: number,
  now: number,
): ViewAnswer {
  const live: (OnlineRecord | null)[] = new Array(n);
  const missing: ViewAnswer['missing'] = new Array(n);
  let timestamps = '[';
  for (let i = 0; i < n; i++) {
    const record = records[i] ?? null;
    if (i > 0) timestamps += ',';
    if (record === null) {
      live[i] = null;
      missing[i] = '"NOT_FOUND"';
      timestamps += EPOCH_JSON;
      continue;
    }
    timestamps += `"${isoTimestamp(record.eventTimestamp)}"`;
    // Same boundary as the point-in-time join: valid while event time > now - ttl.
    if (ttlMs > 0 && record.eventTimestamp <= now - ttlMs) {
      live[i] = null;
      missing[i] = '"OUTSIDE_MAX_AGE"';
    } else {
      live[i] = record;
    }
  }
  return { live, missing, timestampsJson: `${timestamps}]` };
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
    const records =
      n === 0
        ? plan.views.map(() => [])
        : await context.online.read(
            plan.views.map((view) => {
              const columns = view.layout.joinKeys.map((k) => keyColumns.get(k.name)!);
              return {
                view: view.layout,
                keys: Array.from({ length: n }, (_, i) => columns.map((column) => column[i]!)),
              };
            }),
          );
    context.metrics.rows.inc({ route: '/get-online-features' }, n);

    const now = context.now();
    const answers = new Map<string, ViewAnswer>();
    plan.views.forEach((view, v) => {
      answers.set(view.spec.name, viewAnswer(records[v] ?? [], n, view.layout.ttlMs, now));
    });
    const present = `[${new Array<string>(n).fill('"PRESENT"').join(',')}]`;
    const epochs = `[${new Array<string>(n).fill(EPOCH_JSON).join(',')}]`;
    const featureNames: string[] = [];
    const results: string[] = [];
    // Join keys first, in the order the request gave them; then features in request order.
    for (const name of names) {
      featureNames.push(name);
      const values = keyColumns.get(name)!.map(valueJson).join(',');
      results.push(`{"values":[${values}],"statuses":${present},"event_timestamps":${epochs}}`);
    }
    for (const feature of plan.features) {
      featureNames.push(feature.outputName);
      const answer = answers.get(feature.view)!;
      let values = '[';
      let statuses = '[';
      for (let i = 0; i < n; i++) {
        if (i > 0) {
          values += ',';
          statuses += ',';
        }
        const record = answer.live[i];
        if (record === null || record === undefined) {
          values += 'null';
          statuses += answer.missing[i];
          continue;
        }
        const value = record.values[feature.schemaIndex] ?? null;
        if (value === null) {
          values += 'null';
          statuses += '"NULL_VALUE"';
        } else {
          values += valueJson(value);
          statuses += '"PRESENT"';
        }
      }
      results.push(
        `{"values":${values}],"statuses":${statuses}],"event_timestamps":${answer.timestampsJson}}`,
      );
    }
    reply.type('application/json; charset=utf-8');
    return `{"metadata":{"feature_names":${JSON.stringify(featureNames)}},"results":[${results.join(',')}]}`;
  });
}
