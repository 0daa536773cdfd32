import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BbmValidationError, MaxJobAttemptsError, NoNullIndexError } from '../../src/bbm/errors.js';
import { BbmFailureCode, BbmStatus } from '../../src/bbm/model.js';
import { runBackgroundMigrationsSync, type SyncRunResult } from '../../src/bbm/sync.js';
import { createWorkRegistry, type WorkFunction } from '../../src/bbm/work.js';
import { createBbmStore } from '../../src/db/bbm/pg-store.js';
import { openDatabase, type Database } from '../../src/db/open.js';
import {
  FAST,
  bbmDatabase,
  dataState,
  expectAllFinished,
  expectOneJobAtATime,
  jobs,
  seedStaleRows,
  statusCounts,
  type BbmTestDatabase,
} from './bbm-support.js';

async function migrationRow(pool: pg.Pool, name: string): Promise<{ status: number; code: number | null }> {
  const r = await pool.query(
    'SELECT status, failure_error_code AS code FROM batched_background_migrations WHERE name = $1',
    [name],
  );
  return r.rows[0] as { status: number; code: number | null };
}

async function addMigration(
  pool: pg.Pool,
  row: {
    name: string;
    signature: string;
    table: string;
    column?: string;
    strategy?: string | null;
    max?: bigint;
  },
): Promise<void> {
  await pool.query(
    `INSERT INTO batched_background_migrations
       (name, min_value, max_value, batch_size, status, job_signature_name, table_name, column_name, batching_strategy)
     VALUES ($1, 1, $2, 50, 1, $3, $4, $5, $6)`,
    [
      row.name,
      (row.max ?? 100n).toString(),
      row.signature,
      row.table,
      row.column ?? 'id',
      row.strategy ?? null,
    ],
  );
}

/** Fails the first two attempts of every job, then marks the job's rows done once. */
function flakyWork(pool: pg.Pool, table: string, attempts: Map<bigint, number>): WorkFunction {
  return async (ctx) => {
    const n = (attempts.get(ctx.job.id) ?? 0) + 1;
    attempts.set(ctx.job.id, n);
    if (n <= 2) throw new Error(`flaky failure ${n} of job ${ctx.job.id}`);
    const r = await pool.query(`UPDATE ${table} SET done = done + 1 WHERE id >= $1 AND id <= $2`, [
      ctx.job.minValue.toString(),
      ctx.job.maxValue.toString(),
    ]);
    return r.rowCount ?? 0;
  };
}

