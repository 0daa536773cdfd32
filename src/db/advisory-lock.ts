/**
 * Session-level advisory lock serialising `regdb database migrate` runs: two `migrate up` started
 * at the same moment both succeed and every migration is applied once (issue 2 §5).
 */
import type pg from 'pg';

/**
 * The ASCII bytes of "regdbmig" read as a big-endian int64 (0x72656764626d6967). Distinct from
 * key 1, the transaction-level lock of the batched background migration sync worker (spec §5.4),
 * which `migrate up` runs while holding this one.
 */
export const MIGRATE_LOCK_KEY = 0x72656764626d6967n;

/**
 * Runs `fn` while `client` holds the session-level advisory lock `key` (waiting for it if another
 * session has it). The lock is released afterwards; if releasing fails the connection is broken,
 * which ends the session and so the lock too: the caller must then discard the client.
 */
export async function withSessionLock<T>(
  client: pg.ClientBase,
  key: bigint,
  fn: () => Promise<T>,
): Promise<T> {
  await client.query('SELECT pg_advisory_lock($1::bigint)', [key.toString()]);
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]).catch(() => undefined);
    throw err;
  }
  await client.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
  return result;
}
