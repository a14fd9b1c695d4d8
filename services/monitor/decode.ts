/**
 * The prediction decoder lives in `shared/monitoring/prediction-decode.ts`, because serving's
 * `POST /predictions` validates rows with it too (a service may not import another service).
 * Re-exported here so the monitor's own imports stay where they were.
 */
export {
  checkKinds,
  decodePrediction,
  MAX_PREDICTION_BYTES,
  type Prediction,
  type PredictionDecodeResult,
} from '../../shared/monitoring/prediction-decode.ts';
