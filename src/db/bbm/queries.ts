/**
 * SQL of the batched background migration framework (spec §5). Values are always parameters.
 * The only identifiers placed in SQL text come from `BbmTarget`, i.e. names read back from the
 * catalog (pg_class/pg_attribute), and are quoted by `quoteIdent`.
 */
import type { BbmJob, BbmMigration } from '../../bbm/model.js';
import type { BbmTarget } from '../../bbm/store.js';

/** Quotes an SQL identifier: double quotes around it, inner double quotes doubled. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw new Error(`invalid SQL identifier ${JSON.stringify(name)}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."table"` of a validated target. */
export function qualifiedTable(target: Pick<BbmTarget, 'schema' | 'table'>): string {
  return `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`;
}

/**
 * Splits `table_name` into schema and table. The column holds `public.manifests` or
 * `partitions.blobs_p_0` (spec §5.2); an unqualified name means schema `public`. Quoted names are
 * not used by the registry and are rejected (undefined) rather than guessed at.
 */
export function splitTableName(name: string): { schema: string; table: string } | undefined {
  if (name.includes('"')) return undefined;
  const parts = name.split('.');
  if (parts.some((p) => p.length === 0)) return undefined;
  if (parts.length === 1) return { schema: 'public', table: parts[0] as string };
  if (parts.length === 2) return { schema: parts[0] as string, table: parts[1] as string };
  return undefined;
}

/** Parses an int8 value, which pg returns as a decimal string. */
export function int64(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new Error(`expected a bigint value from the database, got ${JSON.stringify(value)}`);
}

