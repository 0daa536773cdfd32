-- regdb:no-transaction
-- {{ID}}: post-deployment migration, applied by `regdb database migrate up` unless
-- --skip-post-deployment is given. It runs outside a transaction (the directive above), for
-- CREATE INDEX CONCURRENTLY: statements are split at lines ending with a semicolon and must not use
-- dollar quoting; its record row in post_deploy_schema_migrations is written after them. Remove the
-- directive to run in one transaction instead. Keep both parts idempotent: IF NOT EXISTS / IF EXISTS.
-- regdb:up

-- regdb:down

