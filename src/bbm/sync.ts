/**
 * The synchronous runner (spec §5.4), used by `background-migrate run` and by `database migrate up`
 * for migrations that require finished BBMs. Each batch is one transaction holding
 * `pg_advisory_xact_lock(1)` that finds and records up to 5 jobs; the work itself runs on pooled
 * connections outside that transaction. Unlike GitLab's runner, a job that exhausts its attempts
 * is recorded as failed (code max_job_retry) before the error is returned, so `status` shows it
 * and the next run retries that job first.
 */
import type { Logger } from 'pino';
import { silentLogger } from '../log.js';
import { BbmInterruptedError, BbmJobTimeoutError, MaxJobAttemptsError } from './errors.js';
import { findJob, type FoundJob } from './find-job.js';
import { BbmFailureCode, type BbmJob } from './model.js';
import { checkMaxJobRetry } from './plan.js';
import type { BbmStore, BbmTx } from './store.js';
import { createWorkRegistry, type WorkRegistry } from './work.js';

/** Internal callers retry a job 5 times (spec §5.4); `background-migrate run` passes its `-r` (default 2). */
export const INTERNAL_MAX_JOB_RETRY = 5;

export type BbmProgressEvent =
  | {
      readonly kind: 'job-started';
      readonly migration: string;
      readonly job: BbmJob;
      readonly attempt: number;
    }
  | {
      readonly kind: 'job-attempt-failed';
      readonly migration: string;
      readonly job: BbmJob;
      readonly attempt: number;
      readonly maxAttempts: number;
      readonly error: Error;
    }
  | {
      readonly kind: 'job-finished';
      readonly migration: string;
      readonly job: BbmJob;
      /** Rows the job changed, when the work function reports it. */
      readonly rows: number | undefined;
      readonly totals: SyncRunResult;
    }
  | { readonly kind: 'migration-finished'; readonly migration: string; readonly totals: SyncRunResult };

export interface SyncRunOptions {
  /** Only these migrations (by name); all when absent. */
  readonly names?: readonly string[];
  /** Attempts per job, 1..10; default 5. */
  readonly maxJobRetry?: number;
  readonly logger?: Logger;
  /** Stops the run: the current statement is cancelled and the job is left to be retried. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: BbmProgressEvent) => void;
  /** Work functions by job_signature_name; default: the registered ones of spec §5.2. */
  readonly registry?: WorkRegistry;
  /** Per-job timeout (spec §5.4: 2 min). */
  readonly jobTimeoutMs?: number;
  /** Longest wait for the advisory lock (spec §5.4: 1 min). */
  readonly lockTimeoutMs?: number;
  /** No new job starts in a batch after this (spec §5.4: 10 min). */
  readonly batchTimeoutMs?: number;
  /** Jobs per locked transaction (spec §5.4: 5). */
  readonly jobsPerBatch?: number;
  /** Random pause between batches, [min, max] ms (spec §5.4: 100 ms to 2 s). */
  readonly pauseBetweenBatchesMs?: readonly [number, number];
}

export interface SyncRunResult {
  /** Migrations this run marked finished (the "background migration(s)" of `migrate up`). */
  readonly finished: number;
  /** Jobs this run completed. */
  readonly jobs: number;
  /** Rows changed by those jobs, as reported by the work functions. */
  readonly rows: number;
}

type BatchOutcome = { readonly done: boolean; readonly error?: Error };

/**
 * Runs batched background migrations until none has a job left (spec §5.4), on the store the caller
 * built (src/db/bbm/pg-store.ts for PostgreSQL): bbm sees only its store interface.
 */
