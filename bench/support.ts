/** What every benchmark shares: services to run against and a few order statistics. */
import { servicesDown, servicesUp } from '../scripts/services.ts';

/** The services of KAFKA_BROKERS/DATABASE_URL/REDIS_URL, a running `services:up`, or throwaway ones. */
export async function benchServices() {
  const { env, origin } = await servicesUp();
  return {
    env,
    stop: async () => {
      if (origin === 'started') await servicesDown();
    },
  };
}

/** The q-quantile (0..1) of `values` by the nearest-rank method; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** The median of `values`; NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
