import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BbmInterruptedError, BbmLockTimeoutError, MaxJobAttemptsError } from '../../src/bbm/errors.js';
import { BbmStatus } from '../../src/bbm/model.js';
import { createBbmStore } from '../../src/db/bbm/pg-store.js';
import { runBackgroundMigrationsSync } from '../../src/bbm/sync.js';
import { createWorkRegistry } from '../../src/bbm/work.js';
import {
  FAST,
  INT64_MAX,
  MANIFESTS_BBM,
  assertContiguous,
  bbmDatabase,
  dataState,
  jobs,
  seedStaleRows,
  type BbmTestDatabase,
} from './bbm-support.js';

/** Holds row locks on every manifest with id <= 5000 until `release()`. */
async function lockManifests(url: string): Promise<{ release: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('BEGIN');
  await c.query('SELECT id FROM manifests WHERE id <= 5000 FOR UPDATE');
  return {
    release: async () => {
      await c.query('ROLLBACK');
      await c.end();
    },
  };
}

describe('per-job timeout and interruption', () => {
  let db: BbmTestDatabase;
  beforeAll(async () => {
    db = await bbmDatabase();
    await seedStaleRows(db.pool, { manifests: 20_000, blobs: 0 });
  });
  afterAll(async () => db?.drop());

  it('cancels a job statement after the job timeout and counts it as a failed attempt', async () => {
    const lock = await lockManifests(db.url);
    try {
      const started = Date.now();
      const err = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
        names: [MANIFESTS_BBM],
        maxJobRetry: 2,
        jobTimeoutMs: 300,
        ...FAST,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MaxJobAttemptsError);
      expect((err as Error).message).toContain('(id 1..10000) failed 2 time(s)');
      expect((err as Error).message).toContain('last error: job statement timed out after 300 ms');
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await lock.release();
    }
    expect((await jobs(db.pool)).map((j) => [j.min, j.max, j.status, j.attempts])).toEqual([
      [1n, 10000n, BbmStatus.failed, 2],
    ]);
  });

  it('stops at once when the signal fires, leaving the job to be retried; the next run completes', async () => {
    const lock = await lockManifests(db.url);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('test interrupt')), 500);
    try {
      const err = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
        names: [MANIFESTS_BBM],
        signal: controller.signal,
        ...FAST,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BbmInterruptedError);
    } finally {
      clearTimeout(timer);
      await lock.release();
    }
    const result = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      names: [MANIFESTS_BBM],
      ...FAST,
    });
    expect(result).toEqual({ finished: 1, jobs: 3, rows: 20_000 });
    const js = await jobs(db.pool);
    expect(js.every((j) => j.status === BbmStatus.finished)).toBe(true);
    assertContiguous(js, 1n, INT64_MAX);
    expect(js).toHaveLength(3);
    expect((await dataState(db.pool)).staleManifests).toBe(0);
  });

  it('keeps the batch transaction despite a short server idle_in_transaction_session_timeout', async () => {
    await db.pool.query(`ALTER DATABASE ${db.name} SET idle_in_transaction_session_timeout = '200ms'`);
    await db.pool.query(
      `INSERT INTO batched_background_migrations
         (name, min_value, max_value, batch_size, status, job_signature_name, table_name, column_name)
       VALUES ('slow', 1, 3, 1, 1, 'slowWork', 'public.manifests', 'id')`,
    );
    // Each job keeps the batch transaction idle for 500 ms while it works elsewhere.
    const registry = createWorkRegistry().register(
      'slowWork',
      () => new Promise<number>((resolve) => setTimeout(() => resolve(1), 500)),
    );
    const result = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
      names: ['slow'],
      registry,
      ...FAST,
    });
    // Batch size 1 up to 3: 1..1, then 2 + 1 >= max_value so 2..3 (spec §5.3).
    expect(result).toEqual({ finished: 1, jobs: 2, rows: 2 });
    expect((await jobs(db.pool, 'slow')).map((j) => [j.min, j.max, j.status])).toEqual([
      [1n, 1n, BbmStatus.finished],
      [2n, 3n, BbmStatus.finished],
    ]);
  });

  it('gives up waiting for the advisory lock after the lock timeout, with a clear message', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(1)');
      const err = await runBackgroundMigrationsSync(createBbmStore(db.pool), {
        lockTimeoutMs: 300,
        ...FAST,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BbmLockTimeoutError);
      expect((err as Error).message).toMatch(
        /^timed out after 300 ms waiting for the background migration lock \(pg_advisory_xact_lock\(1\)\); another/,
      );
    } finally {
      await holder.end();
    }
  });
});
