-- {{ID}}: pre-deployment migration, applied by `regdb database migrate up` before the new code runs.
-- It runs in one transaction together with its record row in schema_migrations. To run outside a
-- transaction (CREATE INDEX CONCURRENTLY), make the first line the no-transaction directive; its
-- statements then run one by one, each committing on its own.
-- If it needs batched background migrations finished first, add the requires-bbm directive with
-- their names. Keep both parts idempotent: IF NOT EXISTS / IF EXISTS, guarded DO blocks.
-- regdb:up

-- regdb:down

