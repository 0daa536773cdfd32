/**
 * PostgreSQL implementation of the BBM store (src/bbm/store.ts). The locked batch transactions run
 * on one dedicated connection, the work statements on pooled connections: the work runs outside
 * the lock transaction (spec §5.4), so a pool of any size (even `maxopen: 1`) cannot deadlock.
 */
import pg from 'pg';
import { newClient } from '../connection.js';
import { BbmInterruptedError, BbmJobTimeoutError, BbmLockTimeoutError } from '../../bbm/errors.js';
import type { BbmJob, BbmMigration, BbmMigrationSummary } from '../../bbm/model.js';
import type {
  BbmLockSession,
  BbmStore,
  BbmTarget,
  BbmTx,
  BbmWorkDb,
  TargetResolution,
  WorkLimits,
} from '../../bbm/store.js';
import { SqlState, sqlState } from '../sqlstate.js';
import { SQL, int64, jobFromRow, migrationFromRow, splitTableName, targetSql } from './queries.js';

/** Says what to do when the database has not been migrated yet. */
function explainMissingTables(err: unknown): unknown {
  if (sqlState(err) !== SqlState.undefinedTable) return err;
  return new Error(
    'the database has no batched background migration tables (batched_background_migrations): ' +
      'apply the schema migrations first with "regdb database migrate up"',
    { cause: err },
  );
}

/** Runs `fn`, translating a missing BBM table into the message above. */
async function onBbmTables<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw explainMissingTables(err);
  }
}

/** The pool type the BBM functions accept (a `pg.Pool`), so callers outside src/db need not import pg. */
export type BbmPool = pg.Pool;

function backendPid(client: pg.ClientBase): number | null {
  // pg sets processID from the BackendKeyData message; it is not in the type definitions.
  const pid = (client as unknown as { processID?: number | null }).processID;
  return typeof pid === 'number' ? pid : null;
}

/**
 * Runs `fn` (one statement on `client`); when `signal` fires meanwhile, asks the server to cancel
 * the statement through another pooled connection.
 */
async function cancellable<T>(
  pool: pg.Pool,
  client: pg.ClientBase,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
  timeoutMs = 0,
): Promise<T> {
  if (signal === undefined) return fn();
  if (signal.aborted) throw abortError(signal, undefined, timeoutMs);
  const onAbort = (): void => {
    const pid = backendPid(client);
    if (pid !== null) pool.query(SQL.cancelBackend, [pid]).catch(() => undefined);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn();
  } catch (err) {
    if (signal.aborted) throw abortError(signal, err, timeoutMs);
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The signal's reason as a BBM error: a job timeout (AbortSignal.timeout) or an interruption. */
function abortError(signal: AbortSignal, cause: unknown, timeoutMs: number): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new BbmJobTimeoutError(timeoutMs, { cause: cause ?? reason });
  }
  return new BbmInterruptedError({ cause: cause ?? reason });
}

class PgBbmTx implements BbmTx {
  constructor(private readonly client: pg.ClientBase) {}

  private async rows(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    const result = await this.client.query(sql, params);
    return result.rows as Record<string, unknown>[];
  }

  private async one(sql: string, params: unknown[]): Promise<Record<string, unknown> | undefined> {
    return (await this.rows(sql, params))[0];
  }

  async firstFailedMigration(names: readonly string[] | undefined): Promise<BbmMigration | undefined> {
    const row = await this.one(SQL.firstFailedMigration, [names ?? null]);
    return row && migrationFromRow(row);
  }

  async nextRunnableMigration(names: readonly string[] | undefined): Promise<BbmMigration | undefined> {
    for (;;) {
      const candidate = await this.one(SQL.nextRunnableId, [names ?? null]);
      if (candidate === undefined) return undefined;
      const row = await this.one(SQL.lockRunnable, [candidate.id]);
      // The row was paused (or finished) between the two statements: pick again.
      if (row !== undefined) return migrationFromRow(row);
    }
  }