export async function runBackgroundMigrationsSync(
  store: BbmStore,
  options: SyncRunOptions = {},
): Promise<SyncRunResult> {
  const maxAttempts = checkMaxJobRetry(options.maxJobRetry ?? INTERNAL_MAX_JOB_RETRY);
  const log = (options.logger ?? silentLogger).child({ component: 'bbm' });
  const registry = options.registry ?? createWorkRegistry();
  const jobTimeoutMs = options.jobTimeoutMs ?? 120_000;
  const lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
  const batchTimeoutMs = options.batchTimeoutMs ?? 600_000;
  const jobsPerBatch = options.jobsPerBatch ?? 5;
  const [pauseMin, pauseMax] = options.pauseBetweenBatchesMs ?? [100, 2000];
  const signal = options.signal;
  const emit = options.onProgress ?? ((): void => undefined);
  let totals: SyncRunResult = { finished: 0, jobs: 0, rows: 0 };

  const runJob = async (
    found: FoundJob,
  ): Promise<
    { ok: true; rows: number | undefined; attempts: number } | { ok: false; error: Error; attempts: number }
  > => {
    const { migration, job } = found;
    let lastError: Error = new Error('no attempt was made');
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (signal?.aborted)
        return { ok: false, error: new BbmInterruptedError({ cause: signal.reason }), attempts: attempt - 1 };
      emit({ kind: 'job-started', migration: migration.name, job, attempt });
      const timeout = AbortSignal.timeout(jobTimeoutMs);
      const jobSignal = signal ? AbortSignal.any([signal, timeout]) : timeout;
      try {
        const rows = await found.work({
          db: store.work,
          migration,
          job,
          target: found.target,
          signal: jobSignal,
          timeoutMs: jobTimeoutMs,
          logger: log,
        });
        return { ok: true, rows: typeof rows === 'number' ? rows : undefined, attempts: attempt };
      } catch (err) {
        if (signal?.aborted || err instanceof BbmInterruptedError) {
          return { ok: false, error: new BbmInterruptedError({ cause: err }), attempts: attempt };
        }
        lastError =
          timeout.aborted && !(err instanceof BbmJobTimeoutError)
            ? new BbmJobTimeoutError(jobTimeoutMs, { cause: err })
            : err instanceof Error
              ? err
              : new Error(String(err));
        log.warn(
          { err: lastError, migration: migration.name, jobId: job.id.toString(), attempt, maxAttempts },
          'background migration job attempt failed',
        );
        emit({
          kind: 'job-attempt-failed',
          migration: migration.name,
          job,
          attempt,
          maxAttempts,
          error: lastError,
        });
      }
    }
    return {
      ok: false,
      attempts: maxAttempts,
      error: new MaxJobAttemptsError(migration.name, job.id, maxAttempts, {
        cause: lastError,
        range: jobRange(found),
      }),
    };
  };

  const runBatch = async (tx: BbmTx): Promise<BatchOutcome> => {
    const deadline = Date.now() + batchTimeoutMs;
    for (let i = 0; i < jobsPerBatch; i++) {
      if (i > 0 && Date.now() >= deadline) return { done: false };
      if (signal?.aborted) return { done: false, error: new BbmInterruptedError({ cause: signal.reason }) };
      let result;
      try {
        result = await findJob(tx, registry, {
          names: options.names,
          onFinished: (m) => {
            totals = { ...totals, finished: totals.finished + 1 };
            log.debug({ migration: m.name }, 'background migration finished');
            emit({ kind: 'migration-finished', migration: m.name, totals });
          },
        });
      } catch (err) {
        // Keep what this batch finished (commit), then report. After a failed statement the
        // transaction is aborted and PostgreSQL turns the COMMIT into a ROLLBACK: the jobs of this
        // batch are then run again later, which the work functions tolerate (they are idempotent).
        return { done: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
      if (result.kind === 'none') return { done: true };
      // The caller reports the error; the row now carries its failure code.
      if (result.kind === 'invalid') return { done: false, error: result.error };
      const found = result.found;
      const outcome = await runJob(found);
      if (outcome.ok) {
        await tx.finishJob(found.job.id, outcome.attempts);
        totals = { ...totals, jobs: totals.jobs + 1, rows: totals.rows + (outcome.rows ?? 0) };
        log.debug(
          {
            migration: found.migration.name,
            jobId: found.job.id.toString(),
            range: jobRange(found),
            rows: outcome.rows,
          },
          'background migration job finished',
        );
        emit({
          kind: 'job-finished',
          migration: found.migration.name,
          job: found.job,
          rows: outcome.rows,
          totals,
        });
        continue;
      }
      if (outcome.error instanceof BbmInterruptedError) {
        // The job may be partly done: record it as failed so the next run retries it (a serial
        // range is never skipped; a NULL-strategy job needs no retry, the NULLs remain).
        await tx.failJob(found.job.id, BbmFailureCode.unknown, outcome.attempts);
        return { done: false, error: outcome.error };
      }
      await tx.failJob(found.job.id, BbmFailureCode.maxJobRetry, outcome.attempts);
      await tx.markFailed(found.migration.id, BbmFailureCode.maxJobRetry);
      return { done: false, error: outcome.error };
    }
    return { done: false };
  };

  const session = await store.openLockSession();
  try {
    for (;;) {
      if (signal?.aborted) throw new BbmInterruptedError({ cause: signal.reason });
      const outcome = await session.inLockedTransaction(runBatch, { lockTimeoutMs, signal });
      if (outcome.error) throw outcome.error;
      if (outcome.done) {
        log.debug({ ...totals }, 'no more jobs to run');
        return totals;
      }
      await pause(pauseMin + Math.random() * Math.max(0, pauseMax - pauseMin), signal);
    }
  } finally {
    await session.close();
  }
}

/** `ids 1..10000` for a serial job, `NULL rows (batch of N)` for the NULL strategy. */
export function jobRange(found: Pick<FoundJob, 'migration' | 'job'>): string {
  const { job, migration } = found;
  if (migration.batchingStrategy === null) return `${migration.columnName} ${job.minValue}..${job.maxValue}`;
  return `up to ${migration.batchSize} rows with ${migration.columnName} IS NULL`;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new BbmInterruptedError({ cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new BbmInterruptedError({ cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
