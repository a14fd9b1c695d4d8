-- Tells watchers a version was recorded; Postgres delivers it only if the transaction commits.
-- Placeholders: none. Parameters: $1 text channel, $2 text payload (JSON {version, hash}).
SELECT pg_notify($1, $2);