  async firstFailedJob(migrationId: bigint): Promise<BbmJob | undefined> {
    const row = await this.one(SQL.firstFailedJob, [migrationId.toString()]);
    return row && jobFromRow(row);
  }

  async lastJobMax(migrationId: bigint): Promise<bigint | undefined> {
    const row = await this.one(SQL.lastJobMax, [migrationId.toString()]);
    return row?.max === null || row?.max === undefined ? undefined : int64(row.max);
  }

  async hasJobs(migrationId: bigint): Promise<boolean> {
    return (await this.one(SQL.hasJobs, [migrationId.toString()]))?.has === true;
  }

  async setRunning(migrationId: bigint): Promise<void> {
    await this.client.query(SQL.setRunning, [migrationId.toString()]);
  }

  async markFailed(migrationId: bigint, failureCode: number): Promise<void> {
    await this.client.query(SQL.markFailed, [migrationId.toString(), failureCode]);
  }

  async markFinished(migrationId: bigint): Promise<void> {
    await this.client.query(SQL.markFinished, [migrationId.toString()]);
  }

  async resolveTarget(tableName: string, columnName: string): Promise<TargetResolution> {
    const parts = splitTableName(tableName);
    if (parts === undefined) return { ok: false, missing: 'table' };
    const table = await this.one(SQL.findTable, [parts.schema, parts.table]);
    if (table === undefined) return { ok: false, missing: 'table' };
    const column = await this.one(SQL.findColumn, [table.oid, columnName]);
    if (column === undefined) return { ok: false, missing: 'column' };
    return {
      ok: true,
      target: {
        oid: Number(table.oid),
        schema: String(table.nspname),
        table: String(table.relname),
        column: String(column.attname),
        integerColumn: column.is_integer === true,
      },
    };
  }

  async hasNullIndex(target: BbmTarget): Promise<boolean> {
    return (await this.one(SQL.hasNullIndex, [target.oid, target.column]))?.has === true;
  }

  async hasNullRows(target: BbmTarget): Promise<boolean> {
    return (await this.one(targetSql.hasNullRows(target), []))?.has === true;
  }

  async keyAtOffset(
    target: BbmTarget,
    start: bigint,
    max: bigint,
    offset: number,
  ): Promise<bigint | undefined> {
    const row = await this.one(targetSql.keyAtOffset(target), [start.toString(), max.toString(), offset]);
    return row === undefined ? undefined : int64(row.key);
  }

  async estimateTupleCount(target: BbmTarget, nullStrategy: boolean): Promise<bigint> {
    const row = await this.one(SQL.estimate, [target.oid, target.column, nullStrategy]);
    return int64(row?.estimate ?? '0');
  }

  async setTotalTupleCount(migrationId: bigint, count: bigint): Promise<void> {
    await this.client.query(SQL.setTotalTupleCount, [migrationId.toString(), count.toString()]);
  }

  async createJob(migrationId: bigint, minValue: bigint, maxValue: bigint): Promise<BbmJob> {
    const row = await this.one(SQL.createJob, [
      migrationId.toString(),
      minValue.toString(),
      maxValue.toString(),
    ]);
    if (row === undefined) throw new Error('INSERT … RETURNING returned no job row');
    return jobFromRow(row);
  }

  async finishJob(jobId: bigint, attempts: number): Promise<void> {
    await this.client.query(SQL.finishJob, [jobId.toString(), attempts]);
  }

  async failJob(jobId: bigint, failureCode: number, attempts: number): Promise<void> {
    await this.client.query(SQL.failJob, [jobId.toString(), failureCode, attempts]);
  }
}

