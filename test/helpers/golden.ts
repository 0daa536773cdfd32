/**
 * Golden table dumps for importer tests: every table the import writes, with ids replaced by the
 * natural keys they stand for (namespace name, repository path, digest, media type) and timestamps
 * reduced to "set" / null, so dumps do not depend on insertion order or the clock. Payloads are
 * shown by length and SHA-256. Compared with `fixtures/golden/<scenario>/<table>.json`;
 * `REGDB_UPDATE_GOLDEN=1` rewrites them, but only after the oracle test
 * (test/integration/oracle-real.test.ts) passed for the current code and fixtures (oracle-marker.ts):
 * goldens are regdb's own output and only detect change.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import { expect } from 'vitest';
import { markerPath, oraclePassed } from './oracle-marker.js';

export const GOLDEN_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'golden');

const DIGEST = (col: string) =>
  `CASE get_byte(${col}, 0) WHEN 1 THEN 'sha256:' WHEN 2 THEN 'sha512:' ELSE '?:' END || encode(substring(${col} from 2), 'hex')`;
// Lookups go through small TEMP copies (see dumpTables): correlated subqueries on 64-partition
// tables cost seconds of planning each on a busy machine.
const REPO = (alias: string) =>
  `(SELECT rr.path FROM dump_repo rr WHERE rr.tl = ${alias}.top_level_namespace_id AND rr.id = ${alias}.repository_id)`;
const MANIFEST = (alias: string, col: string) =>
  `(SELECT x.digest FROM dump_manifest x WHERE x.tl = ${alias}.top_level_namespace_id AND x.rid = ${alias}.repository_id AND x.id = ${alias}.${col})`;
const MT = (col: string) => `(SELECT media_type FROM dump_mt WHERE id = ${col})`;
const SET = (col: string) => `(${col} IS NOT NULL)`;

/** One SELECT per table; ORDER BY natural keys. */
export const DUMP_QUERIES: Record<string, string> = {
  top_level_namespaces: `SELECT name, ${SET('created_at')} AS created_at, updated_at FROM top_level_namespaces ORDER BY name`,
  repositories: `SELECT (SELECT name FROM top_level_namespaces n WHERE n.id = r.top_level_namespace_id) AS namespace,
    name, path, parent_id, ${SET('last_published_at')} AS last_published_at, deleted_at FROM repositories r ORDER BY path`,
  media_types_created: `SELECT media_type FROM media_types WHERE id > 103 ORDER BY media_type`,
  blobs: `SELECT ${DIGEST('digest')} AS digest, ${MT('media_type_id')} AS media_type, size::text, ${SET('id')} AS id_set FROM blobs ORDER BY digest`,
  repository_blobs: `SELECT ${REPO('rb')} AS repository, ${DIGEST('blob_digest')} AS digest FROM repository_blobs rb ORDER BY 1, 2`,
  manifests: `SELECT ${REPO('m')} AS repository, ${DIGEST('digest')} AS digest, schema_version,
    ${MT('media_type_id')} AS media_type, ${MT('configuration_media_type_id')} AS configuration_media_type,
    CASE WHEN configuration_blob_digest IS NULL THEN NULL ELSE ${DIGEST('configuration_blob_digest')} END AS configuration_blob_digest,
    length(payload) AS payload_length, encode(sha256(payload), 'hex') AS payload_sha256,
    length(configuration_payload) AS configuration_payload_length,
    CASE WHEN length(configuration_payload) <= 16 THEN convert_from(configuration_payload, 'UTF8')
      ELSE encode(sha256(configuration_payload), 'hex') END AS configuration_payload,
    non_conformant, total_size::text, non_distributable_layers, ${MANIFEST('m', 'subject_id')} AS subject,
    ${MT('artifact_media_type_id')} AS artifact_media_type, media_type_id_convert_to_bigint = media_type_id AS bigint_copy
    FROM manifests m ORDER BY 1, 2`,
  layers: `SELECT ${REPO('l')} AS repository, ${MANIFEST('l', 'manifest_id')} AS manifest, ${DIGEST('digest')} AS digest,
    ${MT('media_type_id')} AS media_type, size::text FROM layers l ORDER BY 1, 2, 3`,
  manifest_references: `SELECT ${REPO('r')} AS repository, ${MANIFEST('r', 'parent_id')} AS parent, ${MANIFEST('r', 'child_id')} AS child
    FROM manifest_references r ORDER BY 1, 2, 3`,
  tags: `SELECT ${REPO('t')} AS repository, name, ${MANIFEST('t', 'manifest_id')} AS manifest, updated_at FROM tags t ORDER BY 1, 2`,
  gc_blob_review_queue: `SELECT ${DIGEST('digest')} AS digest, event, review_count,
    review_after > created_at + interval '1 day' AND review_after < created_at + interval '1 day 62 seconds' AS review_in_a_day
    FROM gc_blob_review_queue ORDER BY 1`,
  gc_manifest_review_queue: `SELECT ${REPO('q')} AS repository, ${MANIFEST('q', 'manifest_id')} AS manifest, event, review_count
    FROM gc_manifest_review_queue q ORDER BY 1, 2`,
  gc_blobs_configurations: `SELECT ${REPO('g')} AS repository, ${MANIFEST('g', 'manifest_id')} AS manifest, ${DIGEST('digest')} AS digest
    FROM gc_blobs_configurations g ORDER BY 1, 2`,
  gc_blobs_layers: `SELECT ${REPO('g')} AS repository, ${DIGEST('digest')} AS digest,
    (SELECT x.digest FROM dump_layer l JOIN dump_manifest x ON x.tl = l.tl AND x.rid = l.rid AND x.id = l.manifest_id
      WHERE l.tl = g.top_level_namespace_id AND l.rid = g.repository_id AND l.id = g.layer_id) AS manifest
    FROM gc_blobs_layers g ORDER BY 1, 2, 3`,
  gc_tmp_blobs_manifests: `SELECT ${DIGEST('digest')} AS digest FROM gc_tmp_blobs_manifests ORDER BY 1`,
  import_statistics: `SELECT pre_import, ${SET('pre_import_started_at')} AS pre_started, pre_import_error, tag_import,
    tag_import_error, blob_import, blob_import_error, repositories_count::text, tags_count::text, manifests_count::text,
    blobs_count::text, blobs_size_bytes::text, storage_driver FROM import_statistics ORDER BY id`,
};

