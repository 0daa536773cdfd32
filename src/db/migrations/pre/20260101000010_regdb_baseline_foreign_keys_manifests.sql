-- regdb:up
-- Foreign keys of manifests (spec §3.2). They come after the partitions: a key on a partitioned
-- table is cloned into each of its partitions and onto each partition of the table it references,
-- so the keys are spread over six migrations to keep each transaction's lock count within a default
-- lock table (see 20260101000000_regdb_baseline), and going down they are dropped before the
-- partitions they reach into.
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN
        SELECT v.tbl, v.name, v.definition
        FROM (VALUES
            (1, 'manifests', 'fk_manifests_top_lvl_nmespace_id_and_repository_id_repositories',
                'FOREIGN KEY (top_level_namespace_id, repository_id) REFERENCES public.repositories (top_level_namespace_id, id) ON DELETE CASCADE'),
            (2, 'manifests', 'fk_manifests_media_type_id_media_types',
                'FOREIGN KEY (media_type_id) REFERENCES public.media_types (id)'),
            (3, 'manifests', 'fk_manifests_configuration_media_type_id_media_types',
                'FOREIGN KEY (configuration_media_type_id) REFERENCES public.media_types (id)'),
            (4, 'manifests', 'fk_manifests_artifact_media_type_id_media_types',
                'FOREIGN KEY (artifact_media_type_id) REFERENCES public.media_types (id)'),
            (5, 'manifests', 'fk_manifests_configuration_blob_digest_blobs',
                'FOREIGN KEY (configuration_blob_digest) REFERENCES public.blobs (digest)'),
            (6, 'manifests', 'fk_manifests_subject_id_manifests',
                'FOREIGN KEY (top_level_namespace_id, repository_id, subject_id) REFERENCES public.manifests (top_level_namespace_id, repository_id, id) ON DELETE CASCADE')
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
            (1, 'manifests', 'fk_manifests_top_lvl_nmespace_id_and_repository_id_repositories'),
            (2, 'manifests', 'fk_manifests_media_type_id_media_types'),
            (3, 'manifests', 'fk_manifests_configuration_media_type_id_media_types'),
            (4, 'manifests', 'fk_manifests_artifact_media_type_id_media_types'),
            (5, 'manifests', 'fk_manifests_configuration_blob_digest_blobs'),
            (6, 'manifests', 'fk_manifests_subject_id_manifests')
        ) AS v (position, tbl, name)
        ORDER BY v.position DESC
    LOOP
        IF to_regclass(format('public.%I', k.tbl)) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.%I DROP CONSTRAINT IF EXISTS %I', k.tbl, k.name);
        END IF;
    END LOOP;
END
$$;
