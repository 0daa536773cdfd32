-- regdb:up
-- Foreign keys of gc_manifest_review_queue and gc_blobs_configurations (spec §3.2). They come after
-- the partitions: a key on a partitioned table is cloned into each of its partitions and onto each
-- partition of the table it references, so the keys are spread over six migrations to keep each
-- transaction's lock count within a default lock table (see 20260101000000_regdb_baseline), and
-- going down they are dropped before the partitions they reach into.
DO $$
DECLARE
    k record;
BEGIN
    FOR k IN
        SELECT v.tbl, v.name, v.definition
        FROM (VALUES
            (1, 'gc_manifest_review_queue', 'fk_gc_manifest_review_queue_tp_lvl_nspc_id_rp_id_mfst_id_mnfsts',
                'FOREIGN KEY (top_level_namespace_id, repository_id, manifest_id) REFERENCES public.manifests (top_level_namespace_id, repository_id, id) ON DELETE CASCADE'),
            (2, 'gc_blobs_configurations', 'fk_gc_blobs_configurations_digest_blobs',
                'FOREIGN KEY (digest) REFERENCES public.blobs (digest) ON DELETE CASCADE'),
            (3, 'gc_blobs_configurations', 'fk_gc_blobs_configurations_tp_lvl_nspc_id_r_id_m_id_dgst_mnfsts',
                'FOREIGN KEY (top_level_namespace_id, repository_id, manifest_id, digest) REFERENCES public.manifests (top_level_namespace_id, repository_id, id, configuration_blob_digest) ON DELETE CASCADE')
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
            (1, 'gc_manifest_review_queue', 'fk_gc_manifest_review_queue_tp_lvl_nspc_id_rp_id_mfst_id_mnfsts'),
            (2, 'gc_blobs_configurations', 'fk_gc_blobs_configurations_digest_blobs'),
            (3, 'gc_blobs_configurations', 'fk_gc_blobs_configurations_tp_lvl_nspc_id_r_id_m_id_dgst_mnfsts')
        ) AS v (position, tbl, name)
        ORDER BY v.position DESC
    LOOP
        IF to_regclass(format('public.%I', k.tbl)) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.%I DROP CONSTRAINT IF EXISTS %I', k.tbl, k.name);
        END IF;
    END LOOP;
END
$$;
