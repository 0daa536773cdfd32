/**
 * The shared state of a sharded import run (issue 13 §1), in regdb's own schema `regdb_import` (never
 * GitLab's `public`, whose schema facts must stay GitLab's): one `runs` row per run identity and one
 * `shards` row per shard, saying what the shard is doing (step, repositories and tags so far), whether
 * it finished or failed (with the message), and when it finished step two.
 *
 * Concurrency: every change that decides something for the whole run (joining, finishing step two,
 * finishing) takes the run's row lock (`SELECT … FOR NO KEY UPDATE`, which still lets shards insert their rows) first, in one transaction, so shards
 * finishing at once are serialised and exactly one of them sees "all N have finished step two" with
 * the lockfiles not yet switched. The DDL is serialised by an advisory transaction lock.
 */
import type pg from 'pg';

/** An arbitrary, fixed key for the DDL below ("regdb" + 03); import and checkpoints use others. */
const SHARD_DDL_LOCK = 'SELECT pg_advisory_xact_lock(726567646203)';

const SHARD_DDL = `
CREATE SCHEMA IF NOT EXISTS regdb_import;
CREATE TABLE IF NOT EXISTS regdb_import.runs (
  run_id text PRIMARY KEY,
  shard_count integer NOT NULL,
  steps text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  lockfiles_switched_at timestamptz,
  switched_by integer,
  finished_at timestamptz);
CREATE TABLE IF NOT EXISTS regdb_import.shards (
  run_id text NOT NULL REFERENCES regdb_import.runs (run_id) ON DELETE CASCADE,
  shard_index integer NOT NULL,
  state text NOT NULL,
  step smallint,
  repositories bigint NOT NULL DEFAULT 0,
  tags bigint NOT NULL DEFAULT 0,
  blobs bigint NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 1,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  step_two_finished_at timestamptz,
  finished_at timestamptz,
  error text,
  PRIMARY KEY (run_id, shard_index));`;

/** What a shard has done so far (the counters of its current repository step, and step three's blobs). */
export interface ShardProgress {
  readonly step: number | null;
  readonly repositories: number;
  readonly tags: number;
  readonly blobs: number;
}

export interface ShardRow {
  readonly index: number;
  readonly state: 'running' | 'finished' | 'failed';
  readonly step: number | null;
  readonly repositories: number;
  readonly tags: number;
  readonly blobs: number;
  readonly attempts: number;
  readonly startedAt: Date;
  readonly updatedAt: Date;
  readonly stepTwoFinishedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly error: string | null;
  /** Seconds since the shard last wrote its row (database clock). */
  readonly silentSeconds: number;
}

export interface RunRow {
  readonly runId: string;
  readonly shardCount: number;
  readonly steps: string;
  readonly createdAt: Date;
  readonly lockfilesSwitchedAt: Date | null;
  readonly switchedBy: number | null;
  readonly finishedAt: Date | null;
  readonly shards: ShardRow[];
}

/** A shard asked to join a run whose identity says otherwise (another N, other steps). */
export class RunMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunMismatchError';
  }
}

async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

interface RunLocked {
  shard_count: number;
  steps: string;
  lockfiles_switched_at: Date | null;
  finished_at: Date | null;
}

const LOCK_RUN =
  'SELECT shard_count, steps, lockfiles_switched_at, finished_at FROM regdb_import.runs WHERE run_id = $1 FOR NO KEY UPDATE';

/** The `regdb_import.runs`/`shards` rows of one shard of one run. */
export class ShardState {
  constructor(
    private readonly pool: pg.Pool,
    readonly runId: string,
    readonly index: number,
    readonly count: number,
    readonly steps: string,
  ) {}

