/**
 * The batched background migration (BBM) model: status values, failure codes and the two row types
 * (spec §5.1). Every bound is an int64 and therefore a `bigint` (spec §7 item 15).
 */

/** Status of a migration or a job (spec §5.1); the same numbers are stored in both tables. */
export const BbmStatus = {
  paused: 0,
  active: 1,
  finished: 2,
  failed: 3,
  running: 4,
} as const;
export type BbmStatus = (typeof BbmStatus)[keyof typeof BbmStatus];

/** Failure codes stored in `failure_error_code` (spec §5.1). */
export const BbmFailureCode = {
  unknown: 0,
  invalidTable: 1,
  invalidColumn: 2,
  invalidJobSignature: 3,
  maxJobRetry: 4,
  invalidBatchingStrategy: 5,
} as const;
export type BbmFailureCode = (typeof BbmFailureCode)[keyof typeof BbmFailureCode];

const STATUS_NAMES: Record<number, string> = {
  0: 'paused',
  1: 'active',
  2: 'finished',
  3: 'failed',
  4: 'running',
};

const FAILURE_NAMES: Record<number, string> = {
  0: 'unknown',
  1: 'invalid_bbm_table',
  2: 'invalid_bbm_column',
  3: 'invalid_job_signature',
  4: 'max_job_retry',
  5: 'invalid_batching_strategy',
};

/** `paused`, `active`, `finished`, `failed`, `running`, or `unknown` for any other value (spec §4.4). */
export function statusName(status: number): string {
  return STATUS_NAMES[status] ?? 'unknown';
}

/** `invalid_bbm_table` and so on (spec §5.1); `unknown` for 0 and for values outside the list. */
export function failureCodeName(code: number): string {
  return FAILURE_NAMES[code] ?? 'unknown';
}

/** `batching_strategy` value of the NULL strategy; NULL in the column means the serial strategy. */
export const NULL_BATCHING_STRATEGY = 'NullKeySetBatchingStrategy';

/** The batching strategy a migration row names, or undefined when the value is not one we know. */
export function batchingStrategyOf(value: string | null): 'serial' | 'null' | undefined {
  if (value === null) return 'serial';
  if (value === NULL_BATCHING_STRATEGY) return 'null';
  return undefined;
}

/** One row of `batched_background_migrations`. */
export interface BbmMigration {
  readonly id: bigint;
  readonly name: string;
  readonly minValue: bigint;
  readonly maxValue: bigint;
  readonly batchSize: number;
  readonly status: number;
  readonly jobSignatureName: string;
  readonly tableName: string;
  readonly columnName: string;
  readonly failureErrorCode: number | null;
  readonly batchingStrategy: string | null;
  readonly totalTupleCount: bigint | null;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/** One row of `batched_background_migration_jobs`. */
export interface BbmJob {
  readonly id: bigint;
  readonly migrationId: bigint;
  readonly minValue: bigint;
  readonly maxValue: bigint;
  readonly status: number;
  readonly failureErrorCode: number | null;
  readonly attempts: number;
}

/** A migration row with its job counts, as `background-migrate status` shows it. */
export interface BbmMigrationSummary {
  readonly migration: BbmMigration;
  /** Jobs with status finished. */
  readonly finishedJobs: bigint;
}
