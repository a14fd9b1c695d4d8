-- Makes the objects table hold exactly the given objects: deletes the others, inserts new
-- ones, and updates (with the new version) only those whose hash changed.
-- Placeholders: {{schema}} the registry schema.
-- Parameters: $1 jsonb array of {kind, name, spec, spec_hash}; $2 bigint, the new version.
WITH incoming AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(kind text, name text, spec jsonb, spec_hash text)
), removed AS (
  DELETE FROM {{schema}}.objects o
  WHERE NOT EXISTS (SELECT 1 FROM incoming i WHERE i.kind = o.kind AND i.name = o.name)
)
INSERT INTO {{schema}}.objects AS o (kind, name, spec, spec_hash, version, updated_at)
SELECT kind, name, spec, spec_hash, $2, now() FROM incoming
ON CONFLICT (kind, name) DO UPDATE
  SET spec = excluded.spec, spec_hash = excluded.spec_hash, version = excluded.version, updated_at = excluded.updated_at
  WHERE o.spec_hash IS DISTINCT FROM excluded.spec_hash;
