-- regdb:up
-- The 64 hash partitions of public.layers (HASH (top_level_namespace_id)), partitions.layers_p_0 .. _p_63, spec §3.1.
-- Each partition takes the parent's indexes, keys and triggers. A migration of its own keeps the
-- transaction's lock count within a default lock table (see 20260101000000_regdb_baseline).
DO $$
BEGIN
    FOR remainder IN 0..63 LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS partitions.%I PARTITION OF public.layers FOR VALUES WITH (MODULUS 64, REMAINDER %s)',
            'layers_p_' || remainder, remainder
        );
    END LOOP;
END
$$;

-- regdb:down
DO $$
BEGIN
    FOR remainder IN 0..63 LOOP
        EXECUTE format('DROP TABLE IF EXISTS partitions.%I', 'layers_p_' || remainder);
    END LOOP;
END
$$;
