/**
 * Runs one migration in one direction together with its bookkeeping (spec §3.5): transactional
 * migrations commit their SQL, their record row and (for the last baseline file) GitLab's IDs
 * together; no-transaction ones run statement by statement and record afterwards.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { hasStatements, type Migration, type MigrationKind } from './migration-files.js';
import { deleteRecords, insertRecord, insertRecords } from './migration-records.js';
import { splitSqlStatements } from './sql-split.js';
import { describeSqlError, isRolledBackTransient, sqlState } from './sqlstate.js';
import { inTransaction, retrying } from './transaction.js';

export interface RunTarget {
  readonly kind: MigrationKind;
  /** GitLab IDs recorded and deleted with this migration (the last baseline file's), else []. */
  readonly gitlabIds: readonly string[];
}

async function runOnce(
  client: pg.ClientBase,
  target: RunTarget,
  m: Migration,
  direction: 'up' | 'down',
): Promise<void> {
  const sql = direction === 'up' ? m.up : m.down;
  if (m.noTransaction[direction]) {
    for (const statement of splitSqlStatements(sql)) await client.query(statement);
  }
  await inTransaction(client, async () => {
    // One multi-statement simple query (notes/common.md file format).
    if (!m.noTransaction[direction] && hasStatements(sql)) await client.query(sql);
    if (direction === 'up') {
      await insertRecord(client, target.kind, m.id);
      await insertRecords(client, target.kind, target.gitlabIds);
    } else {
      await deleteRecords(client, target.kind, [m.id, ...target.gitlabIds]);
    }
  });
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
  try {
    await retrying(() => runOnce(client, target, m, direction), {
      // The migrate lock lives in this session, so only what leaves the connection usable is retried.
      retryable: (err) => !m.noTransaction[direction] && isRolledBackTransient(err),
      onRetry: (err, _attempt, delay) =>
        logger.warn(
          { migration: m.id, direction, sqlstate: sqlState(err), retryInMs: delay },
          'migration rolled back for a transient reason; retrying',
        ),
    });
  } catch (err) {
    throw new Error(`applying migration ${m.id}: ${describeSqlError(err)} handling ${m.id}`, { cause: err });
  }
}
