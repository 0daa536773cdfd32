/**
 * `regdb database init CONFIG` twice (issue 2 §6): the first run creates the role (LOGIN, with its
 * password), the database owned by it and btree_gist in it; the second run changes nothing.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerDatabaseConfig } from '../../src/config/types.js';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { initDatabaseObjects } from '../../src/db/init.js';
import { openDatabase } from '../../src/db/open.js';
import { adminConfig, adminQuery, uniqueName } from '../helpers/db.js';
import { runCli } from '../helpers/cli.js';

const PASSWORD = "it's a pa$$word with spaces";

interface Snapshot {
  role: Record<string, unknown>[];
  database: Record<string, unknown>[];
  extension: Record<string, unknown>[];
}

describe('regdb database init', () => {
  const admin = adminConfig();
  // Names that need quoting: a space, a double quote, upper case.
  const role = `${uniqueName('Role')} "x"`;
  const dbname = `${uniqueName('init')} Db`;
  let dir: string;
  let configPath: string;
  const env: NodeJS.ProcessEnv = {
    REGISTRY_DATABASE_ADMIN_USER: admin.user ?? 'postgres',
    ...(admin.password !== undefined ? { REGISTRY_DATABASE_ADMIN_PASSWORD: admin.password } : {}),
  };

  async function snapshot(): Promise<Snapshot> {
    const roleRows = await adminQuery(
      'SELECT rolname, rolcanlogin, rolsuper, rolpassword FROM pg_authid WHERE rolname = $1',
      [role],
    );
    const dbRows = await adminQuery(
      'SELECT datname, pg_get_userbyid(datdba) AS owner, xmin::text AS xmin FROM pg_database WHERE datname = $1',
      [dbname],
    );
    const { default: pg } = await import('pg');
    const client = new pg.Client({ ...adminConfig(dbname), database: dbname });
    let ext: Record<string, unknown>[] = [];
    try {
      await client.connect();
      ext = (
        await client.query(
          "SELECT extname, xmin::text AS xmin FROM pg_extension WHERE extname = 'btree_gist'",
        )
      ).rows;
    } catch {
      ext = [];
    } finally {
      await client.end().catch(() => undefined);
    }
    return { role: roleRows.rows, database: dbRows.rows, extension: ext };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regdb-init-'));
    configPath = join(dir, 'config.yml');
    await writeFile(
      configPath,
      [
        'version: 0.1',
        'database:',
        `  host: ${admin.host}`,
        `  port: ${admin.port}`,
        `  user: ${JSON.stringify(role)}`,
        `  password: ${JSON.stringify(PASSWORD)}`,
        `  dbname: ${JSON.stringify(dbname)}`,
        '  sslmode: disable',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    const { default: pg } = await import('pg');
    await adminQuery(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbname)} WITH (FORCE)`);
    await adminQuery(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    await rm(dir, { recursive: true, force: true });
  });

  it('creates role, database and extension, then a second run changes nothing', async () => {
    expect(await snapshot()).toEqual({ role: [], database: [], extension: [] });

    const first = await runCli(['--log-level', 'warn', 'database', 'init', configPath], { env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      [
        `role "${role}": created`,
        `database "${dbname}" (owner "${role}"): created`,
        `extension btree_gist in "${dbname}": created`,
        '',
      ].join('\n'),
    );
    const after = await snapshot();
    expect(after.role).toHaveLength(1);
    expect(after.role[0]).toMatchObject({ rolname: role, rolcanlogin: true, rolsuper: false });
    expect(String(after.role[0]?.rolpassword)).toMatch(/^SCRAM-SHA-256\$|^md5/);
    expect(after.database).toEqual([{ datname: dbname, owner: role, xmin: expect.any(String) }]);
    expect(after.extension).toEqual([{ extname: 'btree_gist', xmin: expect.any(String) }]);

    const second = await runCli(['--log-level', 'warn', 'database', 'init', configPath], { env });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(
      [
        `role "${role}": exists`,
        `database "${dbname}" (owner "${role}"): exists`,
        `extension btree_gist in "${dbname}": exists`,
        '',
      ].join('\n'),
    );
    // Same password hash (no ALTER ROLE), same catalog row versions (no ALTER DATABASE/EXTENSION).
    expect(await snapshot()).toEqual(after);
  });

  it('never prints the passwords', async () => {
    // A trust-auth server ignores the admin password; a password server needs the real one.
    const adminPassword = admin.password ?? 'admin-Secret-42';
    const res = await runCli(['--log-level', 'trace', 'database', 'init', configPath], {
      env: { ...env, REGISTRY_DATABASE_ADMIN_PASSWORD: adminPassword },
    });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('"level":20'); // debug lines were written
    for (const out of [res.stdout, res.stderr]) {
      expect(out).not.toContain(PASSWORD);
      expect(out).not.toContain(adminPassword);
    }
  });

  it('a config without database.user is a config error (exit 2)', async () => {
    const bad = join(dir, 'no-user.yml');
    await writeFile(bad, `version: 0.1\ndatabase:\n  host: ${admin.host}\n  dbname: x\n`);
    const res = await runCli(['database', 'init', bad], { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      `regdb: ${bad}: database.user: required by "database init" (the role to create)\n`,
    );
  });
});

describe('initDatabaseObjects on a password-checking server', () => {
  let dir: string;
  let server: EmbeddedServer;
  let admin: ServerDatabaseConfig;

  beforeAll(async () => {
    // An embedded server of this test's own: scram-sha-256 everywhere, unlike a trust-auth local server.
    dir = await mkdtemp(join(tmpdir(), 'regdb-init-pw-'));
    await chmod(dir, 0o755);
    server = await startEmbedded({
      kind: 'embedded',
      dataDir: join(dir, 'pgdata'),
      port: 0,
      user: 'postgres',
      password: 'admin-pw',
      dbname: 'postgres',
      pool: {},
    });
    admin = {
      kind: 'server',
      host: server.host,
      port: server.port,
      user: 'postgres',
      password: 'admin-pw',
      dbname: 'postgres',
      sslmode: 'disable',
      connectTimeoutMs: 5000,
      pool: {},
    };
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function canLogIn(password: string): Promise<boolean> {
    try {
      const db = await openDatabase({ ...admin, user: 'registry', password, dbname: 'registry' });
      await db.close();
      return true;
    } catch {
      return false;
    }
  }

  it('a changed password in the config is applied; the same one is left alone', async () => {
    const target = { role: 'registry', dbname: 'registry', password: 'first-pw' };
    expect(await initDatabaseObjects(admin, target)).toEqual({
      role: 'created',
      database: 'created',
      extension: 'created',
    });
    expect(await canLogIn('first-pw')).toBe(true);
    expect(await initDatabaseObjects(admin, target)).toEqual({
      role: 'exists',
      database: 'exists',
      extension: 'exists',
    });
    expect(await initDatabaseObjects(admin, { ...target, password: 'second-pw' })).toEqual({
      role: 'updated',
      database: 'exists',
      extension: 'exists',
    });
    expect(await canLogIn('second-pw')).toBe(true);
    expect(await canLogIn('first-pw')).toBe(false);
  });

  it('a wrong administrator password fails with the server message and without the password', async () => {
    const err = (await initDatabaseObjects(
      { ...admin, password: 'Wrong-Admin-Pw' },
      { role: 'r', dbname: 'd' },
    ).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /^cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ \(database "postgres", user "postgres"\): password authentication failed/,
    );
    expect(err.message).not.toContain('Wrong-Admin-Pw');
  });
});
