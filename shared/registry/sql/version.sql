-- One version with its spec.
-- Placeholders: {{schema}} the registry schema. Parameters: $1 bigint, the version.
SELECT version, spec_hash, applied_at, applied_by, spec
FROM {{schema}}.versions
WHERE version = $1;
