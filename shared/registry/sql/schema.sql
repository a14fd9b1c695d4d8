-- Creates the registry's schema and tables when missing.
-- Placeholders: {{schema}} the registry schema, a quoted identifier. Parameters: none.
-- Run under the apply lock: CREATE SCHEMA IF NOT EXISTS races with itself otherwise.
CREATE SCHEMA IF NOT EXISTS {{schema}};

CREATE TABLE IF NOT EXISTS {{schema}}.versions (
  version    bigint PRIMARY KEY,
  spec       jsonb NOT NULL,
  spec_hash  text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text NOT NULL,
  plan       jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS {{schema}}.objects (
  kind       text NOT NULL,
  name       text NOT NULL,
  spec       jsonb NOT NULL,
  spec_hash  text NOT NULL,
  -- the version that last changed this object
  version    bigint NOT NULL REFERENCES {{schema}}.versions (version),
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (kind, name)
);

CREATE TABLE IF NOT EXISTS {{schema}}.archived_tables (
  view_name   text NOT NULL,
  table_name  text NOT NULL,
  reason      text NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name)
);