/** Waits until a statement on `pool`'s database waits for a row lock. */
async function untilLockWait(pool: pg.Pool): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (r.rows[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no statement waited for a lock within 5 s');
}

describe('pause while running, resume, run again', () => {
  let db: BbmTestDatabase;
  let other: pg.Pool;
  beforeAll(async () => {
    db = await bbmDatabase();
    other = new pg.Pool({ connectionString: db.url, max: 2 });
    await seedStaleRows(db.pool, { manifests: 50_000, blobs: 50_000 });
  });
  afterAll(async () => {
    await other?.end();
    await db?.drop();
  });

  it('pause and resume wait for a batch that holds migration rows, never deadlocking with it', async () => {
    const ids = (
      await db.pool.query('SELECT id FROM batched_background_migrations WHERE status = 1 ORDER BY id LIMIT 2')
    ).rows.map((r: { id: string }) => r.id);
    const [a, b] = ids;
    // a's newest row version now lies after b's in the heap: one UPDATE over all rows would lock b
    // first and then wait for a, while the batch below holds a and asks for b.
    await db.pool.query('UPDATE batched_background_migrations SET updated_at = now() WHERE id = $1', [a]);
    for (const op of ['pause', 'resume'] as const) {
      const batch = new pg.Client({ connectionString: db.url });
      await batch.connect();
      try {
        await batch.query('BEGIN');
        await batch.query('SELECT id FROM batched_background_migrations WHERE id = $1 FOR UPDATE', [a]);
        const changed = createBbmStore(other)[op]();
        await untilLockWait(db.pool);
        // Past deadlock_timeout (1 s) a cycle would have been broken by failing one side.
        await batch.query('SELECT id FROM batched_background_migrations WHERE id = $1 FOR UPDATE', [b]);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await batch.query(
          'UPDATE batched_background_migrations SET updated_at = now() WHERE id IN ($1, $2)',
          [a, b],
        );
        await batch.query('COMMIT');
        expect(await changed).toBe(65);
      } finally {
        await batch.end();
      }
      expect(await statusCounts(db.pool)).toEqual({
        [op === 'pause' ? BbmStatus.paused : BbmStatus.active]: 65,
      });
    }
  });

  it('stops at the pause, then finishes with nothing processed twice and nothing missed', async () => {
    let paused: Promise<number> | undefined;
    const first = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      ...FAST,
      onProgress: (e) => {
        // Pause from another connection as soon as the first job is done.
        if (e.kind === 'job-finished' && paused === undefined) paused = createBbmStore(other).pause();
      },
    });
    expect(await paused).toBeGreaterThan(0);
    expect(first.jobs).toBeGreaterThanOrEqual(1);
    expect(first.jobs).toBeLessThan(70);
    const counts = await statusCounts(db.pool);
    expect(counts[BbmStatus.paused]).toBeGreaterThan(0);
    expect(counts[BbmStatus.active] ?? 0).toBe(0);
    expect(counts[BbmStatus.running] ?? 0).toBe(0);
    expect(
      (await dataState(db.pool)).nullBlobIds + (await dataState(db.pool)).staleManifests,
    ).toBeGreaterThan(0);

    // Paused migrations are not run.
    expect(await runBackgroundMigrationsSync(createBbmStore(db.pool), FAST)).toEqual({
      finished: 0,
      jobs: 0,
      rows: 0,
    });

    expect(await createBbmStore(other).resume()).toBe(counts[BbmStatus.paused]);
    const second = await runBackgroundMigrationsSync(createBbmStore(db.pool), FAST);

    expect(first.finished + second.finished).toBe(65);
    expect(first.jobs + second.jobs).toBe(70);
    expect(first.rows + second.rows).toBe(100_000);
    const all = await expectAllFinished(db.pool, 50_000);
    expect(all).toHaveLength(70);
    expect(all.every((j) => j.status === BbmStatus.finished && j.attempts === 1)).toBe(true);
    // Blob ids were handed out by one sequence, once each: exactly 1..50,000.
    const ids = await db.pool.query('SELECT min(id)::text AS lo, max(id)::text AS hi FROM blobs');
    expect(ids.rows[0]).toEqual({ lo: '1', hi: '50000' });
  });
});

