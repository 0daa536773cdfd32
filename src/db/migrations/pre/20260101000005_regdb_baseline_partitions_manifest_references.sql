-- regdb:up
-- The 64 hash partitions of public.manifest_references (HASH (top_level_namespace_id)), partitions.manifest_references_p_0 .. _p_63, spec §3.1.
-- Each partition takes the parent's indexes, keys and triggers. A migration of its own keeps the
-- transaction's lock count within a default lock table (see 20260101000000_regdb_baseline).
DO $$
BEGIN
    FOR remainder IN 0..63 LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS partitions.%I PARTITION OF public.manifest_references FOR VALUES WITH (MODULUS 64, REMAINDER %s)',
            'manifest_references_p_' || remainder, remainder
        );
    END LOOP;
END
$$;

-- regdb:down
DO $$
BEGIN
    FOR remainder IN 0..63 LOOP
        EXECUTE format('DROP TABLE IF EXISTS partitions.%I', 'manifest_references_p_' || remainder);
    END LOOP;
END
$$;
