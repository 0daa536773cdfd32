/**
 * The SQLSTATE codes regdb branches on (PostgreSQL, Appendix A "Error Codes"), each with the reason it
 * matters here, and the one classification of transient failures that the import writer and the
 * migrator retry (transaction.ts). Branch on these, never on message text (STYLE.md).
 */

export const SqlState = {
  /** 40001 serialization_failure: the transaction was rolled back whole; running it again may succeed. */
  serializationFailure: '40001',
  /** 40P01 deadlock_detected: the server aborted this transaction to break a deadlock; rerun it whole. */
  deadlockDetected: '40P01',
  /**
   * 53200 out_of_memory: "out of shared memory" when the server's lock table is full. The table is
   * shared by every session (max_locks_per_transaction x max_connections); a batch or DDL touching
   * the partitioned tables locks every partition and its indexes, so several importers, shards or a
   * migration at once can fill it. The transaction was rolled back whole, and the others release their
   * locks as they finish, so it succeeds a moment later.
   */
  outOfSharedMemory: '53200',
  /** 57P01 admin_shutdown: pg_terminate_backend or a server shutdown; the connection is gone. */
  adminShutdown: '57P01',
  /** 57014 query_canceled: statement_timeout expired or pg_cancel_backend was called (BBM job timeout). */
  queryCanceled: '57014',
  /** 55P03 lock_not_available: lock_timeout expired while waiting (the BBM advisory lock). */
  lockNotAvailable: '55P03',
  /** 42P01 undefined_table: the schema has not been migrated yet. */
  undefinedTable: '42P01',
  /** 42P04 duplicate_database: another process created the database first. */
  duplicateDatabase: '42P04',
  /** 28000 invalid_authorization_specification: no pg_hba.conf entry, or a wrong user. */
  invalidAuthorization: '28000',
  /** 28P01 invalid_password: the role exists but the password differs. */
  invalidPassword: '28P01',
} as const;

/** Class 08, connection_exception: the connection failed or was lost. */
const CONNECTION_EXCEPTION_CLASS = '08';

/** Socket errors node-postgres passes through when the server connection breaks. */
const LOST_SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED']);

/** Any caught value as an Error (a rejected promise may hold anything). */
export function coerceError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The error's SQLSTATE, when it is a server error; undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The server rolled the transaction back whole for a reason that passes (deadlock, serialization,
 * full lock table): the same session may run it again.
 */
export function isRolledBackTransient(err: unknown): boolean {
  const code = sqlState(err);
  return (
    code === SqlState.deadlockDetected ||
    code === SqlState.serializationFailure ||
    code === SqlState.outOfSharedMemory
  );
}

/** The connection is gone (terminated, network cut): the work must run again on a new one. */
export function isConnectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return false;
  return (
    code === SqlState.adminShutdown ||
    (sqlState(err) !== undefined && code.startsWith(CONNECTION_EXCEPTION_CLASS)) ||
    LOST_SOCKET_CODES.has(code)
  );
}

/** A pg error as pgx prints it (`ERROR: … (SQLSTATE xxxxx)`), anything else by its message. */
export function describeSqlError(err: unknown): string {
  const code = sqlState(err);
  if (err instanceof Error && code !== undefined) {
    const severity = (err as { severity?: unknown }).severity;
    return `${typeof severity === 'string' ? severity : 'ERROR'}: ${err.message} (SQLSTATE ${code})`;
  }
  return coerceError(err).message;
}
