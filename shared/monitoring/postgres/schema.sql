-- Drift monitor state: open windows, processed offsets, closed windows, retraining requests and
-- the delivery outbox. Checkpoints write state, offsets, closed windows and outbox rows in one
-- transaction, so a restart resumes exactly where the last committed batch ended.
-- Placeholder: {{schema}} is replaced with the quoted schema name before running.
-- Arguments: none. Idempotent: safe to run at every start.
CREATE SCHEMA IF NOT EXISTS {{schema}};

-- Open windows and retraining-policy state of one monitor (services/monitor/processor.ts, serialized).
-- Rewritten by every batch checkpoint, so: `json`, not `jsonb` (no parse on write), and stored
-- uncompressed out of line (compressing ~0.5 MB of histogram counts per batch cost more than it saved).
CREATE TABLE IF NOT EXISTS {{schema}}.monitor_state (
  monitor    text        PRIMARY KEY,
  state      json        NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE {{schema}}.monitor_state ALTER COLUMN state SET STORAGE EXTERNAL;

-- The last offset of each partition whose message is reflected in monitor_state.
CREATE TABLE IF NOT EXISTS {{schema}}.monitor_offsets (
  monitor     text    NOT NULL,
  topic       text    NOT NULL,
  partition   integer NOT NULL,
  last_offset bigint  NOT NULL,
  PRIMARY KEY (monitor, topic, partition)
);

-- Closed windows: the drift event of each, for the query API.
CREATE TABLE IF NOT EXISTS {{schema}}.drift_windows (
  id             text             PRIMARY KEY,
  monitor        text             NOT NULL,
  model          text             NOT NULL,
  model_version  text             NOT NULL,
  window_start   bigint           NOT NULL,
  window_end     bigint           NOT NULL,
  rows           bigint           NOT NULL,
  drifted_share  double precision NOT NULL,
  dataset_drifted boolean         NOT NULL,
  event          jsonb            NOT NULL,
  closed_at      timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS drift_windows_by_model ON {{schema}}.drift_windows (model, window_end DESC);

-- What the dashboard's window page draws (shared/monitoring/detail.ts): histograms on the
-- reference's bins and category shares, per column. Kept for the last N windows of each model
-- (TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL), written and pruned in the checkpoint that closes the
-- window. A table of its own, so pruning deletes rows instead of rewriting the windows' events.
CREATE TABLE IF NOT EXISTS {{schema}}.drift_window_details (
  window_id  text        PRIMARY KEY,
  model      text        NOT NULL,
  window_end bigint      NOT NULL,
  detail     jsonb       NOT NULL,
  closed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS drift_window_details_by_model
  ON {{schema}}.drift_window_details (model, window_end DESC, closed_at DESC);

CREATE TABLE IF NOT EXISTS {{schema}}.retrain_requests (
  id            text        PRIMARY KEY,
  monitor       text        NOT NULL,
  model         text        NOT NULL,
  model_version text        NOT NULL,
  requested_at  bigint      NOT NULL,
  event         jsonb       NOT NULL
);
CREATE INDEX IF NOT EXISTS retrain_requests_by_model ON {{schema}}.retrain_requests (model, requested_at DESC);

-- One row per (event, destination): a Kafka topic or a webhook URL. `delivery_id` is the
-- X-Tributary-Delivery header and stays the same across retries. `headers` already holds the
-- signature (computed when the row is written), so no webhook secret is ever stored.
CREATE TABLE IF NOT EXISTS {{schema}}.outbox (
  id              bigserial   PRIMARY KEY,
  delivery_id     text        NOT NULL UNIQUE,
  event_id        text        NOT NULL,
  event_type      text        NOT NULL,
  kind            text        NOT NULL CHECK (kind IN ('kafka', 'webhook')),
  destination     text        NOT NULL,
  message_key     text,
  headers         jsonb       NOT NULL DEFAULT '{}'::jsonb,
  body            text        NOT NULL,
  attempts        integer     NOT NULL DEFAULT 0,
  -- When the row is next due; a claim pushes it forward by a lease so that no other dispatcher takes it meanwhile.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  failed_at       timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS outbox_due ON {{schema}}.outbox (next_attempt_at)
  WHERE delivered_at IS NULL AND failed_at IS NULL;
