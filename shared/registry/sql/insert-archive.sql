-- Remembers an archived offline table.
-- Placeholders: {{schema}} the registry schema.
-- Parameters: $1 text view name, $2 text archived table name, $3 text reason.
INSERT INTO {{schema}}.archived_tables (view_name, table_name, reason)
VALUES ($1, $2, $3)
ON CONFLICT (table_name) DO NOTHING;
