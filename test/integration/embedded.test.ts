/**
 * The embedded default (issue 2 §3), with no PostgreSQL server needed: CI runs this file with
 * REGDB_TEST_EMBEDDED=1. A config without a database section opens regdb's own PostgreSQL in
 * `.regdb/postgres` beside the config; data survives close and reopen; a second opener reuses the
 * running server, and the starter stops it only once the others are done; a postmaster.pid left by a
 * crashed run does not stop the next start.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { EmbeddedDatabaseConfig } from '../../src/config/types.js';
import { openDatabase } from '../../src/db/open.js';
import { runCli } from '../helpers/cli.js';

describe('embedded PostgreSQL', () => {
  let dir: string;
  let configPath: string;
  let config: EmbeddedDatabaseConfig;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regdb-embedded-'));
    // As root the server runs as "postgres", which must enter the folder.
    await chmod(dir, 0o755);
    configPath = join(dir, 'config.yml');
    await writeFile(configPath, 'version: 0.1\n');
    const loaded = loadConfig({ path: configPath, env: {} });
    if (loaded.database.kind !== 'embedded') throw new Error('expected the embedded default');
    config = loaded.database;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a config without a database section means an embedded server beside the config', () => {
    expect(config).toEqual({
      kind: 'embedded',
      dataDir: join(dir, '.regdb', 'postgres'),
      dataDirIsDefault: true,
      port: 0,
      user: 'regdb',
      password: '',
      dbname: 'registry',
      pool: {},
    });
  });

  it('starts, creates the database, passes the version check, and keeps data across restarts', async () => {
    const first = await openDatabase(config, { checkVersion: true });
    expect(first.embedded).toBe(true);
    expect(first.url).toMatch(/^postgresql:\/\/regdb@127\.0\.0\.1:\d+\/registry$/);
    expect(first.passwordFile).toBe(join(config.dataDir, 'regdb-embedded.json'));
    const state = JSON.parse(await readFile(first.passwordFile as string, 'utf8')) as {
      password: string;
      port: number;
    };
    expect(state.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(first.url).toContain(`:${state.port}/`);
    expect(((await stat(first.passwordFile as string)).mode & 0o077).toString(8)).toBe('0');
    const { rows } = await first.pool.query<{ db: string; v: string }>(
      "SELECT current_database() AS db, current_setting('server_version_num') AS v",
    );
    expect(rows[0]?.db).toBe('registry');
    expect(Number(rows[0]?.v)).toBeGreaterThanOrEqual(170000);
    await first.pool.query('CREATE TABLE kept (id bigint PRIMARY KEY, note text)');
    await first.pool.query("INSERT INTO kept VALUES (9007199254740993, 'survives a restart')");
    await first.close();
    // Stopped: nothing listens on the port any more, and postmaster.pid is gone.
    await expect(stat(join(config.dataDir, 'postmaster.pid'))).rejects.toThrow(/ENOENT/);

    const second = await openDatabase(config);
    try {
      const kept = await second.pool.query<{ id: string; note: string }>(
        'SELECT id::text AS id, note FROM kept',
      );
      expect(kept.rows).toEqual([{ id: '9007199254740993', note: 'survives a restart' }]);
    } finally {
      await second.close();
    }
  });

  it('a second opener reuses the running server and leaves it running when it closes', async () => {
    const owner = await openDatabase(config);
    try {
      const guest = await openDatabase(config);
      expect(guest.url).toBe(owner.url);
      expect((await guest.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0]?.n).toBe(
        1,
      );
      await guest.close();
      expect((await owner.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0]?.n).toBe(
        1,
      );
    } finally {
      await owner.close();
    }
  });

  it('the process that started the server waits for the others before stopping it', async () => {
    const owner = await openDatabase(config);
    const guest = await openDatabase(config);
    let ownerClosed = false;
    const closing = owner.close().then(() => {
      ownerClosed = true;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(ownerClosed).toBe(false);
    expect((await guest.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0]?.n).toBe(1);
    await guest.close();
    await closing;
    expect(ownerClosed).toBe(true);
    await expect(stat(join(config.dataDir, 'postmaster.pid'))).rejects.toThrow(/ENOENT/);
  });

  it('a postmaster.pid left by a crashed run is removed and the server starts', async () => {
    const pidFile = join(config.dataDir, 'postmaster.pid');
    // A pid that cannot be alive (above the kernel's pid_max), as a crash would leave behind.
    await writeFile(pidFile, `4194999\n${config.dataDir}\n1700000000\n5999\n\n127.0.0.1\n0 0\nready\n`);
    const db = await openDatabase(config);
    try {
      expect((await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM kept')).rows[0]?.n).toBe(1);
      expect(await readFile(pidFile, 'utf8')).not.toMatch(/^4194999\n/);
    } finally {
      await db.close();
    }
  });

  it('regdb database init on the embedded default: prints how to connect and creates btree_gist', async () => {
    const res = await runCli(['--log-level', 'warn', 'database', 'init', configPath]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      [
        'role "regdb": exists',
        'database "registry" (owner "regdb"): exists',
        'extension btree_gist in "registry": created',
        '',
      ].join('\n'),
    );
    expect(res.stderr).toMatch(
      /^regdb: embedded PostgreSQL: psql postgresql:\/\/regdb@127\.0\.0\.1:\d+\/registry \(password in .*regdb-embedded\.json\)\n$/,
    );
  });
});
