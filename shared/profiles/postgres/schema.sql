-- Reference profiles of the drift monitor, one per model and model version.
-- Placeholder: {{schema}} is replaced with the quoted schema name before running.
-- Arguments: none. Idempotent: safe to run at every start.
CREATE SCHEMA IF NOT EXISTS {{schema}};

CREATE TABLE IF NOT EXISTS {{schema}}.reference_profiles (
  model         text        NOT NULL,
  model_version text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  source        text        NOT NULL,
  rows          bigint      NOT NULL,
  -- The whole ReferenceProfile (shared/profiles/types.ts): summaries only, never raw rows.
  profile       jsonb       NOT NULL,
  PRIMARY KEY (model, model_version)
);

CREATE INDEX IF NOT EXISTS reference_profiles_latest ON {{schema}}.reference_profiles (model, created_at DESC);
