/**
 * `POST /get-historical-features`: point-in-time correct training sets. Entity rows come as JSON
 * columns or as an Arrow IPC stream body; the answer is an Arrow IPC stream when `Accept` asks for
 * one (streamed batch by batch with backpressure, never whole in memory), else JSON columns for
 * results up to `maxJsonResultRows`.
 */
import { Readable } from 'node:stream';
import { type RecordBatch, type Table, tableFromIPC } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { TributaryError } from '../../../shared/errors.ts';
import {
  type EntityFrame,
  entitiesFromArrow,
  entitiesFromColumns,
} from '../../../shared/retrieval/entities.ts';
import { historicalBatches, historicalSchema } from '../../../shared/retrieval/historical.ts';
import { arrowIpcStream } from '../../../shared/retrieval/ipc.ts';
import { appendBatchAsJson } from '../../../shared/retrieval/json.ts';
import { type FeatureSelection, planRetrieval } from '../../../shared/retrieval/plan.ts';
import type { ServingContext } from '../context.ts';
import { unsupportedMediaTypeMessage } from '../request-errors.ts';
import { entityColumns, errorResponses, featureSelection } from '../schemas.ts';

export const ARROW_STREAM = 'application/vnd.apache.arrow.stream';

interface JsonBody {
  entities: Record<string, unknown[]>;
  features?: string[];
  feature_service?: string;
  full_feature_names?: boolean;
}

interface Query {
  features?: string | string[];
  feature_service?: string;
  full_feature_names?: string;
}

const jsonBodySchema = {
  type: 'object',
  required: ['entities'],
  additionalProperties: false,
  properties: {
    ...featureSelection,
    entities: {
      ...entityColumns,
      description:
        'Entity rows as columns: join keys, `event_timestamp` (ISO-8601 or epoch ms), and any other columns, passed through',
      example: { driver_id: [1001, 1002], event_timestamp: ['2024-05-01T10:00:00Z', 1714557600000] },
    },
  },
} as const;

const schema = {
  summary: 'Point-in-time correct feature values for entity rows',
  description:
    'Send entity rows as JSON, or as an Arrow IPC stream (`Content-Type: application/vnd.apache.arrow.stream`, features in the query string). ' +
    '`Accept: application/vnd.apache.arrow.stream` streams the result as Arrow; otherwise JSON columns.',
  tags: ['historical'],
  consumes: ['application/json', ARROW_STREAM],
  produces: ['application/json', ARROW_STREAM],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      features: {
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
        description: 'With an Arrow body: comma-separated or repeated `view:feature` references',
      },
      feature_service: { type: 'string', description: 'With an Arrow body: a feature service name' },
      full_feature_names: { type: 'string', enum: ['true', 'false'] },
    },
  },
  body: {
    content: {
      'application/json': { schema: jsonBodySchema },
      // Any bytes: the route reads them as an IPC stream and answers 400 when they are not one.
      [ARROW_STREAM]: { schema: { description: 'Arrow IPC stream of entity rows' } },
    },
  },
  response: {
    200: {
      description: 'JSON columns (or an Arrow IPC stream, per Accept)',
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { columns: { type: 'object', additionalProperties: { type: 'array', items: {} } } },
          },
        },
        [ARROW_STREAM]: { schema: { type: 'string', format: 'binary' } },
      },
    },
    ...errorResponses,
  },
} as const;

function selectionFromQuery(query: Query): FeatureSelection {
  const raw = query.features === undefined ? undefined : ([] as string[]).concat(query.features);
  return {
    features: raw
      ?.flatMap((f) => f.split(','))
      .map((f) => f.trim())
      .filter((f) => f.length > 0),
    featureService: query.feature_service,
    fullFeatureNames: query.full_feature_names === 'true',
  };
}

function readArrow(body: Buffer): Table {
  try {
    const table = tableFromIPC(body);
    if (table.schema.fields.length === 0) throw new Error('no columns');
    return table;
  } catch (error) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `body is not an Arrow IPC stream: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

export function registerHistoricalRoutes(app: FastifyInstance, context: ServingContext): void {
  // Parsers are global to the app: any other route refuses an Arrow body as it does any type
  // it does not read (an unknown route stays a 404).
  app.addContentTypeParser(ARROW_STREAM, { parseAs: 'buffer' }, (request, body, done) => {
    if (request.is404 || request.routeOptions.url === '/get-historical-features') done(null, body);
    else {
      done(
        new TributaryError(
          'TRIB_UNSUPPORTED_MEDIA_TYPE',
          unsupportedMediaTypeMessage(ARROW_STREAM, ['application/json']),
        ),
      );
    }
  });

  app.post<{ Body: JsonBody | Buffer; Querystring: Query }>(
    '/get-historical-features',
    { schema, bodyLimit: context.limits.historicalBodyLimitBytes },
    async (request, reply) => {
      if (request.body === undefined || request.body === null) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `the body is empty: send {"features" | "feature_service", "entities"} as application/json, ` +
            `or the entity rows as ${ARROW_STREAM} with the features in the query string`,
        );
      }
      const repo = context.definitions.current();
      const isArrow = Buffer.isBuffer(request.body);
      let entities: EntityFrame;
      let plan: ReturnType<typeof planRetrieval>;
      if (isArrow) {
        if (request.query.features === undefined && request.query.feature_service === undefined) {
          throw new TributaryError(
            'TRIB_BAD_REQUEST',
            'with an Arrow body, name the features in the query string: ?features=view:feature,... or ?feature_service=name',
          );
        }
        plan = planRetrieval(repo, selectionFromQuery(request.query), 'offline');
        entities = entitiesFromArrow(readArrow(request.body as Buffer), plan.joinKeys);
      } else {
        const body = request.body as JsonBody;
        if (Object.keys(request.query).length > 0) {
          throw new TributaryError(
            'TRIB_BAD_REQUEST',
            'with a JSON body, give features in the body, not the query string',
          );
        }
        plan = planRetrieval(
          repo,
          {
            features: body.features,
            featureService: body.feature_service,
            fullFeatureNames: body.full_feature_names,
          },
          'offline',
        );
        entities = entitiesFromColumns(body.entities, plan.joinKeys);
      }
      historicalSchema(plan, entities); // refuses entity columns that clash with features, before any query
      const wantsArrow = (request.headers.accept ?? '').includes(ARROW_STREAM);
      if (!wantsArrow && entities.length > context.limits.maxJsonResultRows) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `${entities.length} entity rows is above the JSON limit of ${context.limits.maxJsonResultRows}: send Accept: ${ARROW_STREAM}`,
        );
      }
      context.metrics.rows.inc({ route: '/get-historical-features' }, entities.length);

      // Stop the query when the client goes away.
      const abort = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) abort.abort();
      };
      reply.raw.once('close', onClose);
      const batches = historicalBatches(context.historical, plan, entities, { signal: abort.signal });
      // The first batch is awaited before answering, so a store failure is still a proper error response.
      const first = await batches.next();
      async function* all(): AsyncGenerator<RecordBatch> {
        if (first.done) return;
        yield first.value;
        yield* batches;
      }
      if (wantsArrow) {
        const stream = Readable.from(arrowIpcStream(historicalSchema(plan, entities), all()), {
          objectMode: false,
        });
        return reply.type(ARROW_STREAM).send(stream);
      }
      const columns: Record<string, unknown[]> = {};
      for (const field of historicalSchema(plan, entities).fields) columns[field.name] = [];
      for await (const batch of all()) appendBatchAsJson(batch, columns);
      return reply.type('application/json').send({ columns });
    },
  );
}
