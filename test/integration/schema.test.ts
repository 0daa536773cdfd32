/**
 * The migrated schema against GitLab's (issue 2 §4, spec §3): catalog facts equal
 * fixtures/schema/reference-schema.json, the seed data of spec §3.4 and §5.2, and up -> down -> up.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAllMigrations, migrationsDir } from '../../src/db/migration-files.js';
import { migrateDown, migrateUp } from '../../src/db/migrator.js';
import { mislistedTables, mislistedTriggerTables } from '../../scripts/derive-index-order.js';
import { emptyDatabase, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { diffFacts, normalizeFacts, readSchemaFacts, type SchemaFacts } from '../helpers/schema-facts.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/schema/${name}`, import.meta.url), 'utf8'));

const reference = normalizeFacts(fixture('reference-schema.json') as SchemaFacts);
const referenceMediaTypes = fixture('reference-media-types.json') as string[];

/** Spec §3.4: the deterministic ids 1-24. */
const FIRST_MEDIA_TYPES = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.docker.container.image.v1+json',
  'application/vnd.docker.container.image.rootfs.diff+x-gtar',
  'application/vnd.docker.plugin.v1+json',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.cncf.helm.config.v1+json',
  'application/tar+gzip',
  'application/octet-stream',
  'application/vnd.buildkit.cacheconfig.v0',
  'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  'application/vnd.cncf.helm.chart.provenance.v1.prov',
];

function expectSameFacts(expected: SchemaFacts, actual: SchemaFacts): void {
  const differences = diffFacts(expected, actual);
  expect(differences, `schema facts differ:\n${differences.join('\n')}`).toEqual([]);
}

describe('listing order of keys, indexes and triggers', () => {
  // The reference tool lists them in physical catalog order after an unstable sort (see
  // scripts/derive-index-order.ts); the baseline creates them in an order that reproduces its lists.
  it('the baseline creates keys and indexes in an order the reference tool lists as GitLab’s', () => {
    expect(mislistedTables()).toEqual([]);
  });

  it('the baseline creates triggers in an order the reference tool lists as GitLab’s', () => {
    expect(mislistedTriggerTables()).toEqual([]);
  });
});

describe('freshly migrated database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db.drop());

  it('has the catalog facts of GitLab registry’s schema', async () => {
    const facts = await readSchemaFacts(db.pool);
    expectSameFacts(reference, facts);
    expect(Object.keys(facts.tables)).toHaveLength(20);
    expect(facts.partition_schema_tables).toBe(512);
    expect(facts.functions).toHaveLength(12);
  });

  it('names the 512 partitions <table>_p_<0..63> with MODULUS 64', async () => {
    const res = await db.pool.query<{ parent: string; n: number; names_ok: boolean; bounds_ok: boolean }>(`
      SELECT p.relname AS parent, count(*)::int AS n,
             bool_and(c.relname = p.relname || '_p_' || substring(pg_get_expr(c.relpartbound, c.oid) FROM 'remainder (\\d+)')) AS names_ok,
             bool_and(pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES WITH (modulus 64, remainder %)') AS bounds_ok
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid AND c.relkind = 'r'
      JOIN pg_namespace cn ON cn.oid = c.relnamespace AND cn.nspname = 'partitions'
      JOIN pg_class p ON p.oid = i.inhparent
      GROUP BY p.relname ORDER BY p.relname`);
    expect(res.rows).toEqual(
      [
        'blobs',
        'gc_blobs_configurations',
        'gc_blobs_layers',
        'layers',
        'manifest_references',
        'manifests',
        'repository_blobs',
        'tags',
      ].map((parent) => ({ parent, n: 64, names_ok: true, bounds_ok: true })),
    );
  });

  it('seeds the 103 media types, ids 1-24 as in spec §3.4 and the rest after them', async () => {
    const res = await db.pool.query<{ id: number; media_type: string }>(
      'SELECT id, media_type FROM media_types ORDER BY id',
    );
    expect(res.rows.map((r) => r.id)).toEqual(Array.from({ length: 103 }, (_, i) => i + 1));
    expect(res.rows.slice(0, 24).map((r) => r.media_type)).toEqual(FIRST_MEDIA_TYPES);
    expect(res.rows.map((r) => r.media_type).sort()).toEqual([...referenceMediaTypes].sort());
    // The identity continues after the seeds: the importer's find-or-create gets id 104.
    const next = await db.pool.query<{ id: number }>(
      `INSERT INTO media_types (media_type) VALUES ('application/x.regdb-test') RETURNING id`,
    );
    expect(next.rows[0]?.id).toBe(104);
  });

  it('seeds the 7 gc_review_after_defaults rows with 1 day each', async () => {
    const res = await db.pool.query<{ event: string; value: string }>(
      'SELECT event, value::text AS value FROM gc_review_after_defaults ORDER BY event',
    );
    expect(res.rows).toEqual(
      [
        'blob_upload',
        'layer_delete',
        'manifest_delete',
        'manifest_list_delete',
        'manifest_upload',
        'tag_delete',
        'tag_switch',
      ].map((event) => ({ event, value: '1 day' })),
    );
  });

  it('registers the 65 batched background migrations of spec §5.2, active', async () => {
    const res = await db.pool.query<Record<string, string | number | null>>(`
      SELECT id::text, name, min_value::text, max_value::text, batch_size, status, job_signature_name,
             table_name, column_name, batching_strategy, failure_error_code, started_at, finished_at,
             total_tuple_count
      FROM batched_background_migrations b ORDER BY b.id`);
    expect(res.rows).toHaveLength(65);
    const common = {
      status: 1,
      column_name: 'id',
      failure_error_code: null,
      started_at: null,
      finished_at: null,
    };
    expect(res.rows[0]).toEqual({
      id: '1',
      name: 'copy_manifests_media_type_id_column_to_media_type_id_convert_to_bigint_column',
      min_value: '1',
      max_value: '9223372036854775807',
      batch_size: 10000,
      job_signature_name: 'copyManifestMediaTypeIDToNewBigIntColumn',
      table_name: 'public.manifests',
      batching_strategy: null,
      total_tuple_count: null,
      ...common,
    });
    res.rows.slice(1).forEach((row, n) => {
      expect(row).toEqual({
        id: String(n + 2),
        name: `backfill_blobs_p_${n}_id_column`,
        min_value: '0',
        max_value: '0',
        batch_size: 100000,
        job_signature_name: 'populateBlobsIDColumn',
        table_name: `partitions.blobs_p_${n}`,
        batching_strategy: 'NullKeySetBatchingStrategy',
        total_tuple_count: null,
        ...common,
      });
    });
    const jobs = await db.pool.query('SELECT 1 FROM batched_background_migration_jobs');
    expect(jobs.rowCount).toBe(0);
  });
});