class PgLockSession implements BbmLockSession {
  private broken: Error | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly client: pg.Client,
  ) {
    client.on('error', (err) => {
      this.broken = err;
    });
  }

  async inLockedTransaction<T>(
    fn: (tx: BbmTx) => Promise<T>,
    opts: { lockTimeoutMs: number; signal?: AbortSignal },
  ): Promise<T> {
    if (this.broken)
      throw new Error('the background migration lock connection was lost', { cause: this.broken });
    await this.client.query('BEGIN');
    try {
      await this.client.query(SQL.setLockTimeout, [String(opts.lockTimeoutMs)]);
      try {
        await cancellable(this.pool, this.client, opts.signal, () => this.client.query(SQL.advisoryLock));
      } catch (err) {
        if (sqlState(err) === SqlState.lockNotAvailable)
          throw new BbmLockTimeoutError(opts.lockTimeoutMs, { cause: err });
        throw err;
      }
      const result = await fn(new PgBbmTx(this.client));
      await this.client.query('COMMIT');
      return result;
    } catch (err) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw explainMissingTables(err);
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

class PgWorkDb implements BbmWorkDb {
  constructor(private readonly pool: pg.Pool) {}

  /** One work statement in its own transaction with a local statement_timeout (spec §5.4: 2 min). */
  private async run(sql: string, params: unknown[], limits: WorkLimits): Promise<number> {
    const client = await this.pool.connect();
    let destroy = false;
    try {
      await client.query('BEGIN');
      await client.query(SQL.setStatementTimeout, [String(limits.timeoutMs)]);
      const result = await cancellable(
        this.pool,
        client,
        limits.signal,
        () => client.query(sql, params),
        limits.timeoutMs,
      );
      await client.query('COMMIT');
      return result.rowCount ?? 0;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        destroy = true;
      });
      // Not aborted by us (cancellable translated that), so statement_timeout expired.
      if (sqlState(err) === SqlState.queryCanceled)
        throw new BbmJobTimeoutError(limits.timeoutMs, { cause: err });
      throw err;
    } finally {
      client.release(destroy);
    }
  }

  copyManifestMediaTypeId(start: bigint, end: bigint, limits: WorkLimits): Promise<number> {
    return this.run(targetSql.copyManifestMediaTypeId, [start.toString(), end.toString()], limits);
  }

  populateBlobsId(target: BbmTarget, batchSize: number, limits: WorkLimits): Promise<number> {
    return this.run(targetSql.populateBlobsId(target), [batchSize], limits);
  }
}

/**
 * Runs `update` (which re-checks the status) for each id `select` returns, each in its own
 * statement: the statement then holds one row lock at a time and waits for a running batch's lock
 * holding nothing, so it can never close a deadlock cycle with that batch (a single UPDATE over all
 * rows locks them in heap order, which is not the batch's order). The number of rows changed.
 */
async function rowByRow(pool: BbmPool, select: string, update: string): Promise<number> {
  const ids = (await pool.query(select)).rows.map((r: { id: string }) => r.id);
  let changed = 0;
  for (const id of ids) changed += (await pool.query(update, [id])).rowCount ?? 0;
  return changed;
}

/** The BBM store over a pool: work and admin statements use the pool, batches a dedicated connection. */
export function createBbmStore(pool: BbmPool): BbmStore {
  return {
    work: new PgWorkDb(pool),
    async openLockSession(): Promise<BbmLockSession> {
      const client = newClient(pool, 'regdb background migration');
      await client.connect();
      return new PgLockSession(pool, client);
    },
    async list(): Promise<BbmMigrationSummary[]> {
      const result = await onBbmTables(() => pool.query(SQL.list));
      return (result.rows as Record<string, unknown>[]).map((row) => ({
        migration: migrationFromRow(row),
        finishedJobs: int64(row.finished_jobs),
      }));
    },
    pause: () => onBbmTables(() => rowByRow(pool, SQL.pausable, SQL.pauseOne)),
    resume: () => onBbmTables(() => rowByRow(pool, SQL.resumable, SQL.resumeOne)),
  };
}
