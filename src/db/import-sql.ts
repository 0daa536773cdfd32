/**
 * The importer's SQL: TEMP staging tables keyed by natural keys (namespace, repository path, digest,
 * tag name), filled by COPY, then merged into GitLab's tables with set-based INSERT … SELECT that
 * resolves ids by joins (spec §2.9). `NOT EXISTS` keeps identity values from being spent on rows that
 * exist (GitLab finds before it inserts); `ON CONFLICT` covers concurrent shards. Rows are inserted
 * in a fixed order (`seq`, or digest for shared blobs) so concurrent transactions lock alike.
 *
 * Scale: GitLab's tables are hash-partitioned 64 ways, and a join or anti-join against one of them
 * that the planner turns into a hash or merge join reads the whole table for every batch, which makes
 * an import quadratic. So every probe of a big table here is a correlated subquery kept as such
 * (`OFFSET 0` stops the planner from flattening it into a join): one index lookup per staged row,
 * pruned to one partition at run time. Manifest ids are looked up once per batch into
 * regdb_stg_manifest_ids, which the later merges join instead of `manifests`.
 * regdb's own bookkeeping lives in schema `regdb_import`, never in GitLab's tables.
 */
import { STAGING, stagingDdl } from './import-staging.js';

/** The staging tables (import-staging.ts), plus two the merges fill, emptied for each batch. */
export const STAGING_DDL = [
  ...Object.values(STAGING).map((t) => stagingDdl(t)),
  'CREATE TEMP TABLE IF NOT EXISTS regdb_stg_repo_map (path text PRIMARY KEY, ns_id bigint, repo_id bigint, sync_tags boolean);',
  'CREATE TEMP TABLE IF NOT EXISTS regdb_stg_manifest_ids (path text, digest bytea, id bigint, PRIMARY KEY (path, digest));',
  `TRUNCATE ${[...Object.values(STAGING).map((t) => t.name), 'regdb_stg_repo_map', 'regdb_stg_manifest_ids'].join(', ')};`,
].join('\n');

/** Step three's batches stage blobs only. */
export const ANALYZE_STAGED_BLOBS = 'ANALYZE regdb_stg_blobs (digest)';

/**
 * After the COPY: the planner must know the staged row counts to pick index lookups. Only the key
 * columns are analysed (statistics of the payload columns would cost more than the merges).
 */
export const ANALYZE_STAGING = `
ANALYZE regdb_stg_repositories (path), regdb_stg_blobs (digest), regdb_stg_repository_blobs (path, digest),
  regdb_stg_manifests (path, digest, subject_digest), regdb_stg_layers (path, manifest_digest, digest),
  regdb_stg_references (path), regdb_stg_tags (path, name)`;

/** Per batch transaction: JIT compiling these short statements costs more than it saves. */
export const SESSION_SETTINGS = 'SET LOCAL jit = off';

/** Find-or-create media types (spec §2.9.1); only run with dynamic media types on. */
export const MERGE_MEDIA_TYPES = `
INSERT INTO media_types (media_type)
SELECT s.mt FROM (
  SELECT media_type FROM regdb_stg_manifests
  UNION SELECT config_media_type FROM regdb_stg_manifests
  UNION SELECT artifact_media_type FROM regdb_stg_manifests
  UNION SELECT media_type FROM regdb_stg_layers) AS s(mt)
WHERE s.mt IS NOT NULL AND NOT EXISTS (SELECT 1 FROM media_types m WHERE m.media_type = s.mt)
ORDER BY s.mt
ON CONFLICT (media_type) DO NOTHING`;

export const MERGE_NAMESPACES = `
INSERT INTO top_level_namespaces (name)
SELECT DISTINCT s.namespace FROM regdb_stg_repositories s
WHERE NOT EXISTS (SELECT 1 FROM top_level_namespaces n WHERE n.name = s.namespace)
ORDER BY s.namespace
ON CONFLICT (name) DO NOTHING`;

