-- Records the next version (current + 1). Run under the apply lock, so numbers never collide.
-- Placeholders: {{schema}} the registry schema.
-- Parameters: $1 jsonb spec, $2 text spec hash, $3 text applied_by, $4 jsonb plan.
INSERT INTO {{schema}}.versions (version, spec, spec_hash, applied_by, plan)
SELECT coalesce(max(version), 0) + 1, $1::jsonb, $2, $3, $4::jsonb
FROM {{schema}}.versions
RETURNING version, spec_hash, applied_at, applied_by;
