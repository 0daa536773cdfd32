/**
 * What the BBM framework needs from the database, as interfaces. The PostgreSQL implementation
 * is `src/db/bbm/pg-store.ts` (only `src/db/` imports pg).
 */
import type { BbmJob, BbmMigration, BbmMigrationSummary } from './model.js';

/** A table and column checked against the catalog; the SQL layer quotes them from these values. */
export interface BbmTarget {
  readonly oid: number;
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  /** True for smallint, integer and bigint columns: the serial strategy needs one. */
  readonly integerColumn: boolean;
}

export type TargetResolution =
  | { readonly ok: true; readonly target: BbmTarget }
  | { readonly ok: false; readonly missing: 'table' | 'column' };

/** Statements run inside the locked transaction of one batch (spec §5.4 steps 1-3). */
export interface BbmTx {
  /** Lowest-id migration with status failed, row-locked. */
  firstFailedMigration(names: readonly string[] | undefined): Promise<BbmMigration | undefined>;
  /** Next migration with status running or active (running first, then by id), row-locked. */
  nextRunnableMigration(names: readonly string[] | undefined): Promise<BbmMigration | undefined>;
  firstFailedJob(migrationId: bigint): Promise<BbmJob | undefined>;
  /** Highest `max_value` of the migration's jobs, undefined when it has none. */
  lastJobMax(migrationId: bigint): Promise<bigint | undefined>;
  hasJobs(migrationId: bigint): Promise<boolean>;
  /** status = running, error code cleared; `started_at` set when not yet set. */
  setRunning(migrationId: bigint): Promise<void>;
  markFailed(migrationId: bigint, failureCode: number): Promise<void>;
  markFinished(migrationId: bigint): Promise<void>;
  resolveTarget(tableName: string, columnName: string): Promise<TargetResolution>;
  /** A valid partial index with predicate `<column> IS NULL` exists on the table (spec §5.3). */
  hasNullIndex(target: BbmTarget): Promise<boolean>;
  hasNullRows(target: BbmTarget): Promise<boolean>;
  /** The key at `offset` (0-based) in `start..max` order, or undefined (spec §5.3 serial end). */
  keyAtOffset(target: BbmTarget, start: bigint, max: bigint, offset: number): Promise<bigint | undefined>;
  /** Planner estimate of the rows to process (rows x null_frac for the NULL strategy). */
  estimateTupleCount(target: BbmTarget, nullStrategy: boolean): Promise<bigint>;
  setTotalTupleCount(migrationId: bigint, count: bigint): Promise<void>;
  createJob(migrationId: bigint, minValue: bigint, maxValue: bigint): Promise<BbmJob>;
  finishJob(jobId: bigint, attempts: number): Promise<void>;
  failJob(jobId: bigint, failureCode: number, attempts: number): Promise<void>;
}

/** Limits of one work statement: a server-side statement timeout and a cancellation signal. */
export interface WorkLimits {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** The statements of the registered work functions (spec §5.2), run outside the lock transaction. */
export interface BbmWorkDb {
  /** `UPDATE public.manifests SET media_type_id_convert_to_bigint = media_type_id WHERE id BETWEEN`; rows updated. */
  copyManifestMediaTypeId(start: bigint, end: bigint, limits: WorkLimits): Promise<number>;
  /** Gives up to `batchSize` rows whose `<column>` is NULL an id from `blobs_id_seq`; rows updated. */
  populateBlobsId(target: BbmTarget, batchSize: number, limits: WorkLimits): Promise<number>;
}

/** One dedicated connection that runs the locked batch transactions. */
export interface BbmLockSession {
  /**
   * BEGIN, `pg_advisory_xact_lock(1)` (waiting at most `lockTimeoutMs`), `fn`, COMMIT; ROLLBACK
   * when `fn` or a statement throws.
   */
  inLockedTransaction<T>(
    fn: (tx: BbmTx) => Promise<T>,
    opts: { lockTimeoutMs: number; signal?: AbortSignal },
  ): Promise<T>;
  close(): Promise<void>;
}

export interface BbmStore {
  readonly work: BbmWorkDb;
  openLockSession(): Promise<BbmLockSession>;
  /** Every migration in id order with its finished job count. */
  list(): Promise<BbmMigrationSummary[]>;
  /**
   * `SET status=0 WHERE status IN (1,4)` (spec §4.4), row by row so that it cannot deadlock with a
   * running batch; the number of rows changed.
   */
  pause(): Promise<number>;
  /** `SET status=1 WHERE status=0`; the number of rows changed. */
  resume(): Promise<number>;
}