/** Repositories: parent_id NULL, a soft-deleted row is revived (spec §2.9.2). */
export const MERGE_REPOSITORIES = `
INSERT INTO repositories (top_level_namespace_id, name, path)
SELECT n.id, s.name, s.path FROM regdb_stg_repositories s
JOIN top_level_namespaces n ON n.name = s.namespace
WHERE NOT EXISTS (SELECT 1 FROM repositories r WHERE r.path = s.path AND r.deleted_at IS NULL)
ORDER BY s.seq
ON CONFLICT (path) DO UPDATE SET deleted_at = NULL`;

export const FILL_REPO_MAP = `
INSERT INTO regdb_stg_repo_map (path, ns_id, repo_id, sync_tags)
SELECT s.path, r.top_level_namespace_id, r.id, s.sync_tags
FROM regdb_stg_repositories s JOIN repositories r ON r.path = s.path`;

/** Step one stamps the client clock (spec §2.2 step 7). */
export const UPDATE_LAST_PUBLISHED = `
UPDATE repositories r SET last_published_at = s.last_published_at
FROM regdb_stg_repositories s
WHERE r.path = s.path AND s.last_published_at IS NOT NULL`;

/** Blobs: application/octet-stream always, first writer's size wins (spec §2.9.3). */
export const MERGE_BLOBS = `
INSERT INTO blobs (digest, media_type_id, size)
SELECT DISTINCT ON (s.digest) s.digest,
  (SELECT id FROM media_types WHERE media_type = 'application/octet-stream'), s.size
FROM regdb_stg_blobs s
WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = s.digest OFFSET 0)
ORDER BY s.digest, s.seq
ON CONFLICT (digest) DO NOTHING`;

export const MERGE_REPOSITORY_BLOBS = `
INSERT INTO repository_blobs (top_level_namespace_id, repository_id, blob_digest)
SELECT m.ns_id, m.repo_id, s.digest
FROM regdb_stg_repository_blobs s JOIN regdb_stg_repo_map m ON m.path = s.path
WHERE NOT EXISTS (SELECT 1 FROM repository_blobs rb
  WHERE rb.top_level_namespace_id = m.ns_id AND rb.repository_id = m.repo_id AND rb.blob_digest = s.digest
  OFFSET 0)
ORDER BY s.seq
ON CONFLICT (top_level_namespace_id, repository_id, blob_digest) DO NOTHING`;

/**
 * Manifests. With the row triggers off (`bulk`), media_type_id_convert_to_bigint is written directly:
 * it is what GitLab's BEFORE trigger would copy into it.
 */
function mergeManifests(bulk: boolean): string {
  return `
INSERT INTO manifests (top_level_namespace_id, repository_id, schema_version, media_type_id, digest, payload,
  total_size, configuration_media_type_id, configuration_blob_digest, configuration_payload, non_conformant,
  artifact_media_type_id${bulk ? ', media_type_id_convert_to_bigint' : ''})
SELECT m.ns_id, m.repo_id, s.schema_version, mt.id, s.digest, s.payload, s.total_size, cmt.id, s.config_digest,
  s.config_payload, s.non_conformant, amt.id${bulk ? ', mt.id' : ''}
FROM regdb_stg_manifests s
JOIN regdb_stg_repo_map m ON m.path = s.path
JOIN media_types mt ON mt.media_type = s.media_type
LEFT JOIN media_types cmt ON cmt.media_type = s.config_media_type
LEFT JOIN media_types amt ON amt.media_type = s.artifact_media_type
WHERE NOT EXISTS (SELECT 1 FROM manifests x
  WHERE x.top_level_namespace_id = m.ns_id AND x.repository_id = m.repo_id AND x.digest = s.digest OFFSET 0)
ORDER BY s.seq
ON CONFLICT (top_level_namespace_id, repository_id, digest) DO NOTHING`;
}