describe('job retries (-r)', () => {
  let db: BbmTestDatabase;
  beforeAll(async () => {
    db = await bbmDatabase();
    for (const t of ['bbm_flaky_a', 'bbm_flaky_b']) {
      await db.pool.query(`CREATE TABLE public.${t} (id bigint PRIMARY KEY, done int NOT NULL DEFAULT 0)`);
      await db.pool.query(`INSERT INTO public.${t} (id) SELECT generate_series(1, 100)`);
    }
    await addMigration(db.pool, { name: 'flaky_a', signature: 'flakyA', table: 'public.bbm_flaky_a' });
    await addMigration(db.pool, { name: 'flaky_b', signature: 'flakyB', table: 'public.bbm_flaky_b' });
  });
  afterAll(async () => db?.drop());

  it('finishes a job that fails twice when three attempts are allowed', async () => {
    const attempts = new Map<bigint, number>();
    const registry = createWorkRegistry().register(
      'flakyA',
      flakyWork(db.pool, 'public.bbm_flaky_a', attempts),
    );
    const result = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      names: ['flaky_a'],
      maxJobRetry: 3,
      registry,
      ...FAST,
    });
    expect(result).toEqual({ finished: 1, jobs: 2, rows: 100 });
    const js = await jobs(db.pool, 'flaky_a');
    // max_value 100, batches of 50: two jobs, each tried three times.
    expect(js.map((j) => [j.min, j.max, j.attempts, j.status])).toEqual([
      [1n, 50n, 3, BbmStatus.finished],
      [51n, 100n, 3, BbmStatus.finished],
    ]);
    const done = await db.pool.query('SELECT done, count(*)::int AS n FROM public.bbm_flaky_a GROUP BY done');
    expect(done.rows).toEqual([{ done: 1, n: 100 }]);
    expect(await migrationRow(db.pool, 'flaky_a')).toEqual({ status: BbmStatus.finished, code: null });
  });

  it('fails with two attempts, records max_job_retry, and a later run retries that job', async () => {
    const attempts = new Map<bigint, number>();
    const registry = createWorkRegistry().register(
      'flakyB',
      flakyWork(db.pool, 'public.bbm_flaky_b', attempts),
    );
    const run = (): Promise<SyncRunResult> =>
      runBackgroundMigrationsSync(createBbmStore(db.pool), {
        names: ['flaky_b'],
        maxJobRetry: 2,
        registry,
        ...FAST,
      });

    const err = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MaxJobAttemptsError);
    expect((err as Error).message).toMatch(
      /^background migration flaky_b: job \d+ \(id 1\.\.50\) failed 2 time\(s\): maximum job attempt reached; last error: flaky failure 2 of job \d+/,
    );
    expect(await migrationRow(db.pool, 'flaky_b')).toEqual({
      status: BbmStatus.failed,
      code: BbmFailureCode.maxJobRetry,
    });
    const failed = await jobs(db.pool, 'flaky_b');
    expect(failed.map((j) => [j.min, j.max, j.attempts, j.status])).toEqual([[1n, 50n, 2, BbmStatus.failed]]);
    const code = await db.pool.query(
      'SELECT failure_error_code FROM batched_background_migration_jobs WHERE id = $1',
      [failed[0]!.id.toString()],
    );
    expect(code.rows[0]).toEqual({ failure_error_code: BbmFailureCode.maxJobRetry });

    // The third attempt of that job succeeds; the second range fails twice again.
    const err2 = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err2).toBeInstanceOf(MaxJobAttemptsError);
    expect((err2 as Error).message).toContain('(id 51..100)');
    // The failed range is retried first on the next run.
    const result = await run();
    expect(result).toEqual({ finished: 1, jobs: 1, rows: 50 });
    const js = await jobs(db.pool, 'flaky_b');
    expect(js.map((j) => [j.min, j.max, j.attempts, j.status])).toEqual([
      [1n, 50n, 3, BbmStatus.finished],
      [51n, 100n, 3, BbmStatus.finished],
    ]);
    const done = await db.pool.query('SELECT done, count(*)::int AS n FROM public.bbm_flaky_b GROUP BY done');
    expect(done.rows).toEqual([{ done: 1, n: 100 }]);
    expect(await migrationRow(db.pool, 'flaky_b')).toEqual({ status: BbmStatus.finished, code: null });
    // The migrations not named were left alone.
    expect((await statusCounts(db.pool))[BbmStatus.active]).toBe(65);
  });
});

