/**
 * Decodes prediction events: `{"prediction_id", "model", "model_version", "event_timestamp",
 * "features": {...}, "prediction"}`. A malformed event gives a coded rejection (for the DLQ), never
 * an exception. Feature values are checked against the reference profile's column kinds: a numeric
 * column takes a number or null; a categorical one a string, number or boolean, or null.
 *
 * In shared/ (not services/monitor/) because two services apply it: the monitor to every message
 * it consumes, and serving's `POST /predictions` to every row before producing it, so a row the
 * route accepts is one the monitor counts. `services/monitor/decode.ts` re-exports it.
 */

import { isUtf8 } from 'node:buffer';
import type { MonitorSpec } from '../definitions/types.ts';
import type { DecodeRejection } from '../events/decode.ts';
import { epochMsOf, MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS } from '../events/timestamp.ts';
import type { ColumnKind } from '../profiles/types.ts';
import { PREDICTION_COLUMN } from '../profiles/types.ts';

/** One monitored column's value in a prediction (the monitor's window state takes the same). */
export type ColumnValue = number | string | boolean | null | undefined;

/** A prediction's column values: in the order of the window's column names, or by name. */
export type ColumnValues = readonly ColumnValue[] | Readonly<Record<string, ColumnValue>>;

/** The monitored columns of a spec: features by bare name, then `prediction` when monitored. */
export function monitoredColumns(spec: Pick<MonitorSpec, 'features' | 'monitorPrediction'>): string[] {
  const names = spec.features.map((ref) => {
    const at = ref.indexOf(':');
    return at === -1 ? ref : ref.slice(at + 1);
  });
  if (spec.monitorPrediction) names.push(PREDICTION_COLUMN);
  return [...new Set(names)];
}

export interface Prediction {
  predictionId: string;
  model: string;
  modelVersion: string;
  eventTime: number;
  /** Values of the monitored columns, in the order of the `columns` given to the decoder (or by name). */
  values: ColumnValues;
}

export type PredictionDecodeResult = { ok: true; prediction: Prediction } | DecodeRejection;

export const MAX_PREDICTION_BYTES = 1024 * 1024;

function reject(code: DecodeRejection['code'], reason: string, field?: string): DecodeRejection {
  return field === undefined ? { ok: false, code, reason } : { ok: false, code, reason, field };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** Decodes one message value, keeping the values of `columns` (features by bare name, and `prediction`). */
export function decodePrediction(value: Buffer | null, columns: readonly string[]): PredictionDecodeResult {
  if (value === null || value.length === 0) return reject('TRIB_MESSAGE_EMPTY', 'the message has no value');
  if (value.length > MAX_PREDICTION_BYTES)
    return reject(
      'TRIB_MESSAGE_TOO_LARGE',
      `the message is ${value.length} bytes, more than ${MAX_PREDICTION_BYTES}`,
    );
  if (!isUtf8(value)) return reject('TRIB_DECODE_FAILED', 'the message is not UTF-8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return reject('TRIB_DECODE_FAILED', `the message is not JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return reject('TRIB_NOT_AN_OBJECT', `the message is ${describe(parsed)}, not a JSON object`);
  const event = parsed as Record<string, unknown>;

  const id = event['prediction_id'];
  if (id === undefined || id === null)
    return reject('TRIB_MISSING_FIELD', 'prediction_id is missing', 'prediction_id');
  if (typeof id !== 'string' && typeof id !== 'number')
    return reject('TRIB_WRONG_TYPE', `prediction_id is ${describe(id)}, expected a string`, 'prediction_id');
  const model = event['model'];
  if (model === undefined || model === null) return reject('TRIB_MISSING_FIELD', 'model is missing', 'model');
  if (typeof model !== 'string')
    return reject('TRIB_WRONG_TYPE', `model is ${describe(model)}, expected a string`, 'model');
  const version = event['model_version'];
  if (version === undefined || version === null)
    return reject('TRIB_MISSING_FIELD', 'model_version is missing', 'model_version');
  if (typeof version !== 'string' && !(typeof version === 'number' && Number.isFinite(version)))
    return reject(
      'TRIB_WRONG_TYPE',
      `model_version is ${describe(version)}, expected a string`,
      'model_version',
    );
  const ts = event['event_timestamp'];
  if (ts === undefined || ts === null)
    return reject('TRIB_MISSING_FIELD', 'event_timestamp is missing', 'event_timestamp');
  const eventTime = epochMsOf(ts);
  if (Number.isNaN(eventTime) || eventTime < MIN_EVENT_TIME_MS || eventTime >= MAX_EVENT_TIME_MS)
    return reject(
      'TRIB_BAD_TIMESTAMP',
      `event_timestamp is ${describe(ts)}, expected ISO-8601 or epoch milliseconds in 1970–2099`,
      'event_timestamp',
    );
  const features = event['features'];
  if (features === undefined || features === null)
    return reject('TRIB_MISSING_FIELD', 'features is missing', 'features');
  if (typeof features !== 'object' || Array.isArray(features))
    return reject('TRIB_WRONG_TYPE', `features is ${describe(features)}, expected an object`, 'features');
  if (!('prediction' in event)) return reject('TRIB_MISSING_FIELD', 'prediction is missing', 'prediction');

  const values = new Array<ColumnValue>(columns.length);
  const source = features as Record<string, unknown>;
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i]!;
    const raw =
      name === PREDICTION_COLUMN
        ? event['prediction']
        : Object.hasOwn(source, name)
          ? source[name]
          : undefined;
    const field = name === PREDICTION_COLUMN ? 'prediction' : `features.${name}`;
    if (raw === undefined || raw === null) {
      values[i] = null;
      continue;
    }
    if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') {
      values[i] = raw;
    } else {
      return reject(
        'TRIB_WRONG_TYPE',
        `${field} is ${describe(raw)}, expected a number, string or boolean`,
        field,
      );
    }
  }
  return {
    ok: true,
    prediction: { predictionId: String(id), model, modelVersion: String(version), eventTime, values },
  };
}

/**
 * Checks the values against the reference's column kinds: a numeric column takes only numbers
 * (or null). Returns the rejection, or null when the prediction fits.
 */
export function checkKinds(
  prediction: Prediction,
  kinds: ReadonlyMap<string, ColumnKind>,
  columns: readonly string[],
): DecodeRejection | null {
  const values = prediction.values;
  const byIndex = Array.isArray(values);
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i]!;
    if (kinds.get(name) !== 'numeric') continue;
    const v = byIndex
      ? (values as readonly ColumnValue[])[i]
      : (values as Readonly<Record<string, ColumnValue>>)[name];
    if (v !== null && v !== undefined && typeof v !== 'number') {
      const field = name === PREDICTION_COLUMN ? 'prediction' : `features.${name}`;
      return reject(
        'TRIB_WRONG_TYPE',
        `${field} is ${describe(v)}, expected a number (the reference column is numeric)`,
        field,
      );
    }
  }
  return null;
}
