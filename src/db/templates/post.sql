-- regdb:no-transaction
-- {{ID}}: post-deployment migration, applied by `regdb database migrate up` unless
-- --skip-post-deployment is given. It runs outside a transaction (the directive above), for
-- CREATE INDEX CONCURRENTLY: its statements run one by one, and its record row in
-- post_deploy_schema_migrations is written after them. Remove the directive to run in one
-- transaction instead. Keep both parts idempotent: IF NOT EXISTS / IF EXISTS.
-- regdb:up

-- regdb:down

