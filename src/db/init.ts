/**
 * `regdb database init` (issue 2 §6): the database objects a Linux-package cookbook creates before
 * the registry migrates: the login role with its password, the database owned by it and the
 * `btree_gist` extension in it. Every step looks first and acts only when something is missing, so
 * a second run changes nothing. Identifiers and literals are quoted by pg, never interpolated raw.
 */
import pg from 'pg';
import type { ServerDatabaseConfig } from '../config/types.js';
import { silentLogger, type Logger } from '../log.js';
import { openDatabase } from './open.js';
import { SqlState } from './sqlstate.js';

export const REQUIRED_EXTENSION = 'btree_gist';

export interface InitTarget {
  role: string;
  /** When given, the role gets it (on creation, or when logging in with it fails). */
  password?: string;
  dbname: string;
}

export type StepResult = 'created' | 'exists' | 'updated';

export interface InitReport {
  role: StepResult;
  database: StepResult;
  extension: StepResult;
}

async function ensureRole(
  admin: pg.Pool,
  adminConfig: ServerDatabaseConfig,
  target: InitTarget,
  logger: Logger,
): Promise<StepResult> {
  const role = pg.escapeIdentifier(target.role);
  const password = target.password !== undefined ? ` PASSWORD ${pg.escapeLiteral(target.password)}` : '';
  const found = await admin.query<{ rolcanlogin: boolean }>(
    'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
    [target.role],
  );
  const row = found.rows[0];
  if (row === undefined) {
    await admin.query(`CREATE ROLE ${role} LOGIN${password}`);
    return 'created';
  }
  let result: StepResult = 'exists';
  if (!row.rolcanlogin) {
    await admin.query(`ALTER ROLE ${role} LOGIN`);
    result = 'updated';
  }
  if (target.password !== undefined && (await passwordRejected(adminConfig, target, logger))) {
    await admin.query(`ALTER ROLE ${role}${password}`);
    result = 'updated';
  }
  return result;
}

/** Logs in as the role; true only when the server says the password is wrong. */
async function passwordRejected(
  adminConfig: ServerDatabaseConfig,
  target: InitTarget,
  logger: Logger,
): Promise<boolean> {
  try {
    const db = await openDatabase(
      { ...adminConfig, user: target.role, password: target.password as string, pool: { maxOpen: 1 } },
      { logger },
    );
    await db.close();
    return false;
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    // The role exists but its password differs from the config.
    return code === SqlState.invalidPassword;
  }
}

async function ensureDatabase(admin: pg.Pool, target: InitTarget): Promise<StepResult> {
  const found = await admin.query<{ owner: string }>(
    'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
    [target.dbname],
  );
  const row = found.rows[0];
  const db = pg.escapeIdentifier(target.dbname);
  const role = pg.escapeIdentifier(target.role);
  if (row === undefined) {
    await admin.query(`CREATE DATABASE ${db} OWNER ${role}`);
    return 'created';
  }
  if (row.owner !== target.role) {
    await admin.query(`ALTER DATABASE ${db} OWNER TO ${role}`);
    return 'updated';
  }
  return 'exists';
}

/** Creates the extension in the pool's database when it is missing. */
export async function ensureExtension(pool: pg.Pool): Promise<StepResult> {
  const found = await pool.query('SELECT 1 FROM pg_extension WHERE extname = $1', [REQUIRED_EXTENSION]);
  if ((found.rowCount ?? 0) > 0) return 'exists';
  await pool.query(`CREATE EXTENSION IF NOT EXISTS ${pg.escapeIdentifier(REQUIRED_EXTENSION)}`);
  return 'created';
}

/**
 * Runs the three steps against a configured server, connecting as the administrator described by
 * `adminConfig` (its dbname is the maintenance database, usually `postgres`).
 */
export async function initDatabaseObjects(
  adminConfig: ServerDatabaseConfig,
  target: InitTarget,
  opts: { logger?: Logger } = {},
): Promise<InitReport> {
  const logger = opts.logger ?? silentLogger;
  const admin = await openDatabase({ ...adminConfig, pool: { maxOpen: 1 } }, { logger });
  let role: StepResult;
  let database: StepResult;
  try {
    role = await ensureRole(admin.pool, adminConfig, target, logger);
    database = await ensureDatabase(admin.pool, target);
  } finally {
    await admin.close();
  }
  // The extension lives in the target database: connect there, still as the administrator.
  const inTarget = await openDatabase(
    { ...adminConfig, dbname: target.dbname, pool: { maxOpen: 1 } },
    { logger },
  );
  try {
    return { role, database, extension: await ensureExtension(inTarget.pool) };
  } finally {
    await inTarget.close();
  }
}
