-- regdb:up
-- The indexes GitLab builds post-deployment (its 20250414074231..20250414074500 and
-- 20251015074231..20251015074500). GitLab builds them partition by partition with CREATE INDEX
-- CONCURRENTLY and attaches them to the parent; on a baseline install the tables are empty, so one
-- transactional CREATE INDEX on each parent (which cascades to the 64 partitions) gives the same
-- catalog state. index_blobs_on_null_id is the NULL index the populateBlobsIDColumn background
-- migrations require (spec §5.3).
CREATE INDEX IF NOT EXISTS index_manifests_on_id ON public.manifests (id);
CREATE INDEX IF NOT EXISTS index_blobs_on_null_id ON public.blobs (id) WHERE id IS NULL;

-- regdb:down
DROP INDEX IF EXISTS public.index_blobs_on_null_id;
DROP INDEX IF EXISTS public.index_manifests_on_id;