export const MERGE_MANIFESTS = mergeManifests(false);

/**
 * Ids of every manifest the batch's rows refer to (new or already there), looked up once by
 * (repository, digest), after the manifests merge.
 */
export const FILL_MANIFEST_IDS = `
INSERT INTO regdb_stg_manifest_ids (path, digest, id)
SELECT k.path, k.digest, x.id
FROM (
  SELECT path, digest FROM regdb_stg_manifests
  UNION SELECT path, subject_digest FROM regdb_stg_manifests WHERE subject_digest IS NOT NULL
  UNION SELECT path, manifest_digest FROM regdb_stg_layers
  UNION SELECT path, parent_digest FROM regdb_stg_references
  UNION SELECT path, child_digest FROM regdb_stg_references
  UNION SELECT path, manifest_digest FROM regdb_stg_tags) k
JOIN regdb_stg_repo_map m ON m.path = k.path
CROSS JOIN LATERAL (SELECT x.id FROM manifests x
  WHERE x.top_level_namespace_id = m.ns_id AND x.repository_id = m.repo_id AND x.digest = k.digest OFFSET 0) x`;

/** Referrers point at a manifest of the same repository (issue 5 §2); set once both rows exist. */
export const SET_SUBJECTS = `
UPDATE manifests x SET subject_id = v.subject_id
FROM (SELECT m.ns_id, m.repo_id, xi.id, si.id AS subject_id
  FROM regdb_stg_manifests s
  JOIN regdb_stg_repo_map m ON m.path = s.path
  JOIN regdb_stg_manifest_ids xi ON xi.path = s.path AND xi.digest = s.digest
  JOIN regdb_stg_manifest_ids si ON si.path = s.path AND si.digest = s.subject_digest
  WHERE s.subject_digest IS NOT NULL) v
WHERE x.top_level_namespace_id = v.ns_id AND x.repository_id = v.repo_id AND x.id = v.id
  AND x.subject_id IS NULL`;

export const MERGE_LAYERS = `
INSERT INTO layers (top_level_namespace_id, repository_id, manifest_id, digest, media_type_id, size)
SELECT m.ns_id, m.repo_id, x.id, s.digest, mt.id, s.size
FROM regdb_stg_layers s
JOIN regdb_stg_repo_map m ON m.path = s.path
JOIN regdb_stg_manifest_ids x ON x.path = s.path AND x.digest = s.manifest_digest
JOIN media_types mt ON mt.media_type = s.media_type
WHERE NOT EXISTS (SELECT 1 FROM layers l WHERE l.top_level_namespace_id = m.ns_id
  AND l.repository_id = m.repo_id AND l.manifest_id = x.id AND l.digest = s.digest OFFSET 0)
ORDER BY s.seq
ON CONFLICT (top_level_namespace_id, repository_id, manifest_id, digest) DO NOTHING`;

export const MERGE_REFERENCES = `
INSERT INTO manifest_references (top_level_namespace_id, repository_id, parent_id, child_id)
SELECT m.ns_id, m.repo_id, p.id, c.id
FROM regdb_stg_references s
JOIN regdb_stg_repo_map m ON m.path = s.path
JOIN regdb_stg_manifest_ids p ON p.path = s.path AND p.digest = s.parent_digest
JOIN regdb_stg_manifest_ids c ON c.path = s.path AND c.digest = s.child_digest
WHERE p.id <> c.id AND NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.top_level_namespace_id = m.ns_id
  AND r.repository_id = m.repo_id AND r.parent_id = p.id AND r.child_id = c.id OFFSET 0)
ORDER BY s.seq
ON CONFLICT (top_level_namespace_id, repository_id, parent_id, child_id) DO NOTHING`;

