/**
 * The migrated template database the integration tests clone.
 *
 * On the shared local server (many test runs a day, several at once) the template is cached across
 * runs: its name carries a hash of everything that decides the migrated schema (src/db and src/bbm),
 * it is built once under an advisory lock and marked complete with IS_TEMPLATE. The baseline takes
 * about 6,000 locks in one transaction, so building it once instead of per run also keeps
 * concurrent runs from filling the server's lock table. Elsewhere (URL, embedded, container) the
 * template belongs to the run and is dropped with it.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';
import { migrateUp } from '../../src/db/migrator.js';
import { SqlState } from '../../src/db/sqlstate.js';
import { openDatabase } from '../../src/db/open.js';
import { REPO_ROOT } from './cli.js';
import { configFromUrl } from './server.js';

/**
 * SQLSTATE 53200 out_of_memory ("out of shared memory"): the lock table is full because another
 * process migrates at the same moment. Transient: retried.
 */
/** pg_advisory_lock key serialising template builds on one server ("regdbtpl"). */
const TEMPLATE_LOCK_KEY = 0x7265_6764_6274_706cn;
const CACHED_PREFIX = 'regdb_tpl_';
/** Cached templates of other source states not used for this long are dropped. */
const STALE_AFTER_MS = 2 * 3600_000;

function sqlStateIn(err: unknown, code: string): boolean {
  for (let e = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

/** Hash of the sources that decide what `migrate up` builds. */
export function schemaSourceHash(): string {
  const h = createHash('sha256');
  for (const dir of ['src/db', 'src/bbm']) {
    for (const file of filesUnder(join(REPO_ROOT, dir))) {
      h.update(relative(REPO_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return h.digest('hex').slice(0, 16);
}

async function withAdmin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function migrate(adminUrl: string, dbname: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const db = await openDatabase(configFromUrl(adminUrl, dbname), { checkVersion: true });
    try {
      await migrateUp(db.pool);
      return;
    } catch (err) {
      if (!sqlStateIn(err, SqlState.outOfSharedMemory) || attempt >= 8) throw err;
      process.stderr.write(`regdb tests: lock table full while migrating the template; retry ${attempt}\n`);
      await new Promise((r) => setTimeout(r, 3000 * attempt));
    } finally {
      await db.close();
    }
  }
}

async function dropDatabase(c: pg.Client, name: string): Promise<void> {
  const ident = pg.escapeIdentifier(name);
  await c.query(`ALTER DATABASE ${ident} IS_TEMPLATE false`).catch(() => undefined);
  await c.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
}

/** Creates and migrates a template owned by this run (the caller drops it). */
export async function buildRunTemplate(adminUrl: string, name: string): Promise<void> {
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  await migrate(adminUrl, name);
}

/** Returns the cached template for the current sources, building it when missing. */
export async function cachedTemplate(adminUrl: string): Promise<{ name: string; built: boolean }> {
  const name = `${CACHED_PREFIX}${schemaSourceHash()}`;
  return withAdmin(adminUrl, async (c) => {
    await c.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY.toString()]);
    try {
      const found = await c.query<{ datistemplate: boolean }>(
        'SELECT datistemplate FROM pg_database WHERE datname = $1',
        [name],
      );
      if (found.rows[0]?.datistemplate === true) {
        await markUsed(c, name);
        return { name, built: false };
      }
      // Missing, or left half-built by an interrupted run.
      if (found.rows.length > 0) await dropDatabase(c, name);
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      try {
        await migrate(adminUrl, name);
      } catch (err) {
        await dropDatabase(c, name);
        throw err;
      }
      const ident = pg.escapeIdentifier(name);
      await c.query(
        `COMMENT ON DATABASE ${ident} IS ${pg.escapeLiteral(`built ${new Date().toISOString()}`)}`,
      );
      await c.query(`ALTER DATABASE ${ident} IS_TEMPLATE true`);
      await dropStale(c, name);
      return { name, built: true };
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY.toString()]);
    }
  });
}

/** The comment holds when a run last took the template, for dropStale(). */
async function markUsed(c: pg.Client, name: string): Promise<void> {
  const note = pg.escapeLiteral(`used ${new Date().toISOString()}`);
  await c.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(name)} IS ${note}`);
}

/** Drops cached templates of earlier source states that no run has taken for a while. */
async function dropStale(c: pg.Client, current: string): Promise<void> {
  const { rows } = await c.query<{ datname: string; note: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS note FROM pg_database
      WHERE starts_with(datname, $1) AND datname <> $2`,
    [CACHED_PREFIX, current],
  );
  for (const { datname, note } of rows) {
    const used = Date.parse((note ?? '').replace(/^(built|used) /, ''));
    if (Number.isNaN(used) || Date.now() - used > STALE_AFTER_MS) await dropDatabase(c, datname);
  }
}