  /**
   * Joins the run: creates it if new, starts it over if it had completed, and marks this shard
   * running (a rerun of a failed shard counts an attempt). `fresh` (`--no-resume`) forgets that this
   * shard had finished step two, since it imports again from scratch.
   */
  async join(fresh: boolean): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(SHARD_DDL_LOCK);
      await c.query(SHARD_DDL);
      await c.query(
        'INSERT INTO regdb_import.runs (run_id, shard_count, steps) VALUES ($1, $2, $3) ON CONFLICT (run_id) DO NOTHING',
        [this.runId, this.count, this.steps],
      );
      const run = (await c.query<RunLocked>(LOCK_RUN, [this.runId])).rows[0]!;
      if (run.shard_count !== this.count || run.steps !== this.steps) {
        throw new RunMismatchError(
          `import run "${this.runId}" was started with ${run.shard_count} shards and steps ${run.steps}, ` +
            `not ${this.count} shards and steps ${this.steps}: use the same --shard count and steps, ` +
            'or another --run-id',
        );
      }
      if (run.finished_at !== null) {
        // The run completed before: this is a new import under the same identity.
        await c.query('DELETE FROM regdb_import.shards WHERE run_id = $1', [this.runId]);
        await c.query(
          `UPDATE regdb_import.runs SET created_at = now(), lockfiles_switched_at = NULL, switched_by = NULL,
             finished_at = NULL WHERE run_id = $1`,
          [this.runId],
        );
      }
      await c.query(
        `INSERT INTO regdb_import.shards (run_id, shard_index, state) VALUES ($1, $2, 'running')
         ON CONFLICT (run_id, shard_index) DO UPDATE SET state = 'running', attempts = shards.attempts + 1,
           error = NULL, finished_at = NULL, started_at = now(), updated_at = now(),
           step_two_finished_at = CASE WHEN $3 THEN NULL ELSE shards.step_two_finished_at END`,
        [this.runId, this.index, fresh],
      );
    });
  }

  async progress(p: ShardProgress): Promise<void> {
    await this.pool.query(
      `UPDATE regdb_import.shards SET step = $3, repositories = $4, tags = $5, blobs = $6, updated_at = now()
       WHERE run_id = $1 AND shard_index = $2`,
      [this.runId, this.index, p.step, p.repositories, p.tags, p.blobs],
    );
  }

  /**
   * Records that this shard finished step two and, when that makes all N, runs `switchLockfiles`
   * (once per run: whoever gets here last, under the run's row lock). Returns whether this call
   * switched. If `switchLockfiles` throws, nothing is recorded and the error propagates.
   */
  async finishStepTwo(p: ShardProgress, switchLockfiles: () => Promise<void>): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const run = (await c.query<RunLocked>(LOCK_RUN, [this.runId])).rows[0];
      if (run === undefined) throw new Error(`import run "${this.runId}" disappeared from regdb_import.runs`);
      await c.query(
        `UPDATE regdb_import.shards SET step_two_finished_at = coalesce(step_two_finished_at, now()),
           step = 2, repositories = $3, tags = $4, updated_at = now()
         WHERE run_id = $1 AND shard_index = $2`,
        [this.runId, this.index, p.repositories, p.tags],
      );
      const { rows } = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM regdb_import.shards WHERE run_id = $1 AND step_two_finished_at IS NOT NULL',
        [this.runId],
      );
      if (rows[0]!.n < this.count || run.lockfiles_switched_at !== null) return false;
      await switchLockfiles();
      await c.query(
        'UPDATE regdb_import.runs SET lockfiles_switched_at = now(), switched_by = $2 WHERE run_id = $1',
        [this.runId, this.index],
      );
      return true;
    });
  }

  /** This shard is done; the run is done when all N are. */
  async finish(p: ShardProgress): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(LOCK_RUN, [this.runId]);
      await c.query(
        `UPDATE regdb_import.shards SET state = 'finished', finished_at = now(), updated_at = now(),
           step = $3, repositories = $4, tags = $5, blobs = $6
         WHERE run_id = $1 AND shard_index = $2`,
        [this.runId, this.index, p.step, p.repositories, p.tags, p.blobs],
      );
      await c.query(
        `UPDATE regdb_import.runs SET finished_at = now() WHERE run_id = $1 AND finished_at IS NULL
           AND (SELECT count(*) FROM regdb_import.shards WHERE run_id = $1 AND state = 'finished') = shard_count`,
        [this.runId],
      );
    });
  }

  async fail(p: ShardProgress, message: string): Promise<void> {
    await this.pool.query(
      `UPDATE regdb_import.shards SET state = 'failed', error = $3, updated_at = now(),
         step = $4, repositories = $5, tags = $6, blobs = $7
       WHERE run_id = $1 AND shard_index = $2`,
      [this.runId, this.index, message, p.step, p.repositories, p.tags, p.blobs],
    );
  }
}

interface RunDbRow {
  run_id: string;
  shard_count: number;
  steps: string;
  created_at: Date;
  lockfiles_switched_at: Date | null;
  switched_by: number | null;
  finished_at: Date | null;
}

interface ShardDbRow {
  run_id: string;
  shard_index: number;
  state: ShardRow['state'];
  step: number | null;
  repositories: string;
  tags: string;
  blobs: string;
  attempts: number;
  started_at: Date;
  updated_at: Date;
  step_two_finished_at: Date | null;
  finished_at: Date | null;
  error: string | null;
  silent_seconds: number;
}

/** Runs (newest first, or only `runId`) with their shards; empty when no sharded run ever started. */
export async function readRuns(pool: pg.Pool, runId?: string): Promise<RunRow[]> {
  const exists = await pool.query<{ t: string | null }>(
    "SELECT to_regclass('regdb_import.shards')::text AS t",
  );
  if (exists.rows[0]?.t === null) return [];
  const runs = await pool.query<RunDbRow>(
    `SELECT run_id, shard_count, steps, created_at, lockfiles_switched_at, switched_by, finished_at
     FROM regdb_import.runs WHERE $1::text IS NULL OR run_id = $1 ORDER BY created_at DESC, run_id`,
    [runId ?? null],
  );
  const shards = await pool.query<ShardDbRow>(
    `SELECT run_id, shard_index, state, step, repositories, tags, blobs, attempts, started_at, updated_at,
       step_two_finished_at, finished_at, error,
       extract(epoch FROM now() - updated_at)::float8 AS silent_seconds
     FROM regdb_import.shards WHERE $1::text IS NULL OR run_id = $1 ORDER BY run_id, shard_index`,
    [runId ?? null],
  );
  return runs.rows.map((r) => ({
    runId: r.run_id,
    shardCount: r.shard_count,
    steps: r.steps,
    createdAt: r.created_at,
    lockfilesSwitchedAt: r.lockfiles_switched_at,
    switchedBy: r.switched_by,
    finishedAt: r.finished_at,
    shards: shards.rows
      .filter((s) => s.run_id === r.run_id)
      .map((s) => ({
        index: s.shard_index,
        state: s.state,
        step: s.step,
        repositories: Number(s.repositories),
        tags: Number(s.tags),
        blobs: Number(s.blobs),
        attempts: s.attempts,
        startedAt: s.started_at,
        updatedAt: s.updated_at,
        stepTwoFinishedAt: s.step_two_finished_at,
        finishedAt: s.finished_at,
        error: s.error,
        silentSeconds: s.silent_seconds,
      })),
  }));
}
