/**
 * `POST /get-online-features`: Feast's feature-server lookup. Column-major answer, join keys
 * first; one online-store round trip for every view and entity of the request.
 *
 * This is the hot path (docs/serving.md, Performance): plans are cached per definitions version
 * and feature selection (`plan-cache.ts`); the store hands back each record's values as their
 * stored JSON bytes (`readJson`) and `online-response.ts` copies them into the answer, written
 * as JSON bytes directly (the response schema below still documents it), without parsing and
 * printing every value, into a buffer reused once the answer is sent.
 */
import type { FastifyInstance } from 'fastify';
import { TributaryError } from '../../../shared/errors.ts';
import { badKeyValue, coerceKey, type KeyValue } from '../../../shared/retrieval/entities.ts';
import { jsonRecordOf } from '../../../shared/stores/online/json-record.ts';
import { AnswerBuffers } from '../byte-writer.ts';
import type { ServingContext } from '../context.ts';
import { onlineResponseJson } from '../online-response.ts';
import { PlanCache } from '../plan-cache.ts';
import { entityColumns, errorResponses, featureSelection } from '../schemas.ts';

export type FeatureStatus = 'PRESENT' | 'NOT_FOUND' | 'NULL_VALUE' | 'OUTSIDE_MAX_AGE';

interface OnlineBody {
  features?: string[];
  feature_service?: string;
  entities: Record<string, unknown[]>;
  full_feature_names?: boolean;
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
  const plans = new PlanCache();
  // Answers' buffers, reused once sent (byte-writer.ts: a fresh 284 KB buffer per answer made
  // the serving thread's full collections the lookups' p99).
  const buffers = new AnswerBuffers();
  app.post<{ Body: OnlineBody }>('/get-online-features', { schema }, async (request, reply) => {
    const body = request.body;
    const plan = plans.plan(context.definitions.current(), {
      features: body.features,
      featureService: body.feature_service,
      fullFeatureNames: body.full_feature_names,
    });
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
          if (coerced === undefined) throw badKeyValue(key.name, i, key.type, value);
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
          : (await online.read(requests)).map((records) => records.map((r) => r && jsonRecordOf(r)));
    context.metrics.rows.inc({ route: '/get-online-features' }, n);
    reply.type('application/json; charset=utf-8');
    const answer = onlineResponseJson(plan, names, keyColumns, records, n, context.now(), buffers);
    // 'finish': the socket has written the last byte, so the buffer can serve the next answer.
    reply.raw.once('finish', answer.release);
    return answer.bytes;
  });
}
