/**
 * Errors of the BBM framework. Each validation error carries the failure code that the runner
 * persists on the migration row (spec §5.1), so `background-migrate status` shows the row as failed.
 */
import { BbmFailureCode, failureCodeName } from './model.js';

/** A migration row that cannot run as written: unknown table, column, work function or strategy. */
export class BbmValidationError extends Error {
  constructor(
    message: string,
    readonly failureCode: BbmFailureCode,
    readonly migrationName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BbmValidationError';
  }

  /** `invalid_bbm_table` and so on. */
  get failureCodeName(): string {
    return failureCodeName(this.failureCode);
  }
}

/** The spec's ErrWorkFunctionNotFound message (spec §5.2). */
export const WORK_FUNCTION_NOT_FOUND = 'work function not found';

/** The spec's ErrNoNullIndex message (spec §5.3). */
export const NO_NULL_INDEX = 'NULL index is required for NULL batching strategy, cannot continue';

/** The spec's ErrMaxJobAttemptsReached message (spec §5.4). */
export const MAX_JOB_ATTEMPTS_REACHED = 'maximum job attempt reached';

/** The NULL strategy's partial index `<column> IS NULL` is missing (spec §5.3). Not persisted: it is
 * usually a post-deployment index that has not been built yet, so the row stays runnable. */
export class NoNullIndexError extends Error {
  constructor(
    readonly migrationName: string,
    table: string,
    column: string,
  ) {
    super(
      `background migration ${migrationName}: ${NO_NULL_INDEX}: table ${table} has no valid partial index ` +
        `with predicate "${column} IS NULL"; apply the post-deployment migrations ` +
        `(regdb database migrate up) and run again`,
    );
    this.name = 'NoNullIndexError';
  }
}

/** A job failed on every one of its allowed attempts (spec §5.4). */
export class MaxJobAttemptsError extends Error {
  constructor(
    readonly migrationName: string,
    readonly jobId: bigint,
    readonly attempts: number,
    options: { cause: unknown; range: string },
  ) {
    const last = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(
      `background migration ${migrationName}: job ${jobId} (${options.range}) failed ${attempts} time(s): ` +
        `${MAX_JOB_ATTEMPTS_REACHED}; last error: ${last}. Fix the cause, then run ` +
        `"regdb background-migrate run" again (it retries the failed job first), or raise --max-job-retry`,
      { cause: options.cause },
    );
    this.name = 'MaxJobAttemptsError';
  }
}

/** Another process held `pg_advisory_xact_lock(1)` for longer than the wait limit (spec §5.4). */
export class BbmLockTimeoutError extends Error {
  constructor(waitedMs: number, options?: { cause?: unknown }) {
    super(
      `timed out after ${waitedMs >= 1000 ? `${Math.round(waitedMs / 1000)}s` : `${waitedMs} ms`} waiting for ` +
        `the background migration lock ` +
        `(pg_advisory_xact_lock(1)); another "regdb background-migrate run" or a registry worker holds it, ` +
        `try again when it is done`,
      options,
    );
    this.name = 'BbmLockTimeoutError';
  }
}

/** A work statement ran longer than the per-job timeout (spec §5.4: 2 min). */
export class BbmJobTimeoutError extends Error {
  constructor(timeoutMs: number, options?: { cause?: unknown }) {
    super(`job statement timed out after ${timeoutMs} ms`, options);
    this.name = 'BbmJobTimeoutError';
  }
}

/** The caller's AbortSignal fired: the runner stops without retrying. */
export class BbmInterruptedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('background migrations interrupted', options);
    this.name = 'BbmInterruptedError';
  }
}
