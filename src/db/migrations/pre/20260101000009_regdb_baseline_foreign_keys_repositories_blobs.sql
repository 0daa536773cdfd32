-- regdb:up
-- Foreign keys of repositories, blobs, repository_blobs and batched_background_migration_jobs (spec
-- §3.2). They come after the partitions: a key on a partitioned table is cloned into each of its
-- partitions and onto each partition of the table it references, so the keys are spread over six
-- migrations to keep each transaction's lock count within a default lock table (see
-- 20260101000000_regdb_baseline), and going down they are dropped before the partitions they reach
-- into. repositories.parent_id has none: GitLab's 20220210115916 dropped it.
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN
        SELECT v.tbl, v.name, v.definition
        FROM (VALUES
            (1, 'repositories', 'fk_repositories_top_level_namespace_id_top_level_namespaces',
                'FOREIGN KEY (top_level_namespace_id) REFERENCES public.top_level_namespaces (id) ON DELETE CASCADE'),
            (2, 'blobs', 'fk_blobs_media_type_id_media_types',
                'FOREIGN KEY (media_type_id) REFERENCES public.media_types (id)'),
            (3, 'repository_blobs', 'fk_repository_blobs_top_lvl_nmspc_id_and_rpstry_id_repositories',
                'FOREIGN KEY (top_level_namespace_id, repository_id) REFERENCES public.repositories (top_level_namespace_id, id) ON DELETE CASCADE'),
            (4, 'repository_blobs', 'fk_repository_blobs_blob_digest_blobs',
                'FOREIGN KEY (blob_digest) REFERENCES public.blobs (digest) ON DELETE CASCADE'),
            (5, 'batched_background_migration_jobs', 'fk_batched_background_migration_jobs_bbm_id_bbms',
                'FOREIGN KEY (batched_background_migration_id) REFERENCES public.batched_background_migrations (id) ON DELETE CASCADE')
        ) AS v (position, tbl, name, definition)
        ORDER BY v.position
    LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_constraint c
            WHERE c.conrelid = format('public.%I', k.tbl)::regclass AND c.conname = k.name
        ) THEN
            EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', k.tbl, k.name, k.definition);
        END IF;
    END LOOP;
END
$$;

-- regdb:down
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN
        SELECT v.tbl, v.name
        FROM (VALUES
            (1, 'repositories', 'fk_repositories_top_level_namespace_id_top_level_namespaces'),
            (2, 'blobs', 'fk_blobs_media_type_id_media_types'),
            (3, 'repository_blobs', 'fk_repository_blobs_top_lvl_nmspc_id_and_rpstry_id_repositories'),
            (4, 'repository_blobs', 'fk_repository_blobs_blob_digest_blobs'),
            (5, 'batched_background_migration_jobs', 'fk_batched_background_migration_jobs_bbm_id_bbms')
        ) AS v (position, tbl, name)
        ORDER BY v.position DESC
    LOOP
        IF to_regclass(format('public.%I', k.tbl)) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.%I DROP CONSTRAINT IF EXISTS %I', k.tbl, k.name);
        END IF;
    END LOOP;
END
$$;