/** Step two converges: tags no longer in storage go (the delete trigger queues their manifests). */
export const DELETE_STALE_TAGS = `
DELETE FROM tags t USING (
  SELECT m.ns_id, m.repo_id, x.name FROM regdb_stg_repo_map m
  CROSS JOIN LATERAL (SELECT t2.name FROM tags t2
    WHERE t2.top_level_namespace_id = m.ns_id AND t2.repository_id = m.repo_id OFFSET 0) x
  WHERE m.sync_tags AND NOT EXISTS (SELECT 1 FROM regdb_stg_tags s WHERE s.path = m.path AND s.name = x.name)) d
WHERE t.top_level_namespace_id = d.ns_id AND t.repository_id = d.repo_id AND t.name = d.name`;

/**
 * `CreateOrUpdate` (spec §2.9.7): a moved tag switches manifest and gets updated_at. `pushed_at`
 * (`--tag-timestamps storage`, issue 14 §5) is the current link's last-modified time; NULL keeps
 * GitLab's times (created_at now(), updated_at NULL until the tag moves).
 */
export const MERGE_TAGS = `
INSERT INTO tags (top_level_namespace_id, repository_id, manifest_id, name, created_at, updated_at)
SELECT m.ns_id, m.repo_id, x.id, s.name, coalesce(s.pushed_at, now()), s.pushed_at
FROM regdb_stg_tags s
JOIN regdb_stg_repo_map m ON m.path = s.path
JOIN regdb_stg_manifest_ids x ON x.path = s.path AND x.digest = s.manifest_digest
WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.top_level_namespace_id = m.ns_id
  AND t.repository_id = m.repo_id AND t.name = s.name AND t.manifest_id = x.id OFFSET 0)
ORDER BY s.seq
ON CONFLICT (top_level_namespace_id, repository_id, name)
DO UPDATE SET manifest_id = EXCLUDED.manifest_id, updated_at = coalesce(EXCLUDED.updated_at, now())
WHERE tags.manifest_id <> EXCLUDED.manifest_id`;

/**
 * Whether any repository of the batch has a tag already. When none has, MERGE_TAGS only inserts: no
 * tag moves or goes, so GitLab's tag triggers (AFTER UPDATE OF manifest_id, AFTER DELETE) cannot
 * fire, and the rows' foreign keys hold by construction (repository and manifest ids come from the
 * repositories and manifests rows the map and id tables were filled from); the insert can then run
 * without row triggers, as the other bulk merges do. The foreign-key triggers alone had cost about
 * 130 µs a tag (3,000 tags: 458 ms with them, 58 ms without).
 */
export const BATCH_HAS_TAGS = `
SELECT EXISTS (SELECT 1 FROM regdb_stg_repo_map m WHERE EXISTS (SELECT 1 FROM tags t
  WHERE t.top_level_namespace_id = m.ns_id AND t.repository_id = m.repo_id)) AS tagged`;

/** What the database already holds for a batch of repositories (step two looks manifests up first). */
export const REPOSITORY_STATE = `
SELECT r.id, r.top_level_namespace_id, r.path, r.last_published_at FROM repositories r
WHERE r.path = ANY($1::text[]) AND r.deleted_at IS NULL`;

/**
 * The manifests of repositories found by REPOSITORY_STATE. The namespace ids are the partition key:
 * given as values, they prune the 64 partitions when the statement is planned; a join from
 * repositories could only prune at run time, after planning (and, on a new connection, opening)
 * every partition and its indexes, tens of milliseconds per query. Repository ids are unique across
 * namespaces, so the namespace condition only prunes.
 */
export const REPOSITORY_MANIFESTS = `
SELECT x.repository_id, x.digest FROM manifests x
WHERE x.top_level_namespace_id = ANY($1::bigint[]) AND x.repository_id = ANY($2::bigint[])`;

export const MEDIA_TYPES = 'SELECT media_type FROM media_types';

