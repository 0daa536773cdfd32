/**
 * Shared set-up of the BBM integration tests: a migrated database per test file, and synthetic
 * manifests and blobs whose new columns need the background migrations.
 */
import type pg from 'pg';
import { expect } from 'vitest';
import { BbmStatus } from '../../src/bbm/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

export type BbmTestDatabase = TestDatabase;

/** The first of the 65 migrations: manifests' media_type_id into its bigint column, by id range. */
export const MANIFESTS_BBM = 'copy_manifests_media_type_id_column_to_media_type_id_convert_to_bigint_column';

/** Run options that keep the pause between batches short. */
export const FAST = { pauseBetweenBatchesMs: [0, 5] as const };

/** A fresh, migrated database (65 BBM rows, the NULL index built), cloned from the shared template. */
export function bbmDatabase(): Promise<BbmTestDatabase> {
  return freshDatabase();
}

/**
 * `manifests` rows whose `media_type_id_convert_to_bigint` is stale (0) and `blobs` rows whose
 * `id` is NULL, as a database migrated before the new columns existed has them.
 */
export async function seedStaleRows(
  pool: pg.Pool,
  counts: { manifests: number; blobs: number },
): Promise<void> {
  const c = await pool.connect();
  let broken = false;
  try {
    // Bypass the triggers (GC bookkeeping, and the BEFORE trigger that keeps the bigint copy in
    // sync) so the rows look as they did before the new columns existed: the copy holds its
    // default 0 and needs the background migration. FKs are triggers too; the rows are consistent.
    // One statement per transaction: a partitioned insert locks every partition and its indexes,
    // and the shared lock table is small.
    await c.query(`SET session_replication_role = replica`);
    await c.query(`INSERT INTO top_level_namespaces (name) SELECT 'ns' || g FROM generate_series(1, 20) g`);
    await c.query(
      `INSERT INTO repositories (top_level_namespace_id, name, path)
       SELECT id, 'repo', name || '/repo' FROM top_level_namespaces`,
    );
    await c.query(
      `INSERT INTO manifests (top_level_namespace_id, repository_id, schema_version, media_type_id, digest,
         payload, total_size)
       SELECT r.top_level_namespace_id, r.id, 2, 3 + (g % 2) * 14,
         decode('01' || md5('m' || g) || md5('n' || g), 'hex'), '\\x7b7d'::bytea, g
       FROM generate_series(1, $1::int) g
       JOIN repositories r ON r.top_level_namespace_id = 1 + (g % 20)`,
      [counts.manifests],
    );
    await c.query(
      `INSERT INTO blobs (digest, media_type_id, size, id)
       SELECT decode('01' || md5('b' || g) || md5('c' || g), 'hex'), 21, g, NULL
       FROM generate_series(1, $1::int) g`,
      [counts.blobs],
    );
    await c.query(`RESET session_replication_role`);
    await c.query('ANALYZE manifests');
    await c.query('ANALYZE blobs');
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    // A connection left with replication role set must not go back to the pool.
    c.release(broken);
  }
}

export interface JobRow {
  id: bigint;
  migration: string;
  min: bigint;
  max: bigint;
  status: number;
  attempts: number;
  startedAt: Date;
  finishedAt: Date | null;
}

export async function jobs(pool: pg.Pool, namePattern = '%'): Promise<JobRow[]> {
  const r = await pool.query(
    `SELECT j.id::text, m.name, j.min_value::text AS min, j.max_value::text AS max, j.status, j.attempts,
       j.started_at, j.finished_at
     FROM batched_background_migration_jobs j JOIN batched_background_migrations m
       ON m.id = j.batched_background_migration_id
     WHERE m.name LIKE $1 ORDER BY j.id`,
    [namePattern],
  );
  return r.rows.map((x: Record<string, unknown>) => ({
    id: BigInt(x.id as string),
    migration: x.name as string,
    min: BigInt(x.min as string),
    max: BigInt(x.max as string),
    status: x.status as number,
    attempts: x.attempts as number,
    startedAt: x.started_at as Date,
    finishedAt: x.finished_at as Date | null,
  }));
}

export async function statusCounts(pool: pg.Pool): Promise<Record<string, number>> {
  const r = await pool.query(
    `SELECT status, count(*)::int AS n FROM batched_background_migrations GROUP BY status ORDER BY status`,
  );
  return Object.fromEntries(r.rows.map((x: { status: number; n: number }) => [String(x.status), x.n]));
}

/** The checks every "all done" test makes on the data itself. */
export async function dataState(pool: pg.Pool): Promise<{
  staleManifests: number;
  manifests: number;
  nullBlobIds: number;
  blobs: number;
  distinctBlobIds: number;
}> {
  const m = await pool.query(
    `SELECT count(*) FILTER (WHERE media_type_id_convert_to_bigint <> media_type_id)::int AS stale,
       count(*)::int AS n FROM manifests`,
  );
  const b = await pool.query(
    `SELECT count(*) FILTER (WHERE id IS NULL)::int AS nulls, count(*)::int AS n,
       count(DISTINCT id)::int AS distinct_ids FROM blobs`,
  );
  return {
    staleManifests: m.rows[0].stale,
    manifests: m.rows[0].n,
    nullBlobIds: b.rows[0].nulls,
    blobs: b.rows[0].n,
    distinctBlobIds: b.rows[0].distinct_ids,
  };
}

export const INT64_MAX = 9223372036854775807n;

/**
 * The end state of a run over `rows` seeded manifests and blobs (seedStaleRows): all 65 migrations
 * finished, every row migrated, blob ids distinct, and the manifests jobs covering 1..INT64_MAX with
 * no gap or overlap. Returns every job, for the test's own checks.
 */
export async function expectAllFinished(pool: pg.Pool, rows: number): Promise<JobRow[]> {
  expect(await statusCounts(pool)).toEqual({ [BbmStatus.finished]: 65 });
  expect(await dataState(pool)).toEqual({
    staleManifests: 0,
    manifests: rows,
    nullBlobIds: 0,
    blobs: rows,
    distinctBlobIds: rows,
  });
  const all = await jobs(pool);
  assertContiguous(
    all.filter((j) => j.migration === MANIFESTS_BBM),
    1n,
    INT64_MAX,
  );
  return all;
}

/** No two jobs ran at the same time: each started once the one started before it had finished. */
export function expectOneJobAtATime(all: readonly JobRow[]): void {
  const byStart = [...all].sort((x, y) => x.startedAt.getTime() - y.startedAt.getTime());
  for (let i = 1; i < byStart.length; i++) {
    expect(byStart[i - 1]!.finishedAt!.getTime()).toBeLessThanOrEqual(byStart[i]!.startedAt.getTime());
  }
}

/** The manifests job ranges cover min..max without a gap or an overlap. */
export function assertContiguous(
  ranges: readonly { min: bigint; max: bigint }[],
  from: bigint,
  to: bigint,
): void {
  const sorted = [...ranges].sort((a, b) => (a.min < b.min ? -1 : a.min > b.min ? 1 : 0));
  let next = from;
  for (const r of sorted) {
    if (r.min !== next) throw new Error(`job range ${r.min}..${r.max} does not start at ${next}`);
    if (r.max < r.min) throw new Error(`job range ${r.min}..${r.max} is empty`);
    if (r.max === to) {
      next = to;
      if (r !== sorted[sorted.length - 1]) throw new Error(`a job range follows the one ending at ${to}`);
      return;
    }
    next = r.max + 1n;
  }
  throw new Error(`job ranges end at ${next - 1n}, not ${to}`);
}
