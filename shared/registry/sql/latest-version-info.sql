-- The current (highest) version's number and hash, without the spec: the watcher's cheap check.
-- Placeholders: {{schema}} the registry schema. Parameters: none.
SELECT version, spec_hash, applied_at, applied_by
FROM {{schema}}.versions
ORDER BY version DESC
LIMIT 1;