export type Dump = Record<string, unknown[]>;

export async function dumpTables(
  pool: pg.Pool,
  tables: readonly string[] = Object.keys(DUMP_QUERIES),
): Promise<Dump> {
  const out: Dump = {};
  const client = await pool.connect();
  try {
    await client.query(`
      CREATE TEMP TABLE dump_repo AS SELECT top_level_namespace_id AS tl, id, path FROM repositories;
      CREATE TEMP TABLE dump_manifest AS
        SELECT top_level_namespace_id AS tl, repository_id AS rid, id, ${DIGEST('digest')} AS digest FROM manifests;
      CREATE TEMP TABLE dump_layer AS
        SELECT top_level_namespace_id AS tl, repository_id AS rid, id, manifest_id FROM layers;
      CREATE TEMP TABLE dump_mt AS SELECT id, media_type FROM media_types;
      CREATE INDEX ON dump_repo (tl, id);
      CREATE INDEX ON dump_manifest (tl, rid, id);
      CREATE INDEX ON dump_layer (tl, rid, id);
      ANALYZE dump_repo, dump_manifest, dump_layer, dump_mt;`);
    for (const t of tables) out[t] = (await client.query(DUMP_QUERIES[t]!)).rows;
  } finally {
    await client
      .query('DROP TABLE IF EXISTS dump_repo, dump_manifest, dump_layer, dump_mt')
      .catch(() => undefined);
    client.release();
  }
  return out;
}

