/**
 * `POST /get-online-features`: Feast's feature-server lookup. Column-major answer, join keys
 * first; one online-store round trip for every view and entity of the request.
 */
import type { FastifyInstance } from 'fastify';
import { TributaryError } from '../../../shared/errors.ts';
import { coerceKey, type KeyValue } from '../../../shared/retrieval/entities.ts';
import { isoTimestamp, jsonValue } from '../../../shared/retrieval/json.ts';
import { planRetrieval } from '../../../shared/retrieval/plan.ts';
import type { ServingContext } from '../app.ts';
import { entityColumns, errorResponses, featureSelection } from '../schemas.ts';

export type FeatureStatus = 'PRESENT' | 'NOT_FOUND' | 'NULL_VALUE' | 'OUTSIDE_MAX_AGE';

interface OnlineBody {
  features?: string[];
  feature_service?: string;
  entities: Record<string, unknown[]>;
  full_feature_names?: boolean;
}

interface FeatureVector {
  values: unknown[];
  statuses: FeatureStatus[];
  event_timestamps: string[];
}

const EPOCH = '1970-01-01T00:00:00Z';

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
  app.post<{ Body: OnlineBody }>('/get-online-features', { schema }, async (request) => {
    const body = request.body;
    const plan = planRetrieval(
      context.definitions.current(),
      {
        features: body.features,
        featureService: body.feature_service,
        fullFeatureNames: body.full_feature_names,
      },
      'online',
    );
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
            plan.views.map((view) => ({
              view: view.layout,
              keys: Array.from({ length: n }, (_, i) =>
                view.layout.joinKeys.map((k) => keyColumns.get(k.name)![i]!),
              ),
            })),
          );
    context.metrics.rows.inc({ route: '/get-online-features' }, n);

    const now = context.now();
    const results: FeatureVector[] = [];
    const featureNames: string[] = [];
    // Join keys first, in the order the request gave them.
    for (const name of names) {
      featureNames.push(name);
      results.push({
        values: keyColumns.get(name)!.map(jsonValue),
        statuses: new Array<FeatureStatus>(n).fill('PRESENT'),
        event_timestamps: new Array<string>(n).fill(EPOCH),
      });
    }
    plan.views.forEach((view, v) => {
      const viewRecords = records[v] ?? [];
      const ttl = view.layout.ttlMs;
      for (const feature of view.features) {
        const vector: FeatureVector = { values: [], statuses: [], event_timestamps: [] };
        for (let i = 0; i < n; i++) {
          const record = viewRecords[i] ?? null;
          if (record === null) {
            vector.values.push(null);
            vector.statuses.push('NOT_FOUND');
            vector.event_timestamps.push(EPOCH);
            continue;
          }
          vector.event_timestamps.push(isoTimestamp(record.eventTimestamp));
          // Same boundary as the point-in-time join: valid while event time > now - ttl.
          if (ttl > 0 && record.eventTimestamp <= now - ttl) {
            vector.values.push(null);
            vector.statuses.push('OUTSIDE_MAX_AGE');
            continue;
          }
          const value = record.values[feature.schemaIndex] ?? null;
          vector.values.push(jsonValue(value));
          vector.statuses.push(value === null ? 'NULL_VALUE' : 'PRESENT');
        }
        featureNames.push(feature.outputName);
        results.push(vector);
      }
    });
    // Features keep request order across views.
    const order = [
      ...names.map((_, i) => i),
      ...plan.features.map((f) => names.length + featureNames.slice(names.length).indexOf(f.outputName)),
    ];
    return {
      metadata: { feature_names: order.map((i) => featureNames[i]!) },
      results: order.map((i) => results[i]!),
    };
  });
}