describe('migrate up -> down -> up', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await emptyDatabase();
  });
  afterAll(async () => db.drop());

  it('down leaves only the bookkeeping tables, and the second up gives the same facts', async () => {
    await migrateUp(db.pool);
    const first = await readSchemaFacts(db.pool);
    expectSameFacts(reference, first);

    const down = await migrateDown(db.pool);
    expect(down.applied.post).toBe(1);
    expect(down.applied.pre).toBe(15);
    const left = await db.pool.query<{ name: string }>(`
      SELECT n.nspname || '.' || c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      ORDER BY 1`);
    expect(left.rows.map((r) => r.name)).toEqual([
      'public.post_deploy_schema_migrations',
      'public.post_deploy_schema_migrations_pkey',
      'public.schema_migrations',
      'public.schema_migrations_pkey',
    ]);
    const leftovers = await db.pool.query(`
      SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
      UNION ALL SELECT 1 FROM pg_namespace WHERE nspname = 'partitions'
      UNION ALL SELECT 1 FROM schema_migrations
      UNION ALL SELECT 1 FROM post_deploy_schema_migrations`);
    expect(leftovers.rowCount).toBe(0);

    await migrateUp(db.pool);
    expectSameFacts(first, await readSchemaFacts(db.pool));
    const seeds = await db.pool.query<{ media_types: number; defaults: number; bbms: number }>(`
      SELECT (SELECT count(*)::int FROM media_types WHERE id <= 103) AS media_types,
             (SELECT count(*)::int FROM gc_review_after_defaults) AS defaults,
             (SELECT count(*)::int FROM batched_background_migrations) AS bbms`);
    expect(seeds.rows[0]).toEqual({ media_types: 103, defaults: 7, bbms: 65 });
  }, 600_000);

  it('every up section runs again over the complete schema without changing it', async () => {
    const before = await readSchemaFacts(db.pool);
    const all = loadAllMigrations(migrationsDir());
    const client = await db.pool.connect();
    try {
      for (const m of [...all.pre, ...all.post]) {
        await client.query('BEGIN');
        await client.query(m.up);
        await client.query('COMMIT');
      }
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
    expectSameFacts(before, await readSchemaFacts(db.pool));
    // The seeds draw no identity values on a re-run (WHERE NOT EXISTS rather than ON CONFLICT).
    const ids = await db.pool.query<{ media_types: number; bbms: string; defaults: number }>(`
      SELECT (SELECT max(id)::int FROM media_types) AS media_types,
             (SELECT max(id)::text FROM batched_background_migrations) AS bbms,
             (SELECT count(*)::int FROM gc_review_after_defaults) AS defaults`);
    expect(ids.rows[0]).toEqual({ media_types: 103, bbms: '65', defaults: 7 });
    const next = await db.pool.query<{ id: number }>(
      `INSERT INTO media_types (media_type) VALUES ('application/x.regdb-rerun') RETURNING id`,
    );
    expect(next.rows[0]?.id).toBe(104);
  }, 600_000);
});
