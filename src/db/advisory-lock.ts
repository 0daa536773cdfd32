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
 * Runs `fn` while `client` holds the session-level advisory lock `key`, waiting for it if another
 * session has it (`onWait` is called first). The lock is released afterwards. If `fn` fails, the
 * release is attempted but its own failure is not reported: it means the connection is broken,
 * which ends the session and so the lock, and the caller discards the client.
 */
export async function withSessionLock<T>(
  client: pg.ClientBase,
  key: bigint,
  fn: () => Promise<T>,
  onWait?: () => void,
): Promise<T> {
  const param = [key.toString()];
  const tried = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock($1::bigint) AS locked',
    param,
  );
  if (tried.rows[0]?.locked !== true) {
    onWait?.();
    await client.query('SELECT pg_advisory_lock($1::bigint)', param);
  }
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', param).catch(() => undefined);
    throw err;
  }
  await client.query('SELECT pg_advisory_unlock($1::bigint)', param);
  return result;
}