function nullableInt64(value: unknown): bigint | null {
  return value === null || value === undefined ? null : int64(value);
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

const MIGRATION_COLUMNS = `id, name, min_value, max_value, batch_size, status, job_signature_name, table_name,
  column_name, failure_error_code, batching_strategy, total_tuple_count, started_at, finished_at`;

const JOB_COLUMNS = `id, batched_background_migration_id, min_value, max_value, status, failure_error_code, attempts`;

export function migrationFromRow(row: Record<string, unknown>): BbmMigration {
  return {
    id: int64(row.id),
    name: String(row.name),
    minValue: int64(row.min_value),
    maxValue: int64(row.max_value),
    batchSize: Number(row.batch_size),
    status: Number(row.status),
    jobSignatureName: String(row.job_signature_name),
    tableName: String(row.table_name),
    columnName: String(row.column_name),
    failureErrorCode: nullableNumber(row.failure_error_code),
    batchingStrategy: row.batching_strategy === null ? null : String(row.batching_strategy),
    totalTupleCount: nullableInt64(row.total_tuple_count),
    startedAt: (row.started_at as Date | null) ?? null,
    finishedAt: (row.finished_at as Date | null) ?? null,
  };
}

export function jobFromRow(row: Record<string, unknown>): BbmJob {
  return {
    id: int64(row.id),
    migrationId: int64(row.batched_background_migration_id),
    minValue: int64(row.min_value),
    maxValue: int64(row.max_value),
    status: Number(row.status),
    failureErrorCode: nullableNumber(row.failure_error_code),
    attempts: Number(row.attempts),
  };
}

/** `$1` is a text[] of migration names or NULL for all. */
const NAME_FILTER = `($1::text[] IS NULL OR name = ANY($1::text[]))`;

// Job timestamps use clock_timestamp(): now() is the batch transaction's start, the same for all
// of its jobs, which would hide when each job really ran.
export const SQL = {
  // lock_timeout bounds the wait for the lock (SQLSTATE 55P03 when it expires). The batch
  // transaction is idle while its jobs run on other connections, so a server-wide
  // idle_in_transaction_session_timeout must not end it; the lock dies with the connection anyway.
  setLockTimeout: `SELECT set_config('lock_timeout', $1, true),
    set_config('idle_in_transaction_session_timeout', '0', true)`,
  advisoryLock: `SELECT pg_advisory_xact_lock(1)`,

  firstFailedMigration: `SELECT ${MIGRATION_COLUMNS} FROM batched_background_migrations
    WHERE status = 3 AND ${NAME_FILTER} ORDER BY id LIMIT 1 FOR UPDATE`,
  // Two steps: FOR UPDATE with LIMIT can return nothing when the chosen row changes under it.
  nextRunnableId: `SELECT id FROM batched_background_migrations
    WHERE status IN (1, 4) AND ${NAME_FILTER} ORDER BY (status = 4) DESC, id LIMIT 1`,
  lockRunnable: `SELECT ${MIGRATION_COLUMNS} FROM batched_background_migrations
    WHERE id = $1 AND status IN (1, 4) FOR UPDATE`,
  firstFailedJob: `SELECT ${JOB_COLUMNS} FROM batched_background_migration_jobs
    WHERE batched_background_migration_id = $1 AND status = 3 ORDER BY id LIMIT 1`,
  lastJobMax: `SELECT max(max_value)::text AS max FROM batched_background_migration_jobs
    WHERE batched_background_migration_id = $1`,
  hasJobs: `SELECT EXISTS (SELECT 1 FROM batched_background_migration_jobs
    WHERE batched_background_migration_id = $1) AS has`,
  setRunning: `UPDATE batched_background_migrations
    SET status = 4, failure_error_code = NULL, started_at = coalesce(started_at, now()), updated_at = now()
    WHERE id = $1`,
  markFailed: `UPDATE batched_background_migrations SET status = 3, failure_error_code = $2, updated_at = now()
    WHERE id = $1`,
  markFinished: `UPDATE batched_background_migrations
    SET status = 2, failure_error_code = NULL, finished_at = now(), updated_at = now() WHERE id = $1`,
  setTotalTupleCount: `UPDATE batched_background_migrations SET total_tuple_count = $2, updated_at = now()
    WHERE id = $1`,
  createJob: `INSERT INTO batched_background_migration_jobs
    (batched_background_migration_id, min_value, max_value, status, started_at)
    VALUES ($1, $2, $3, 1, clock_timestamp()) RETURNING ${JOB_COLUMNS}`,
  finishJob: `UPDATE batched_background_migration_jobs
    SET status = 2, failure_error_code = NULL, finished_at = clock_timestamp(), updated_at = clock_timestamp(),
      attempts = attempts + $2
    WHERE id = $1`,
  failJob: `UPDATE batched_background_migration_jobs
    SET status = 3, failure_error_code = $2, updated_at = now(), attempts = attempts + $3 WHERE id = $1`,

  findTable: `SELECT c.oid, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
  findColumn: `SELECT attname, atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) AS is_integer
    FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped`,
  hasNullIndex: `SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $1 AND i.indisvalid
    AND i.indpred IS NOT NULL AND pg_get_expr(i.indpred, i.indrelid) = format('(%I IS NULL)', $2::text)) AS has`,
  // Leaves of a partitioned table, or the table itself; reltuples is -1 before the first ANALYZE,
  // then n_live_tup (kept by the statistics system) stands in.
  estimate: `WITH leaves AS (
      SELECT relid AS oid FROM pg_partition_tree($1::oid::regclass) WHERE isleaf
      UNION ALL
      SELECT $1::oid WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree($1::oid::regclass))
    )
    SELECT coalesce(round(sum(
      (CASE WHEN c.reltuples >= 0 THEN c.reltuples::float8 ELSE coalesce(st.n_live_tup, 0)::float8 END)
      * (CASE WHEN $3::boolean THEN coalesce(s.null_frac, 1)::float8 ELSE 1 END)
    )), 0)::bigint::text AS estimate
    FROM leaves l
    JOIN pg_class c ON c.oid = l.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_all_tables st ON st.relid = l.oid
    LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = $2
      AND NOT s.inherited`,

  list: `SELECT ${MIGRATION_COLUMNS},
      (SELECT count(*) FROM batched_background_migration_jobs j
        WHERE j.batched_background_migration_id = m.id AND j.status = 2)::text AS finished_jobs
    FROM batched_background_migrations m ORDER BY id`,
  // GitLab's statements (spec §4.4), one row each: a run's batch transaction locks several
  // migration rows in its own order, so one statement over all rows could deadlock with it.
  pausable: `SELECT id FROM batched_background_migrations WHERE status IN (1, 4) ORDER BY id`,
  pauseOne: `UPDATE batched_background_migrations SET status = 0 WHERE id = $1 AND status IN (1, 4)`,
  resumable: `SELECT id FROM batched_background_migrations WHERE status = 0 ORDER BY id`,
  resumeOne: `UPDATE batched_background_migrations SET status = 1 WHERE id = $1 AND status = 0`,

  setStatementTimeout: `SELECT set_config('statement_timeout', $1, true)`,
  cancelBackend: `SELECT pg_cancel_backend($1)`,
} as const;

/** Statements that name the target table: built from catalog names only. */
export const targetSql = {
  hasNullRows: (t: BbmTarget): string =>
    `SELECT EXISTS (SELECT 1 FROM ${qualifiedTable(t)} WHERE ${quoteIdent(t.column)} IS NULL) AS has`,
  keyAtOffset: (t: BbmTarget): string => {
    const col = quoteIdent(t.column);
    return `SELECT ${col}::text AS key FROM ${qualifiedTable(t)} WHERE ${col} >= $1 AND ${col} <= $2
      ORDER BY ${col} LIMIT 1 OFFSET $3`;
  },
  // spec §5.2, work function copyManifestMediaTypeIDToNewBigIntColumn.
  copyManifestMediaTypeId: `UPDATE public.manifests SET media_type_id_convert_to_bigint = media_type_id
    WHERE id >= $1 AND id <= $2`,
  // spec §5.2, work function populateBlobsIDColumn.
  populateBlobsId: (t: BbmTarget): string => {
    const table = qualifiedTable(t);
    const col = quoteIdent(t.column);
    return `UPDATE ${table} t SET ${col} = nextval('public.blobs_id_seq')
      FROM (SELECT ctid FROM ${table} WHERE ${col} IS NULL LIMIT $1) sub WHERE t.ctid = sub.ctid`;
  },
};
