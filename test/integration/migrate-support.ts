/**
 * Shared by the `regdb database migrate` integration tests: run the real CLI as a child process
 * against a config file pointing at a test database, and read the bookkeeping tables.
 */
import { runCli } from '../helpers/cli.js';
import { addCanary, DB_PASSWORD_CANARY } from '../helpers/canaries.js';
import { cpSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { stringify } from 'yaml';
import type { ServerDatabaseConfig } from '../../src/config/types.js';
import { bundledMigrationsDir, loadAllMigrations } from '../../src/db/migration-files.js';

export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `regdb <args>` with the built CLI (test/helpers/cli.ts); `input` is written to stdin, which is then closed. */
export function regdb(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  // Settings of the calling shell that would change what migrate does are not passed on.
  const env: NodeJS.ProcessEnv = {
    REGDB_MIGRATIONS_DIR: undefined,
    SKIP_POST_DEPLOYMENT_MIGRATIONS: undefined,
    REGISTRY_CONFIGURATION_PATH: undefined,
    REGDB_LOG_LEVEL: 'error',
    ...opts.env,
  };
  return runCli(args, { env, input: opts.input }).then(({ code, stdout, stderr }) => ({
    code,
    stdout,
    stderr,
  }));
}

/** Writes a registry config.yml for the database and returns its path. */
export function writeConfig(dir: string, db: ServerDatabaseConfig): string {
  const database: Record<string, unknown> = {
    enabled: true,
    host: db.host,
    port: db.port,
    dbname: db.dbname,
    sslmode: db.sslmode,
  };
  if (db.user !== undefined) database.user = db.user;
  // A server that asks for no password (trust) never sees it: the canary stands in (canaries.ts).
  database.password = db.password ?? DB_PASSWORD_CANARY;
  if (db.password !== undefined) addCanary(db.password);
  const file = join(dir, 'config.yml');
  writeFileSync(file, stringify({ version: 0.1, database }));
  return file;
}

/** A copy of the bundled migrations plus extra files (`{ 'pre/<id>.sql': text }`). */
export function migrationsWith(dir: string, extra: Record<string, string>): string {
  const target = join(dir, 'migrations');
  cpSync(bundledMigrationsDir(), target, { recursive: true });
  for (const [rel, text] of Object.entries(extra)) writeFileSync(join(target, rel), text);
  return target;
}

export const bundled = loadAllMigrations(bundledMigrationsDir());
export const preIds = bundled.pre.map((m) => m.id);
export const postIds = bundled.post.map((m) => m.id);

export async function recorded(pool: pg.Pool, table: 'schema_migrations' | 'post_deploy_schema_migrations') {
  const res = await pool.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`);
  return res.rows.map((r) => r.id);
}

/** Tables outside the system schemas. */
export async function userTables(pool: pg.Pool): Promise<number> {
  const res = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`,
  );
  return Number(res.rows[0]?.n);
}

/** The `OK:` summary line of `up`, with the time replaced by S. */
export function summary(stdout: string): string | undefined {
  return stdout
    .split('\n')
    .find((l) => l.startsWith('OK: '))
    ?.replace(/ in \d+\.\d{3}s$/, ' in Ss');
}
