import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BbmStatus } from '../../src/bbm/model.js';
import { runBackgroundMigrationsSync, type BbmProgressEvent } from '../../src/bbm/sync.js';
import { createBbmStore } from '../../src/db/bbm/pg-store.js';
import { createWorkRegistry } from '../../src/bbm/work.js';
import {
  FAST,
  INT64_MAX,
  MANIFESTS_BBM,
  assertContiguous,
  bbmDatabase,
  dataState,
  expectAllFinished,
  jobs,
  seedStaleRows,
  statusCounts,
  type BbmTestDatabase,
} from './bbm-support.js';

describe('run: 50,000 manifests and 50,000 blobs', () => {
  let db: BbmTestDatabase;

  beforeAll(async () => {
    db = await bbmDatabase();
    await seedStaleRows(db.pool, { manifests: 50_000, blobs: 50_000 });
  });
  afterAll(async () => db?.drop());

  it('starts with every row needing work and 65 active migrations', async () => {
    expect(await dataState(db.pool)).toEqual({
      staleManifests: 50_000,
      manifests: 50_000,
      nullBlobIds: 50_000,
      blobs: 50_000,
      distinctBlobIds: 0,
    });
    expect(await statusCounts(db.pool)).toEqual({ [BbmStatus.active]: 65 });
  });

  it('finishes both kinds of migration and every row is correct', async () => {
    const events: BbmProgressEvent[] = [];
    const result = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      maxJobRetry: 2,
      onProgress: (e) => events.push(e),
      ...FAST,
    });
    // 50,000 manifest ids in batches of 10,000 -> 5 ranges, then one last range up to int64 max;
    // each blobs partition holds under 100,000 NULL ids -> one job per partition.
    expect(result).toEqual({ finished: 65, jobs: 6 + 64, rows: 100_000 });
    const all = await expectAllFinished(db.pool, 50_000);
    expect(events.filter((e) => e.kind === 'migration-finished')).toHaveLength(65);

    const manifestJobs = all.filter((j) => j.migration === MANIFESTS_BBM);
    expect(manifestJobs.map((j) => [j.min, j.max])).toEqual([
      [1n, 10000n],
      [10001n, 20000n],
      [20001n, 30000n],
      [30001n, 40000n],
      [40001n, 50000n],
      [50001n, INT64_MAX],
    ]);
    expect(all.every((j) => j.status === BbmStatus.finished && j.attempts === 1)).toBe(true);
    expect(all.filter((j) => j.migration.startsWith('backfill_blobs_p_'))).toHaveLength(64);
  });

  it('shows every migration finished at 100%, with the tuple estimate stored', async () => {
    const list = await createBbmStore(db.pool).list();
    expect(list.map((r) => r.migration.status)).toEqual(Array(65).fill(BbmStatus.finished));
    const manifests = list[0]!.migration;
    expect(manifests.name).toBe(MANIFESTS_BBM);
    expect(manifests.maxValue).toBe(INT64_MAX);
    expect(manifests.totalTupleCount).toBe(50_000n);
    const blobEstimates = list.slice(1).map((r) => r.migration.totalTupleCount ?? 0n);
    expect(blobEstimates.reduce((a, b) => a + b, 0n)).toBe(50_000n);
  });

  it('has nothing left to do on a second run', async () => {
    expect(await runBackgroundMigrationsSync(createBbmStore(db.pool), FAST)).toEqual({
      finished: 0,
      jobs: 0,
      rows: 0,
    });
    expect((await jobs(db.pool)).length).toBe(70);
  });
});

describe('serial migration bounded by the int64 maximum', () => {
  let db: BbmTestDatabase;
  beforeAll(async () => {
    db = await bbmDatabase();
  });
  afterAll(async () => db?.drop());

  it('terminates on an empty table with one job reaching 9223372036854775807', async () => {
    const result = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      names: [MANIFESTS_BBM],
      ...FAST,
    });
    expect(result).toEqual({ finished: 1, jobs: 1, rows: 0 });
    expect((await jobs(db.pool)).map((j) => [j.min, j.max])).toEqual([[1n, INT64_MAX]]);
  });

  it('terminates when the last key is the int64 maximum itself, each key processed once', async () => {
    await db.pool.query(`CREATE TABLE public.bbm_edge (id bigint PRIMARY KEY, done int NOT NULL DEFAULT 0)`);
    await db.pool.query(
      `INSERT INTO public.bbm_edge (id) SELECT 9223372036854775807 - g FROM generate_series(0, 9) g`,
    );
    await db.pool.query(
      `INSERT INTO batched_background_migrations
         (name, min_value, max_value, batch_size, status, job_signature_name, table_name, column_name)
       VALUES ('edge', 9223372036854775800, 9223372036854775807, 3, 1, 'countEdge', 'public.bbm_edge', 'id')`,
    );
    const registry = createWorkRegistry().register('countEdge', async (ctx) => {
      const r = await db.pool.query(
        'UPDATE public.bbm_edge SET done = done + 1 WHERE id >= $1 AND id <= $2',
        [ctx.job.minValue.toString(), ctx.job.maxValue.toString()],
      );
      return r.rowCount ?? 0;
    });
    const result = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      names: ['edge'],
      registry,
      ...FAST,
    });
    expect(result).toEqual({ finished: 1, jobs: 3, rows: 8 });
    const edge = await jobs(db.pool, 'edge');
    assertContiguous(edge, 9223372036854775800n, INT64_MAX);
    // Keys 9223372036854775800..807 in batches of 3; the third batch ends at max_value.
    expect(edge.map((j) => [j.min, j.max])).toEqual([
      [9223372036854775800n, 9223372036854775802n],
      [9223372036854775803n, 9223372036854775805n],
      [9223372036854775806n, INT64_MAX],
    ]);
    const done = await db.pool.query(`SELECT id::text, done FROM public.bbm_edge ORDER BY id`);
    expect(done.rows.map((r: { done: number }) => r.done)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
  });
});
