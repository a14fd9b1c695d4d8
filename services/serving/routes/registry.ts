/** `GET /feature-views`, `GET /feature-services`: what can be asked for, from the live registry. */
import type { FastifyInstance } from 'fastify';
import type { ServingContext } from '../context.ts';
import { errorResponses } from '../schemas.ts';

const field = {
  type: 'object',
  properties: { name: { type: 'string' }, type: { type: 'string' }, description: { type: 'string' } },
} as const;

/** The route options of a registry listing: `{ [key]: [ { ...properties }, ... ] }`. */
function listing(summary: string, key: string, properties: Record<string, unknown>) {
  return {
    schema: {
      summary,
      tags: ['registry'],
      response: {
        200: {
          type: 'object',
          properties: { [key]: { type: 'array', items: { type: 'object', properties } } },
        },
        ...errorResponses,
      },
    },
  };
}

const described = {
  description: { type: 'string' },
  tags: { type: 'object', additionalProperties: { type: 'string' } },
} as const;

export function registerRegistryRoutes(app: FastifyInstance, context: ServingContext): void {
  app.get(
    '/feature-views',
    listing('Feature views with their join keys, features and ttl', 'feature_views', {
      name: { type: 'string' },
      entities: { type: 'array', items: { type: 'string' } },
      join_keys: { type: 'array', items: field },
      features: { type: 'array', items: field },
      ttl_ms: { type: 'integer' },
      source: { type: 'string' },
      online: { type: 'boolean' },
      offline: { type: 'boolean' },
      aggregations: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            column: { type: 'string' },
            function: { type: 'string' },
            window_ms: { type: 'integer' },
            resolution_ms: { type: 'integer' },
          },
        },
      },
      ...described,
    }),
    async () => {
      const repo = context.definitions.current();
      const joinKeysOf = (entities: string[]) =>
        entities.map((name) => {
          const entity = repo.entities.find((e) => e.name === name);
          return { name: entity?.joinKey ?? name, type: entity?.valueType ?? 'unknown' };
        });
      // Stream views are listed with their aggregated features (not served yet: docs/aggregations.md).
      const streamViews = (repo.streamFeatureViews ?? []).map((v) => ({
        name: v.name,
        entities: v.entities,
        join_keys: joinKeysOf(v.entities),
        features: v.aggregations.map((a) => ({ name: a.name, type: a.type })),
        source: v.source,
        online: v.online,
        offline: v.offline,
        aggregations: v.aggregations.map((a) => ({
          name: a.name,
          column: a.column,
          function: a.function,
          window_ms: a.windowMs,
          resolution_ms: a.resolutionMs,
        })),
        description: v.description,
        tags: v.tags,
      }));
      return {
        feature_views: [
          ...repo.featureViews.map((v) => ({
            name: v.name,
            entities: v.entities,
            join_keys: v.entities.map((name) => {
              const entity = repo.entities.find((e) => e.name === name);
              return { name: entity?.joinKey ?? name, type: entity?.valueType ?? 'unknown' };
            }),
            features: v.schema,
            ttl_ms: v.ttlMs,
            source: v.source,
            online: v.online,
            offline: v.offline,
            description: v.description,
            tags: v.tags,
          })),
          ...streamViews,
        ],
      };
    },
  );
  app.get(
    '/feature-services',
    listing('Feature services and the features they select', 'feature_services', {
      name: { type: 'string' },
      features: { type: 'array', items: { type: 'string' } },
      ...described,
    }),
    async () => {
      const repo = context.definitions.current();
      return {
        feature_services: repo.featureServices.map((s) => ({
          name: s.name,
          features: s.features.flatMap((entry) => {
            const view = repo.featureViews.find((v) => v.name === entry.featureView);
            const stream = repo.streamFeatureViews?.find((v) => v.name === entry.featureView);
            const names =
              entry.features ??
              view?.schema.map((f) => f.name) ??
              stream?.aggregations.map((a) => a.name) ??
              [];
            return names.map((n) => `${entry.featureView}:${n}`);
          }),
          description: s.description,
          tags: s.tags,
        })),
      };
    },
  );
}
