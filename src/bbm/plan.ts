/**
 * Pure decisions of the BBM runner: where the next serial job starts and ends (spec §5.3), the
 * `--max-job-retry` range (spec §4.4) and the progress estimate shown by `status`.
 */
import { UsageError } from '../errors.js';
import { BbmStatus, type BbmMigration } from './model.js';

export const MAX_JOB_RETRY_MIN = 1;
export const MAX_JOB_RETRY_MAX = 10;
/** Default of `background-migrate run -r` (spec §4.4). */
export const MAX_JOB_RETRY_DEFAULT = 2;

/**
 * Checks a `--max-job-retry` value. GitLab accepts 1..10 but its message says "less than 10"
 * (spec §4.4); regdb accepts the same range and says so.
 */
export function checkMaxJobRetry(value: number): number {
  if (!Number.isInteger(value) || value < MAX_JOB_RETRY_MIN || value > MAX_JOB_RETRY_MAX) {
    throw new UsageError(
      `max-job-retry must be between ${MAX_JOB_RETRY_MIN} and ${MAX_JOB_RETRY_MAX} (inclusive), got ${String(value)}`,
    );
  }
  return value;
}

/** Parses the text of `-r/--max-job-retry`: a decimal integer in 1..10. */
export function parseMaxJobRetry(text: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(text)) {
    throw new UsageError(
      `max-job-retry must be an integer between ${MAX_JOB_RETRY_MIN} and ${MAX_JOB_RETRY_MAX}, got "${text}"`,
    );
  }
  return checkMaxJobRetry(Number.parseInt(text, 10));
}

/**
 * Where the next serial job starts, or undefined when the migration has no range left.
 * `lastJobMax` is the highest `max_value` of the migration's jobs (undefined before the first job).
 * GitLab computes `last + 1` and wraps at 2^63-1 (spec §5.4); here a job that already reaches
 * `max_value` ends the migration, so no value above `max_value` is ever computed or sent.
 */
export function nextSerialStart(
  migration: Pick<BbmMigration, 'minValue' | 'maxValue'>,
  lastJobMax: bigint | undefined,
): bigint | undefined {
  let start: bigint;
  if (lastJobMax === undefined) {
    start = migration.minValue;
  } else {
    if (lastJobMax >= migration.maxValue) return undefined;
    start = lastJobMax + 1n;
  }
  return start > migration.maxValue ? undefined : start;
}

/**
 * The end of a serial job when it follows from the numbers alone: `max_value` when
 * `start + batch_size >= max_value` (spec §5.3). Undefined means: ask the table for the
 * `batch_size`-th key at or after `start` (and use `max_value` when there is none).
 */
export function serialEndWithoutLookup(
  start: bigint,
  batchSize: number,
  maxValue: bigint,
): bigint | undefined {
  return start + BigInt(batchSize) >= maxValue ? maxValue : undefined;
}

/** Checks a batch size read from a migration row: the OFFSET lookup needs at least 1. */
export function isUsableBatchSize(batchSize: number): boolean {
  return Number.isInteger(batchSize) && batchSize >= 1;
}

/**
 * regdb's PROGRESS column: `100%` when finished; otherwise the rows covered by finished jobs
 * (jobs x batch size) against the `total_tuple_count` estimate, capped at 99% because the estimate
 * comes from planner statistics (spec §5.3); `0%` before the first job, `-` without an estimate.
 */
export function progressEstimate(
  migration: Pick<BbmMigration, 'status' | 'batchSize' | 'totalTupleCount'>,
  finishedJobs: bigint,
): string {
  if (migration.status === BbmStatus.finished) return '100%';
  if (finishedJobs === 0n) return '0%';
  const total = migration.totalTupleCount;
  if (total === null || total <= 0n) return '-';
  const covered = finishedJobs * BigInt(Math.max(migration.batchSize, 0));
  const percent = (covered * 100n) / total;
  return `${percent > 99n ? 99n : percent}%`;
}