/** Checkpoints (issue 5 §2, "resumable by default"), in regdb's own schema. */
export const CHECKPOINT_DDL = `
CREATE SCHEMA IF NOT EXISTS regdb_import;
CREATE TABLE IF NOT EXISTS regdb_import.steps (
  scope text NOT NULL, step smallint NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz, PRIMARY KEY (scope, step));
CREATE TABLE IF NOT EXISTS regdb_import.checkpoints (
  scope text NOT NULL, step smallint NOT NULL, key text NOT NULL, done_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, step, key));
ALTER TABLE regdb_import.steps
  ADD COLUMN IF NOT EXISTS repositories bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS tags bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS manifests bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS blobs bigint NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS blob_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE regdb_import.checkpoints ADD COLUMN IF NOT EXISTS position bigint GENERATED BY DEFAULT AS IDENTITY;`;

/** Serialises the DDL above between concurrent shard processes (an arbitrary, fixed key). */
export const CHECKPOINT_DDL_LOCK = 'SELECT pg_advisory_xact_lock(726567646201)';

export const INSERT_CHECKPOINTS = `
INSERT INTO regdb_import.checkpoints (scope, step, key)
SELECT $1, $2, u.k FROM unnest($3::text[]) WITH ORDINALITY AS u(k, n)
ORDER BY u.n
ON CONFLICT (scope, step, key) DO NOTHING`;

export const STEP_STATE = `
SELECT step, finished_at, repositories::text, tags::text, manifests::text, blobs::text, blob_bytes::text
FROM regdb_import.steps WHERE scope = $1`;

/** import_statistics counters of the batch, committed with its checkpoints. */
export const ADD_STEP_COUNTS = `
UPDATE regdb_import.steps SET repositories = repositories + $3, tags = tags + $4, manifests = manifests + $5,
  blobs = blobs + $6, blob_bytes = blob_bytes + $7::bigint
WHERE scope = $1 AND step = $2`;
/**
 * Checkpoints in the order they were written. Batches commit in enumeration order, so every
 * repository the walk meets before the last one is checkpointed too: a resumed walk may start after it.
 */
export const CHECKPOINT_KEYS =
  'SELECT key FROM regdb_import.checkpoints WHERE scope = $1 AND step = $2 ORDER BY position';
export const START_STEP = `
INSERT INTO regdb_import.steps (scope, step) VALUES ($1, $2)
ON CONFLICT (scope, step) DO NOTHING`;
export const FINISH_STEP = 'UPDATE regdb_import.steps SET finished_at = now() WHERE scope = $1 AND step = $2';
export const CLEAR_SCOPE_CHECKPOINTS = 'DELETE FROM regdb_import.checkpoints WHERE scope = $1';
export const CLEAR_SCOPE_STEPS = 'DELETE FROM regdb_import.steps WHERE scope = $1';

export const INSERT_STATISTICS = `
INSERT INTO import_statistics (started_at, finished_at, pre_import, pre_import_started_at, pre_import_finished_at,
  pre_import_error, tag_import, tag_import_started_at, tag_import_finished_at, tag_import_error, blob_import,
  blob_import_started_at, blob_import_finished_at, blob_import_error, repositories_count, tags_count,
  manifests_count, blobs_count, blobs_size_bytes, storage_driver)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`;

export const COUNT_ROWS = `
SELECT (SELECT count(*) FROM repositories) AS repositories, (SELECT count(*) FROM manifests) AS manifests,
  (SELECT count(*) FROM blobs) AS blobs, (SELECT count(*) FROM tags) AS tags`;

/** Sequences in GitLab's schema, to put back after a dry run (nextval is not transactional). */
export const SEQUENCES = `
SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS last_value, start_value::text AS start_value
FROM pg_sequences WHERE schemaname IN ('public', 'partitions')`;
export const RESTORE_SEQUENCE = 'SELECT setval($1::regclass, $2::bigint, $3)';

