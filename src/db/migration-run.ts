/**
 * Runs one migration in one direction together with its bookkeeping (spec §3.5): transactional
 * migrations commit their SQL, their record row and (for the last baseline file) GitLab's IDs
 * together; no-transaction ones run statement by statement and record afterwards.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Logger } from 'pino';
import { hasStatements, type Migration, type MigrationKind } from './migration-files.js';
import { deleteRecords, insertRecord, insertRecords } from './migration-records.js';
import { splitSqlStatements } from './sql-split.js';

/**
 * SQLSTATE 53200 out_of_memory: "out of shared memory" when the server's lock table is full. The
 * table is shared by all sessions (max_locks_per_transaction x max_connections), so DDL on
 * partitioned tables fails while other sessions hold many locks, and succeeds a moment later.
 */
const OUT_OF_SHARED_MEMORY = '53200';
/** SQLSTATE 40P01 deadlock_detected: the server aborted us to break a deadlock with another session. */
const DEADLOCK_DETECTED = '40P01';

/** Waits before the retries of a transactional migration that failed for a transient reason. */
export const RETRY_DELAYS_MS: readonly number[] = [500, 1000, 2000, 4000, 8000];

export interface RunTarget {
  readonly kind: MigrationKind;
  /** GitLab IDs recorded and deleted with this migration (the last baseline file's), else []. */
  readonly gitlabIds: readonly string[];
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A pg error as pgx prints it (`ERROR: … (SQLSTATE xxxxx)`), anything else by its message. */
export function describeSqlError(err: unknown): string {
  const code = sqlState(err);
  if (err instanceof Error && code !== undefined) {
    const severity = (err as { severity?: unknown }).severity;
    return `${typeof severity === 'string' ? severity : 'ERROR'}: ${err.message} (SQLSTATE ${code})`;
  }
  return err instanceof Error ? err.message : String(err);
}

async function runOnce(
  client: pg.ClientBase,
  target: RunTarget,
  m: Migration,
  direction: 'up' | 'down',
): Promise<void> {
  const sql = direction === 'up' ? m.up : m.down;
  let inTransaction = false;
  try {
    if (m.noTransaction[direction]) {
      for (const statement of splitSqlStatements(sql)) await client.query(statement);
    }
    await client.query('BEGIN');
    inTransaction = true;
    // One multi-statement simple query (notes/common.md file format).
    if (!m.noTransaction[direction] && hasStatements(sql)) await client.query(sql);
    if (direction === 'up') {
      await insertRecord(client, target.kind, m.id);
      await insertRecords(client, target.kind, target.gitlabIds);
    } else {
      await deleteRecords(client, target.kind, [m.id, ...target.gitlabIds]);
    }
    await client.query('COMMIT');
  } catch (err) {
    if (inTransaction) await client.query('ROLLBACK');
    throw err;
  }
}

/**
 * Runs `m`; a transactional migration that failed for a transient reason (lock table full,
 * deadlock) was rolled back whole and is retried after RETRY_DELAYS_MS. Errors name the migration
 * as GitLab does: "applying migration <id>: <err> handling <id>" (spec §4.2).
 */
export async function runMigration(
  client: pg.ClientBase,
  target: RunTarget,
  m: Migration,
  direction: 'up' | 'down',
  logger: Logger,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await runOnce(client, target, m, direction);
      return;
    } catch (err) {
      const code = sqlState(err);
      const transient = code === OUT_OF_SHARED_MEMORY || code === DEADLOCK_DETECTED;
      const delay = RETRY_DELAYS_MS[attempt];
      if (transient && !m.noTransaction[direction] && delay !== undefined) {
        logger.warn(
          { migration: m.id, direction, sqlstate: code, retryInMs: delay },
          'migration rolled back for a transient reason; retrying',
        );
        await sleep(delay);
        continue;
      }
      throw new Error(`applying migration ${m.id}: ${describeSqlError(err)} handling ${m.id}`, {
        cause: err,
      });
    }
  }
}
