/**
 * `POST /predictions`: a model's predictions, logged over HTTP instead of produced to Kafka by
 * the caller. Each row becomes the monitor's prediction event (`docs/monitor.md`) with the
 * request's model and model version, is checked with the monitor's own decoder (same columns, same
 * codes), and all rows go to the prediction topic of every monitor declared for the model. All or
 * nothing: one bad row refuses the request and nothing is produced, so a client can fix and resend
 * the whole batch without counting any prediction twice.
 */
import type { FastifyInstance } from 'fastify';
import type { MonitorSpec } from '../../../shared/definitions/types.ts';
import { TributaryError } from '../../../shared/errors.ts';
import { decodePrediction, monitoredColumns } from '../../../shared/monitoring/prediction-decode.ts';
import type { OutgoingMessage } from '../../../shared/stream/port.ts';
import type { ServingContext } from '../context.ts';
import { produceFailure } from '../request-errors.ts';
import { errorResponses } from '../schemas.ts';

interface PredictionsBody {
  model: string;
  model_version: string | number;
  rows: unknown[];
}

const schema = {
  summary: "Log a model's predictions (produced to its monitor's prediction topic)",
  tags: ['monitor'],
  body: {
    type: 'object',
    required: ['model', 'model_version', 'rows'],
    additionalProperties: false,
    properties: {
      model: { type: 'string', minLength: 1, example: 'driver_model' },
      model_version: { anyOf: [{ type: 'string' }, { type: 'number' }], example: '3' },
      rows: {
        type: 'array',
        description:
          'Prediction events without model and model_version: prediction_id, event_timestamp, features, prediction',
        // Rows are checked by the monitor's decoder in the handler, so a bad one is reported
        // with the decoder's code and reason, as the monitor would dead-letter it.
        items: {},
        example: [
          {
            prediction_id: 'p-1',
            event_timestamp: '2026-11-20T10:00:00Z',
            features: { conv_rate: 0.4, acc_rate: 0.9 },
            prediction: 0.71,
          },
        ],
      },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        rows: { type: 'integer' },
        topics: { type: 'array', items: { type: 'string' } },
      },
    },
    404: errorResponses[400],
    ...errorResponses,
  },
} as const;

/** The monitors of a model, or TRIB_NOT_FOUND naming the models that have one. */
function monitorsOf(monitors: readonly MonitorSpec[], model: string): MonitorSpec[] {
  const found = monitors.filter((m) => m.model === model);
  if (found.length > 0) return found;
  const declared = [...new Set(monitors.map((m) => m.model))];
  throw new TributaryError(
    'TRIB_NOT_FOUND',
    `no monitor is declared for model '${model}', so its predictions have no topic` +
      (declared.length > 0 ? `; models with a monitor: ${declared.join(', ')}` : '; no monitor is declared'),
    { details: { model } },
  );
}

export function registerPredictionRoutes(app: FastifyInstance, context: ServingContext): void {
  app.post<{ Body: PredictionsBody }>('/predictions', { schema }, async (request) => {
    const { model, model_version: version, rows } = request.body;
    const monitors = monitorsOf(context.definitions.current().monitors, model);
    if (rows.length === 0) throw new TributaryError('TRIB_BAD_REQUEST', 'rows is empty');
    if (typeof version === 'number' && !Number.isFinite(version)) {
      throw new TributaryError('TRIB_WRONG_TYPE', 'model_version must be a string or a finite number');
    }
    const topics = [...new Set(monitors.map((m) => m.predictionTopic))];
    // Every column any of the model's monitors counts, so no monitor meets a value it refuses.
    const columns = [...new Set(monitors.flatMap(monitoredColumns))];

    const messages: OutgoingMessage[] = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new TributaryError(
          'TRIB_NOT_AN_OBJECT',
          `rows[${i}] is ${row === null ? 'null' : Array.isArray(row) ? 'an array' : typeof row}, not a JSON object`,
          { details: { row: i } },
        );
      }
      const fields = row as Record<string, unknown>;
      for (const [field, expected] of [
        ['model', model],
        ['model_version', version],
      ] as const) {
        // A row may repeat the request's model and version, never contradict them.
        const given = fields[field];
        if (given !== undefined && String(given) !== String(expected)) {
          throw new TributaryError(
            'TRIB_BAD_REQUEST',
            `rows[${i}].${field} is ${JSON.stringify(given)}, but the request is for ${field} ${JSON.stringify(expected)}`,
            { details: { row: i, field } },
          );
        }
      }
      const text = JSON.stringify({ ...fields, model, model_version: version });
      const decoded = decodePrediction(Buffer.from(text), columns);
      if (!decoded.ok) {
        const field = decoded.field === undefined ? '' : ` (field ${decoded.field})`;
        throw new TributaryError(decoded.code, `rows[${i}]${field}: ${decoded.reason}`, {
          details: { row: i, ...(decoded.field === undefined ? {} : { field: decoded.field }) },
        });
      }
      // Keyed by prediction id: a model's predictions spread over the partitions.
      messages.push({ key: decoded.prediction.predictionId, value: text });
    }
    for (const topic of topics) {
      try {
        await context.producer.send(topic, messages);
      } catch (error) {
        throw produceFailure(error, topic);
      }
    }
    context.metrics.rows.inc({ route: '/predictions' }, rows.length);
    return { status: 'ok', rows: rows.length, topics };
  });
}
