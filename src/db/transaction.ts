/**
 * One transaction helper and one retry policy, used by the import writer and the migrator: BEGIN, the
 * work, COMMIT on one checked-out client, ROLLBACK when anything fails (STYLE.md); a failure that
 * sqlstate.ts calls transient is retried with the same backoff everywhere.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';

/**
 * Runs `work` between BEGIN and COMMIT (`commit` may time or observe the COMMIT). On failure the
 * transaction is rolled back and the failure rethrown; a ROLLBACK that fails too (the connection is
 * gone) is passed to `onRollbackFailed`, and the connection must not go back to the pool.
 */
export async function inTransaction<T>(
  client: pg.ClientBase,
  work: () => Promise<T>,
  opts: { commit?: () => Promise<unknown>; onRollbackFailed?: (err: unknown) => void } = {},
): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await (opts.commit ? opts.commit() : client.query('COMMIT'));
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => opts.onRollbackFailed?.(rollbackErr));
    throw err;
  }
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** Pause before attempt `attempt + 1`. */
  delayMs(attempt: number): number;
}

/**
 * Up to 8 attempts, exponential backoff from ~200 ms to ~6.4 s with jitter (x0.5 to x1.5), so that
 * processes that failed together (shards, a migration beside an import) do not collide again in step.
 */
export const TRANSIENT_RETRY: RetryPolicy = {
  attempts: 8,
  delayMs: (attempt) => 100 * 2 ** Math.min(attempt, 6) * (0.5 + Math.random()),
};

/**
 * Runs `attempt(n)` until it succeeds, fails with an error `retryable` refuses, or the policy's
 * attempts are used up; `onRetry` hears each retry before its pause.
 */
export async function retrying<T>(
  attempt: (n: number) => Promise<T>,
  opts: {
    readonly retryable: (err: unknown) => boolean;
    readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
    readonly policy?: RetryPolicy;
  },
): Promise<T> {
  const policy = opts.policy ?? TRANSIENT_RETRY;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.attempts || !opts.retryable(err)) throw err;
      const delay = Math.round(policy.delayMs(n));
      opts.onRetry?.(err, n, delay);
      await sleep(delay);
    }
  }
}
