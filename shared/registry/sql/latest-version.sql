-- The current (highest) version with its spec.
-- Placeholders: {{schema}} the registry schema. Parameters: none.
SELECT version, spec_hash, applied_at, applied_by, spec
FROM {{schema}}.versions
ORDER BY version DESC
LIMIT 1;
