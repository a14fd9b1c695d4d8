import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The materializer's Prometheus metrics, on a registry of its own. */
export function createMaterializerMetrics(registry = new Registry()) {
  return {
    registry,
    eventsIn: new Counter({
      name: 'tributary_materializer_events_in_total',
      help: 'Messages consumed from source topics',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    rowsWritten: new Counter({
      name: 'tributary_materializer_rows_written_total',
      help: 'Rows written per feature view and store (offline: rows inserted, replays excluded; online: rows that won last-write-wins)',
      labelNames: ['feature_view', 'store'] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'tributary_materializer_dead_letters_total',
      help: 'Messages published to the dead-letter topic, by error code',
      labelNames: ['source', 'reason'] as const,
      registers: [registry],
    }),
    deadLettersUnpublished: new Counter({
      name: 'tributary_materializer_dead_letters_unpublished_total',
      help: 'Dead letters the dead-letter topic refused for good (logged with their source offset, not retried), by error code',
      labelNames: ['source', 'code'] as const,
      registers: [registry],
    }),
    storeRetries: new Counter({
      name: 'tributary_materializer_store_retries_total',
      help: 'Failed writes retried with backoff, by target (offline, online, dlq)',
      labelNames: ['target'] as const,
      registers: [registry],
    }),
    held: new Gauge({
      name: 'tributary_materializer_held_partitions',
      help: 'Partitions held on a store error that retrying cannot fix (1 while held), by target and error code: see docs/errors.md',
      labelNames: ['topic', 'partition', 'target', 'code'] as const,
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'tributary_materializer_batch_duration_seconds',
      help: 'Time to decode and write one batch to both stores',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'tributary_materializer_consumer_lag',
      help: 'Messages not yet committed, per topic partition',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    freshnessSeconds: new Histogram({
      name: 'tributary_materializer_online_freshness_seconds',
      help: 'From a message entering Kafka to its row being visible in the online store',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}

export type MaterializerMetrics = ReturnType<typeof createMaterializerMetrics>;
