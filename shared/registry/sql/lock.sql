-- Takes the apply lock for one registry schema until the transaction ends.
-- Placeholders: none. Parameters: $1 text, the registry schema name.
SELECT pg_advisory_xact_lock(hashtextextended('tributary_registry:' || $1::text, 0));