/** Compare with (or, with REGDB_UPDATE_GOLDEN=1, write) the golden files of a scenario. */
export async function expectGolden(scenario: string, dump: Dump): Promise<void> {
  const dir = join(GOLDEN_DIR, scenario);
  const update = process.env.REGDB_UPDATE_GOLDEN === '1';
  if (update && !oraclePassed()) {
    throw new Error(
      `REGDB_UPDATE_GOLDEN=1 refused: no oracle pass for this source tree (${markerPath()} is missing). ` +
        'Run `npx vitest run test/integration/oracle-real.test.ts` first; it compares the import with ' +
        "Debian's docker-registry serving the same tree and marks the tree when every fact matches.",
    );
  }
  if (update) await mkdir(dir, { recursive: true });
  for (const [table, rows] of Object.entries(dump)) {
    const file = join(dir, `${table}.json`);
    const text = JSON.stringify(rows, null, 2) + '\n';
    if (update || !existsSync(file)) {
      if (!update)
        throw new Error(`missing golden file ${file}: run with REGDB_UPDATE_GOLDEN=1 to create it`);
      await writeFile(file, text);
      continue;
    }
    expect(JSON.parse(text), `${scenario}/${table}.json`).toEqual(JSON.parse(await readFile(file, 'utf8')));
  }
}

/** Every row count and sequence value of the database (dry-run proof). */
export async function databaseFingerprint(pool: pg.Pool): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const tables = await pool.query<{ t: string }>(
    "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname IN ('public', 'partitions') ORDER BY 1",
  );
  for (const { t } of tables.rows) {
    out[`rows ${t}`] = (await pool.query<{ c: string }>(`SELECT count(*)::text AS c FROM ${t}`)).rows[0]!.c;
  }
  const seqs = await pool.query<{ n: string; v: string | null }>(
    "SELECT format('%I.%I', schemaname, sequencename) AS n, last_value::text AS v FROM pg_sequences ORDER BY 1",
  );
  for (const s of seqs.rows) out[`seq ${s.n}`] = s.v ?? 'unset';
  const schemas = await pool.query<{ n: string }>(
    "SELECT nspname AS n FROM pg_namespace WHERE nspname = 'regdb_import'",
  );
  out['schema regdb_import'] = String(schemas.rowCount);
  return out;
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Tables an import writes, and those with an identity column to restart. */
const IMPORT_TABLES = [
  'tags',
  'manifest_references',
  'layers',
  'manifests',
  'repository_blobs',
  'blobs',
  'repositories',
  'top_level_namespaces',
  'gc_blob_review_queue',
  'gc_manifest_review_queue',
  'gc_blobs_configurations',
  'gc_blobs_layers',
  'gc_tmp_blobs_manifests',
  'import_statistics',
];
const IDENTITY_TABLES = [
  'tags',
  'manifest_references',
  'layers',
  'manifests',
  'repository_blobs',
  'repositories',
  'top_level_namespaces',
  'gc_blobs_configurations',
  'gc_blobs_layers',
  'import_statistics',
];

/**
 * Empties everything an import writes and restarts the sequences, so one (slow to create) test
 * database serves several import scenarios. Seeded media types (ids 1-103) stay. DELETE with
 * triggers off (session_replication_role) is much faster here than TRUNCATE of 64-partition tables.
 */
export async function resetImportTables(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SET LOCAL session_replication_role = 'replica'");
    for (const t of IMPORT_TABLES) await client.query(`DELETE FROM ${t}`);
    await client.query('DELETE FROM media_types WHERE id > 103');
    for (const t of IDENTITY_TABLES) await client.query(`ALTER TABLE ${t} ALTER COLUMN id RESTART`);
    await client.query('ALTER TABLE media_types ALTER COLUMN id RESTART WITH 104');
    await client.query('ALTER SEQUENCE blobs_id_seq RESTART');
    await client.query('DROP SCHEMA IF EXISTS regdb_import CASCADE');
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}
