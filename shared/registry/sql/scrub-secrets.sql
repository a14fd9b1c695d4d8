-- Removes the literal webhook secrets (`secret`) that versions recorded before `secretEnv`
-- carried, from every version's spec and from the current monitor objects; a webhook keeps its
-- url and its secretEnv. Run by every apply, under the apply lock, after the new version is
-- recorded (a version recorded now never holds one, so the current spec is never changed).
-- A scrubbed version keeps the spec_hash it was applied with: the hash records what was applied.
-- Placeholders: {{schema}} the registry schema. Parameters: none.
-- Returns one row: versions and objects, how many rows were scrubbed.
WITH scrubbed_versions AS (
  UPDATE {{schema}}.versions v
  SET spec = jsonb_set(v.spec, '{monitors}', (
    SELECT coalesce(jsonb_agg(
      CASE WHEN jsonb_typeof(m -> 'webhooks') = 'array' THEN jsonb_set(m, '{webhooks}', (
        SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(w) = 'object' THEN w - 'secret' ELSE w END ORDER BY wi), '[]'::jsonb)
        FROM jsonb_array_elements(m -> 'webhooks') WITH ORDINALITY AS hooks (w, wi)
      )) ELSE m END
      ORDER BY mi), '[]'::jsonb)
    FROM jsonb_array_elements(v.spec -> 'monitors') WITH ORDINALITY AS monitors (m, mi)
  ))
  WHERE jsonb_path_exists(v.spec, 'lax $.monitors[*].webhooks[*].secret')
  RETURNING 1
), scrubbed_objects AS (
  UPDATE {{schema}}.objects o
  SET spec = jsonb_set(o.spec, '{webhooks}', (
    SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(w) = 'object' THEN w - 'secret' ELSE w END ORDER BY wi), '[]'::jsonb)
    FROM jsonb_array_elements(o.spec -> 'webhooks') WITH ORDINALITY AS hooks (w, wi)
  ))
  WHERE o.kind = 'monitor' AND jsonb_path_exists(o.spec, 'lax $.webhooks[*].secret')
  RETURNING 1
)
SELECT (SELECT count(*) FROM scrubbed_versions)::int AS versions,
       (SELECT count(*) FROM scrubbed_objects)::int AS objects;
