-- The most recent versions, newest first, without specs.
-- Placeholders: {{schema}} the registry schema. Parameters: $1 int, how many.
SELECT version, spec_hash, applied_at, applied_by
FROM {{schema}}.versions
ORDER BY version DESC
LIMIT $1;
