-- regdb:up
-- Foreign keys of layers (spec §3.2). They come after the partitions: a key on a partitioned table
-- is cloned into each of its partitions and onto each partition of the table it references, so the
-- keys are spread over six migrations to keep each transaction's lock count within a default lock
-- table (see 20260101000000_regdb_baseline), and going down they are dropped before the partitions
-- they reach into.
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN
        SELECT v.tbl, v.name, v.definition
        FROM (VALUES
            (1, 'layers', 'fk_layers_top_lvl_nmspc_id_and_repo_id_and_manifst_id_manifests',
                'FOREIGN KEY (top_level_namespace_id, repository_id, manifest_id) REFERENCES public.manifests (top_level_namespace_id, repository_id, id) ON DELETE CASCADE'),
            (2, 'layers', 'fk_layers_media_type_id_media_types',
                'FOREIGN KEY (media_type_id) REFERENCES public.media_types (id)'),
            (3, 'layers', 'fk_layers_digest_blobs',
                'FOREIGN KEY (digest) REFERENCES public.blobs (digest)')
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
            (1, 'layers', 'fk_layers_top_lvl_nmspc_id_and_repo_id_and_manifst_id_manifests'),
            (2, 'layers', 'fk_layers_media_type_id_media_types'),
            (3, 'layers', 'fk_layers_digest_blobs')
        ) AS v (position, tbl, name)
        ORDER BY v.position DESC
    LOOP
        IF to_regclass(format('public.%I', k.tbl)) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.%I DROP CONSTRAINT IF EXISTS %I', k.tbl, k.name);
        END IF;
    END LOOP;
END
$$;