describe('rows naming an unknown work function, table, column or strategy', () => {
  let db: BbmTestDatabase;
  beforeAll(async () => {
    db = await bbmDatabase();
    await db.pool.query(`CREATE TABLE public.bbm_plain (id bigint, label text)`);
    await addMigration(db.pool, {
      name: 'bad_signature',
      signature: 'noSuchWork',
      table: 'public.manifests',
    });
    await addMigration(db.pool, {
      name: 'bad_table',
      signature: 'copyManifestMediaTypeIDToNewBigIntColumn',
      table: 'public.no_such_table',
    });
    await addMigration(db.pool, {
      name: 'bad_table_injection',
      signature: 'copyManifestMediaTypeIDToNewBigIntColumn',
      table: 'public.manifests; DROP TABLE public.blobs',
    });
    await addMigration(db.pool, {
      name: 'bad_column',
      signature: 'copyManifestMediaTypeIDToNewBigIntColumn',
      table: 'public.manifests',
      column: 'no_such_column',
    });
    await addMigration(db.pool, {
      name: 'text_column',
      signature: 'copyManifestMediaTypeIDToNewBigIntColumn',
      table: 'public.bbm_plain',
      column: 'label',
    });
    await addMigration(db.pool, {
      name: 'bad_strategy',
      signature: 'populateBlobsIDColumn',
      table: 'partitions.blobs_p_0',
      strategy: 'NullKeySetBatchingStrategyX',
    });
    await addMigration(db.pool, {
      name: 'no_null_index',
      signature: 'populateBlobsIDColumn',
      table: 'public.bbm_plain',
      strategy: 'NullKeySetBatchingStrategy',
    });
  });
  afterAll(async () => db?.drop());

  const cases: [string, number, RegExp][] = [
    [
      'bad_signature',
      BbmFailureCode.invalidJobSignature,
      /^background migration bad_signature: work function not found: job_signature_name "noSuchWork"/,
    ],
    ['bad_table', BbmFailureCode.invalidTable, /table "public\.no_such_table" does not exist/],
    [
      'bad_table_injection',
      BbmFailureCode.invalidTable,
      /table "public\.manifests; DROP TABLE public\.blobs" does not exist/,
    ],
    [
      'bad_column',
      BbmFailureCode.invalidColumn,
      /column "no_such_column" does not exist in table public\.manifests/,
    ],
    [
      'text_column',
      BbmFailureCode.invalidColumn,
      /column "label" of table public\.bbm_plain is not an integer column/,
    ],
    [
      'bad_strategy',
      BbmFailureCode.invalidBatchingStrategy,
      /invalid batching strategy "NullKeySetBatchingStrategyX"/,
    ],
  ];

  for (const [name, code, message] of cases) {
    it(`${name}: fails with code ${code} and a clear error, again on the next run`, async () => {
      for (let round = 0; round < 2; round++) {
        const err = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
          names: [name],
          ...FAST,
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(BbmValidationError);
        expect((err as BbmValidationError).failureCode).toBe(code);
        expect((err as Error).message).toMatch(message);
        expect(await migrationRow(db.pool, name)).toEqual({ status: BbmStatus.failed, code });
      }
      expect(await jobs(db.pool, name)).toEqual([]);
    });
  }

  it('leaves the tables alone', async () => {
    const r = await db.pool.query(`SELECT to_regclass('public.blobs') IS NOT NULL AS blobs`);
    expect(r.rows[0]).toEqual({ blobs: true });
  });

  it('refuses the NULL strategy without a partial IS NULL index, leaving the row runnable', async () => {
    const err = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      names: ['no_null_index'],
      ...FAST,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NoNullIndexError);
    expect((err as Error).message).toContain(
      'NULL index is required for NULL batching strategy, cannot continue: table public.bbm_plain',
    );
    expect(await migrationRow(db.pool, 'no_null_index')).toEqual({ status: BbmStatus.active, code: null });
    // With the index (and a NULL to fill) it runs.
    await db.pool.query(`CREATE INDEX bbm_plain_null_id ON public.bbm_plain (id) WHERE id IS NULL`);
    await db.pool.query(`INSERT INTO public.bbm_plain (id, label) VALUES (NULL, 'a'), (NULL, 'b')`);
    const result = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      names: ['no_null_index'],
      ...FAST,
    });
    expect(result).toEqual({ finished: 1, jobs: 1, rows: 2 });
    const ids = await db.pool.query('SELECT count(*)::int AS n FROM public.bbm_plain WHERE id IS NULL');
    expect(ids.rows[0]).toEqual({ n: 0 });
  });
});

describe('two runners at once', () => {
  let db: BbmTestDatabase;
  let second: Database;
  beforeAll(async () => {
    db = await bbmDatabase();
    second = await openDatabase({ ...db.config, pool: { maxOpen: 4 } });
    await seedStaleRows(db.pool, { manifests: 30_000, blobs: 30_000 });
  });
  afterAll(async () => {
    await second?.close();
    await db?.drop();
  });

  it('never run jobs at the same time, share the work, and leave correct data', async () => {
    const opts = { pauseBetweenBatchesMs: [20, 200] as const };
    const [a, b] = await Promise.all([
      runBackgroundMigrationsSync(createBbmStore(db.pool), opts),
      runBackgroundMigrationsSync(createBbmStore(second.pool), opts),
    ]);
    expect(a.finished + b.finished).toBe(65);
    expect(a.jobs + b.jobs).toBe(4 + 64);
    expect(a.rows + b.rows).toBe(60_000);
    const all = await expectAllFinished(db.pool, 30_000);
    expect(all).toHaveLength(68);
    expectOneJobAtATime(all);
  });
});