/*
 * Set-based GC tracking (import-gc.ts): the bulk merges run with session_replication_role = replica,
 * and each one inserts, in the same statement, the GC rows GitLab's row triggers would insert for the
 * rows it inserted (same conflict handling, same review-time function, in row order so identity
 * values follow the rows as the triggers would assign them).
 */
export const REPLICA_ON = 'SET LOCAL session_replication_role = replica';
export const REPLICA_OFF = 'SET LOCAL session_replication_role = origin';

/** `insert` with RETURNING `returning` feeding the `gc` inserts; yields one row `n`: rows inserted. */
function withGc(insert: string, returning: string, gc: readonly string[]): string {
  const ctes = gc.map((g, i) => `, gc${i} AS (${g})`).join('');
  return `WITH ins AS (${insert} RETURNING ${returning})${ctes}\nSELECT count(*)::int AS n FROM ins`;
}

/** gc_track_blob_uploads. */
export const MERGE_BLOBS_BULK = withGc(MERGE_BLOBS, 'digest', [
  `INSERT INTO gc_blob_review_queue (digest, review_after, event)
  SELECT digest, gc_review_after('blob_upload'), 'blob_upload' FROM ins ORDER BY digest
  ON CONFLICT (digest) DO UPDATE SET review_after = gc_review_after('blob_upload'), event = 'blob_upload'`,
]);

/**
 * set_media_type_id_convert_to_bigint (the column is written directly), gc_track_configuration_blobs,
 * gc_track_manifest_uploads, gc_track_tmp_blobs_manifests.
 */
export const MERGE_MANIFESTS_BULK = withGc(
  mergeManifests(true),
  'id, top_level_namespace_id, repository_id, digest, configuration_blob_digest',
  [
    `INSERT INTO gc_blobs_configurations (top_level_namespace_id, repository_id, manifest_id, digest)
  SELECT top_level_namespace_id, repository_id, id, configuration_blob_digest FROM ins
  WHERE configuration_blob_digest IS NOT NULL ORDER BY id
  ON CONFLICT (digest, manifest_id) DO NOTHING`,
    `INSERT INTO gc_manifest_review_queue (top_level_namespace_id, repository_id, manifest_id, review_after, event)
  SELECT top_level_namespace_id, repository_id, id, gc_review_after('manifest_upload'), 'manifest_upload'
  FROM ins ORDER BY id`,
    `INSERT INTO gc_tmp_blobs_manifests (digest) SELECT digest FROM ins ORDER BY id ON CONFLICT DO NOTHING`,
  ],
);

/** gc_track_layer_blobs. */
export const MERGE_LAYERS_BULK = withGc(MERGE_LAYERS, 'id, top_level_namespace_id, repository_id, digest', [
  `INSERT INTO gc_blobs_layers (top_level_namespace_id, repository_id, layer_id, digest)
  SELECT top_level_namespace_id, repository_id, id, digest FROM ins ORDER BY id
  ON CONFLICT (digest, layer_id) DO NOTHING`,
]);

/**
 * The foreign keys the merges' joins do not already guarantee, checked for the whole batch at once
 * (their row triggers are off): every blob digest a row of the batch refers to has a blobs row.
 * A digest staged as a blob of the batch has one (the blobs merge ran first); only the others are
 * looked up. Returns the first violation, if any.
 */
export const BULK_FK_CHECK = `
SELECT v.tbl, v.digest FROM (
  SELECT 'repository_blobs' AS tbl, s.digest FROM regdb_stg_repository_blobs s
  UNION ALL
  SELECT 'manifests', s.config_digest FROM regdb_stg_manifests s WHERE s.config_digest IS NOT NULL
  UNION ALL
  SELECT 'layers', s.digest FROM regdb_stg_layers s) v
WHERE NOT EXISTS (SELECT 1 FROM regdb_stg_blobs sb WHERE sb.digest = v.digest)
  AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = v.digest OFFSET 0)
LIMIT 1`;
