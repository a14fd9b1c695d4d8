import { normal, rng } from '../../../fixtures/random.ts';
import type { MonitorSpec } from '../../../shared/definitions/types.ts';
import { ProfileBuilder } from '../../../shared/profiles/builder.ts';
import type { ReferenceProfile } from '../../../shared/profiles/types.ts';

export { normal, rng };

export function spec(overrides: Partial<MonitorSpec> = {}): MonitorSpec {
  return {
    kind: 'monitor',
    name: 'test_model',
    model: 'test_model',
    predictionTopic: 'predictions.test_model',
    features: ['v:x', 'v:color'],
    monitorPrediction: true,
    window: { rows: 1000 },
    overrides: {},
    datasetDriftThreshold: 0.5,
    retrain: { consecutiveDriftedWindows: 2, cooldownMs: 3_600_000 },
    webhooks: [],
    ...overrides,
  };
}

/** A profile of x ~ N(0,1), color in {red, green, blue}, prediction ~ U(0,1). */
export function referenceProfile(rows = 20_000, seed = 1): ReferenceProfile {
  const random = rng(seed);
  const gauss = normal(random);
  const builder = new ProfileBuilder({
    model: 'test_model',
    modelVersion: '1',
    source: 'test',
    now: () => new Date(0),
  });
  const x = new Float64Array(rows);
  const color: string[] = [];
  const prediction = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    x[i] = gauss();
    const u = random();
    color.push(u < 0.5 ? 'red' : u < 0.8 ? 'green' : 'blue');
    prediction[i] = random();
  }
  builder.add({ names: ['x', 'color', 'prediction'], columns: [x, color, prediction], rows });
  return builder.finish();
}
