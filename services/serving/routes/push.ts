/**
 * `POST /push`: rows for a push source. Every row is validated as the materializer will decode
 * it (same decoder, same source field names), then produced to the push source's batch source
 * topic, so pushed rows take the same road as streamed ones and both stores stay consistent.
 *
 * Contract with the materializer: each message carries the header `x-tributary-to` with the
 * request's `to` (`online`, `offline` or `online_and_offline`); the materializer writes the row
 * only to the stores it names. A message without the header goes to both.
 */
import type { FastifyInstance } from 'fastify';
import type {
  EntitySpec,
  FeatureViewSpec,
  KafkaSourceSpec,
  StreamFeatureViewSpec,
  ValueType,
} from '../../../shared/definitions/types.ts';
import { TributaryError } from '../../../shared/errors.ts';
import { createDecoder, rejectionError } from '../../../shared/events/decode.ts';
import type { ServingContext } from '../context.ts';
import { produceFailure } from '../request-errors.ts';
import { errorResponses } from '../schemas.ts';

export const PUSH_TO_HEADER = 'x-tributary-to';
export type PushTo = 'online' | 'offline' | 'online_and_offline';

interface PushBody {
  push_source_name: string;
  df: Record<string, unknown[]>;
  to?: PushTo;
  allow_registry_cache?: boolean;
}

const schema = {
  summary: 'Push rows to a push source (through its Kafka topic)',
  tags: ['push'],
  body: {
    type: 'object',
    required: ['push_source_name', 'df'],
    additionalProperties: false,
    properties: {
      push_source_name: { type: 'string', example: 'driver_stats_push' },
      df: {
        type: 'object',
        description: 'Columns: join keys, event_timestamp, optional created, features',
        additionalProperties: { type: 'array' },
        example: { driver_id: [1001], event_timestamp: ['2024-05-01T10:00:00Z'], conv_rate: [0.5] },
      },
      to: { type: 'string', enum: ['online', 'offline', 'online_and_offline'], default: 'online' },
      allow_registry_cache: { type: 'boolean', description: 'Accepted for Feast compatibility; ignored' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        rows: { type: 'integer' },
        topic: { type: 'string' },
        to: { type: 'string' },
      },
    },
    ...errorResponses,
  },
} as const;

export function registerPushRoutes(app: FastifyInstance, context: ServingContext): void {
  app.post<{ Body: PushBody }>('/push', { schema }, async (request) => {
    const { push_source_name: name, df } = request.body;
    const to: PushTo = request.body.to ?? 'online';
    const repo = context.definitions.current();
    const push = repo.pushSources.find((s) => s.name === name);
    if (!push) {
      throw new TributaryError('TRIB_UNKNOWN_PUSH_SOURCE', `no push source named '${name}'`, {
        details: { push_source: name },
      });
    }
    const source = repo.kafkaSources.find((s) => s.name === push.batchSource);
    if (!source) {
      throw new TributaryError(
        'TRIB_DEFINITION_INVALID',
        `push source '${name}' names batch source '${push.batchSource}', which is not a Kafka source`,
      );
    }
    // Plain and stream views alike: both decode the pushed rows' columns.
    const fed = [...repo.featureViews, ...(repo.streamFeatureViews ?? [])].filter((v) => v.source === name);
    if (fed.length === 0) {
      throw new TributaryError('TRIB_BAD_REQUEST', `no feature view reads push source '${name}'`);
    }
    if (to !== 'offline' && !fed.some((v) => v.online)) {
      throw new TributaryError(
        'TRIB_BAD_REQUEST',
        `no online feature view reads push source '${name}'; use to=offline`,
      );
    }
    const columns = Object.keys(df);
    const rows = columns.length === 0 ? 0 : df[columns[0]!]!.length;
    for (const column of columns) {
      if (df[column]!.length !== rows) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `df columns differ in length: '${columns[0]}' has ${rows} values, '${column}' has ${df[column]!.length}`,
        );
      }
    }
    if (rows === 0) throw new TributaryError('TRIB_BAD_REQUEST', 'df has no rows');
    checkColumns(df, fed, repo.entities, source);
    const decoders = fed.map((view) => createDecoder(view, repo.entities, source));
    const messages = [];
    for (let i = 0; i < rows; i++) {
      const row: Record<string, unknown> = {};
      for (const column of columns) row[column] = df[column]![i];
      const text = JSON.stringify(row);
      let key: string | undefined;
      for (const decoder of decoders) {
        const result = decoder.decodeObject(row, { topic: source.topic, partition: -1, offset: '-1' }, text);
        if (!result.ok) {
          const error = rejectionError(result);
          throw new TributaryError(error.code, `df row ${i}: ${error.message}`, {
            details: { ...error.details, row: i },
          });
        }
        key ??= result.row.keys.map(String).join('|');
      }
      messages.push({ key: key ?? null, value: text, headers: { [PUSH_TO_HEADER]: to } });
    }
    try {
      await context.producer.send(source.topic, messages);
    } catch (error) {
      throw produceFailure(error, source.topic);
    }
    context.metrics.rows.inc({ route: '/push' }, rows);
    return { status: 'ok', rows, topic: source.topic, to };
  });
}

/**
 * The df's columns against what the fed views read, before any row is produced: a column no
 * view reads (a typo) would be ignored, and a feature column left out would write NULL over
 * the stored value, so both are refused, naming the columns. An int64 sent as a JSON number
 * beyond 2^53 has already been rounded by JSON parsing and would land under another entity:
 * refused too, as /get-online-features does, with the exact way to send it.
 */
function checkColumns(
  df: Record<string, unknown[]>,
  fed: readonly (FeatureViewSpec | StreamFeatureViewSpec)[],
  entities: readonly EntitySpec[],
  source: KafkaSourceSpec,
): void {
  const types = new Map<string, ValueType>();
  const required = new Set<string>();
  for (const view of fed) {
    for (const name of view.entities) {
      const entity = entities.find((e) => e.name === name);
      if (entity) {
        types.set(entity.joinKey, entity.valueType);
        required.add(entity.joinKey);
      }
    }
    for (const field of view.schema) {
      types.set(field.name, field.type);
      required.add(field.name);
    }
  }
  const eventField = source.timestampField || 'event_timestamp';
  types.set(eventField, 'timestamp');
  required.add(eventField);
  types.set(source.createdField || 'created', 'timestamp');

  const unknown = Object.keys(df).filter((column) => !types.has(column));
  if (unknown.length > 0) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `df has column(s) no feature view of this push source reads: ${unknown.join(', ')}; ` +
        `expected ${[...types.keys()].join(', ')}`,
      { details: { columns: unknown } },
    );
  }
  const missing = [...required].filter((column) => !Object.hasOwn(df, column));
  if (missing.length > 0) {
    throw new TributaryError(
      'TRIB_MISSING_FIELD',
      `df lacks column(s) ${missing.join(', ')}: a missing feature would overwrite the stored value ` +
        'with null; send the column, with explicit nulls where a value is unknown',
      { details: { columns: missing } },
    );
  }
  for (const [column, type] of types) {
    if (type !== 'int64' || !Object.hasOwn(df, column)) continue;
    const values = df[column]!;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `df.${column}[${i}]: ${v} is beyond 2^53, where a JSON number cannot carry an int64 exactly; ` +
            'send it as a decimal string',
          { details: { column, row: i } },
        );
      }
    }
  }
}
