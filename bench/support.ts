/**
 * What every benchmark shares: services to run against, its knobs, and a few order statistics.
 * The one file of bench/ that reads process.env (test/unit/architecture.test.ts allows it):
 * benchmarks are not the product, so their knobs stay out of shared/config.ts.
 */
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { type ServiceEnv, servicesUp } from '../scripts/services.ts';

/**
 * The services to benchmark against: those KAFKA_BROKERS/DATABASE_URL/REDIS_URL name, else a
 * `.services.env` whose services answer, else a running `services:up`, else throwaway ones this
 * benchmark starts and `stop` removes. A `.services.env` is never written or deleted here: it
 * may be another session's. `childEnv` is the environment to hand a child process, so it
 * uses the same services (the parent's may have been started here, and named nowhere else).
 */
export async function benchServices() {
  const { env, origin, stop } = await servicesUp({ persist: false });
  return {
    env,
    origin,
    childEnv: { ...process.env, ...env } as NodeJS.ProcessEnv,
    stop,
  };
}

/** In a child process a benchmark spawned with `childEnv`: the parent's services. */
export function inheritedServices(): ServiceEnv {
  const { KAFKA_BROKERS, DATABASE_URL, REDIS_URL } = process.env;
  if (!KAFKA_BROKERS || !DATABASE_URL || !REDIS_URL) {
    throw new Error('a benchmark child needs KAFKA_BROKERS, DATABASE_URL and REDIS_URL from its parent');
  }
  return { KAFKA_BROKERS, DATABASE_URL, REDIS_URL };
}

/** A numeric knob: the variable `name` (BENCH_RUNS, ...) when set, else `fallback`. */
export function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw}: expected a number ≥ 0`);
  return value;
}

/** A text knob: the variable `name` when set and not empty, else `fallback` (undefined: none). */
export function textKnob(name: string): string | undefined;
export function textKnob(name: string, fallback: string): string;
export function textKnob(name: string, fallback?: string): string | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : raw;
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

/** What the garbage collector did in this thread over a measured phase. */
export interface GcSummary {
  /** Scavenges of the young generation. */
  minor: number;
  /** Mark-compacts (and incremental marking steps) of the whole heap. */
  major: number;
  totalMs: number;
  maxMs: number;
}

/**
 * Starts recording this thread's GC pauses; the returned function stops and sums them. A tail
 * latency is read beside it: a p99 near `maxMs` on a server in this thread is a collector's.
 */
export function watchGc(): () => GcSummary {
  const summary: GcSummary = { minor: 0, major: 0, totalMs: 0, maxMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) summary.minor++;
      else summary.major++;
      summary.totalMs += entry.duration;
      summary.maxMs = Math.max(summary.maxMs, entry.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    return {
      ...summary,
      totalMs: Math.round(summary.totalMs * 1000) / 1000,
      maxMs: Math.round(summary.maxMs * 1000) / 1000,
    };
  };
}
