import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The monitor's Prometheus metrics, on a registry of its own. */
export function createMonitorMetrics(registry = new Registry()) {
  return {
    registry,
    predictionsIn: new Counter({
      name: 'tributary_monitor_predictions_in_total',
      help: 'Prediction events consumed and counted into a window',
      labelNames: ['monitor'] as const,
      registers: [registry],
    }),
    predictionsIgnored: new Counter({
      name: 'tributary_monitor_predictions_ignored_total',
      help: 'Prediction events skipped on purpose: another model on a shared topic, or already checkpointed (replay)',
      labelNames: ['monitor', 'reason'] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'tributary_monitor_dead_letters_total',
      help: 'Malformed prediction events sent to <topic>.dlq, by error code',
      labelNames: ['monitor', 'reason'] as const,
      registers: [registry],
    }),
    windowsClosed: new Counter({
      name: 'tributary_monitor_windows_closed_total',
      help: 'Windows closed and scored',
      labelNames: ['monitor', 'model_version'] as const,
      registers: [registry],
    }),
    driftEvents: new Counter({
      name: 'tributary_monitor_drift_events_total',
      help: 'Drift events emitted, by dataset verdict',
      labelNames: ['monitor', 'drifted'] as const,
      registers: [registry],
    }),
    retrainRequests: new Counter({
      name: 'tributary_monitor_retrain_requests_total',
      help: 'Retraining requests emitted',
      labelNames: ['monitor'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'tributary_monitor_deliveries_total',
      help: 'Outbox delivery attempts by destination kind (kafka, webhook) and result (delivered, retry, gave_up)',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    held: new Gauge({
      name: 'tributary_monitor_held_partitions',
      help: 'Prediction partitions held on an error that retrying cannot fix (1 while held), by step and error code: see docs/errors.md',
      labelNames: ['monitor', 'partition', 'step', 'code'] as const,
      registers: [registry],
    }),
    outboxDepth: new Gauge({
      name: 'tributary_monitor_outbox_depth',
      help: 'Deliveries waiting in the outbox (not delivered, not given up)',
      registers: [registry],
    }),
    scoringSeconds: new Histogram({
      name: 'tributary_monitor_window_scoring_seconds',
      help: 'Time to score one closed window (all columns)',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    checkpointSeconds: new Histogram({
      name: 'tributary_monitor_checkpoint_seconds',
      help: 'Time to write one batch checkpoint (state, offsets, windows, outbox) to Postgres',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    openWindowRows: new Gauge({
      name: 'tributary_monitor_open_window_rows',
      help: 'Predictions in the open window, per model version',
      labelNames: ['monitor', 'model_version'] as const,
      registers: [registry],
    }),
  };
}

export type MonitorMetrics = ReturnType<typeof createMonitorMetrics>;
