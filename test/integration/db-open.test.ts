/**
 * openDatabase against the test server: sslmode disable and prefer (the server may or may not offer
 * TLS: prefer must follow what it answers), the PostgreSQL >= 15 check, database.primary, the
 * connect timeout, idle connections lost, connection errors that name the server without the
 * password, and the freshDatabase/emptyDatabase helpers.
 */
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, VERSION_TOO_LOW_MESSAGE } from '../../src/db/open.js';
import { createLogger } from '../../src/log.js';
import { serverSupportsTls } from '../../src/db/tls.js';
import { adminConfig, emptyDatabase, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { captureLog } from '../helpers/log-capture.js';

async function sslInUse(db: { pool: import('pg').Pool }): Promise<boolean> {
  const { rows } = await db.pool.query<{ ssl: boolean }>(
    'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
  );
  return rows[0]?.ssl === true;
}

describe('openDatabase on a configured server', () => {
  let fresh: TestDatabase;
  beforeAll(async () => {
    fresh = await freshDatabase();
  });
  afterAll(async () => {
    await fresh.drop();
  });

  it('sslmode=disable connects without TLS', async () => {
    const db = await openDatabase({ ...fresh.config, sslmode: 'disable' });
    try {
      expect(await sslInUse(db)).toBe(false);
      expect(db.embedded).toBe(false);
    } finally {
      await db.close();
    }
  });

  it('sslmode=prefer uses TLS exactly when the server offers it', async () => {
    const offers = await serverSupportsTls(fresh.config.host, fresh.config.port, 5000);
    const db = await openDatabase({ ...fresh.config, sslmode: 'prefer' });
    try {
      expect(await sslInUse(db)).toBe(offers);
    } finally {
      await db.close();
    }
  });

  it('checkVersion accepts the server (>= 15) and reports its version', async () => {
    const db = await openDatabase(fresh.config, { checkVersion: true });
    try {
      const { rows } = await db.pool.query<{ v: string }>(
        "SELECT current_setting('server_version_num') AS v",
      );
      expect(Number(rows[0]?.v)).toBeGreaterThanOrEqual(150000);
    } finally {
      await db.close();
    }
    expect(VERSION_TOO_LOW_MESSAGE).toBe(
      'the database version is lower than the minimal supported version 15.0',
    );
  });

  it('a refused connection names host and database but never the password', async () => {
    const password = 'Sup3r-Secret-Value';
    const err = await openDatabase({
      ...fresh.config,
      port: 1,
      password,
      sslmode: 'disable',
      connectTimeoutMs: 2000,
    }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      new RegExp(`^cannot connect to PostgreSQL at ${fresh.config.host}:1 `),
    );
    expect((err as Error).message).toContain(`database "${fresh.name}"`);
    expect((err as Error).message).not.toContain(password);
  });

  it('usePrimary connects to database.primary instead of database.host', async () => {
    const config = { ...fresh.config, host: 'regdb-no-such-host.invalid', primary: fresh.config.host };
    const db = await openDatabase(config, { usePrimary: true, checkVersion: true });
    try {
      expect((await db.pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
    await expect(openDatabase(config)).rejects.toThrow(
      /^cannot connect to PostgreSQL at regdb-no-such-host\.invalid:/,
    );
  });

  it('connecttimeout bounds the wait for a server that accepts but never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = performance.now();
      const err = await openDatabase({
        ...fresh.config,
        host: '127.0.0.1',
        port,
        sslmode: 'disable',
        connectTimeoutMs: 700,
      }).catch((e: unknown) => e as Error);
      const ms = performance.now() - started;
      expect((err as Error).message).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ .*timeout/i);
      expect(ms).toBeGreaterThanOrEqual(650);
      expect(ms).toBeLessThan(10_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('an idle pooled connection killed by the server is logged, not a crash', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: { stream: { write: (l: string) => lines.push(l) } },
    });
    const db = await openDatabase(fresh.config, { logger });
    try {
      const { rows } = await db.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const admin = await openDatabase(adminConfig(fresh.name));
      try {
        await admin.pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      } finally {
        await admin.close();
      }
      for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({
        level: 40,
        msg: 'an idle PostgreSQL connection failed',
      });
      // The pool replaces the connection.
      expect((await db.pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('a connection failing while the pool closes is no warning (the embedded server stops right after)', async () => {
    const log = captureLog('debug');
    const db = await openDatabase(fresh.config, { logger: log.logger });
    await db.pool.query('SELECT 1');
    await db.close();
    // What a backend shut down under a client whose Terminate was still in flight reports.
    const err = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
    db.pool.emit('error', err, undefined);
    await new Promise((r) => setImmediate(r)); // the capture stream writes asynchronously
    expect(log.records.filter((l) => (l['level'] as number) >= 40)).toEqual([]);
    expect(log.records.at(-1)).toMatchObject({ level: 20, msg: 'a closing PostgreSQL connection failed' });
  });

  it('a missing database is reported with its name', async () => {
    const err = await openDatabase({ ...fresh.config, dbname: 'regdb_no_such_database' }).catch(
      (e: unknown) => e as Error,
    );
    expect((err as Error).message).toContain('database "regdb_no_such_database"');
    expect((err as Error).message).toContain('does not exist');
  });
});

describe('test database helpers', () => {
  it('freshDatabase is migrated; emptyDatabase is not', async () => {
    const fresh = await freshDatabase();
    const empty = await emptyDatabase();
    try {
      const count = async (db: TestDatabase) =>
        Number(
          (
            await db.pool.query<{ n: string }>(
              "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'schema_migrations'",
            )
          ).rows[0]?.n,
        );
      expect(await count(fresh)).toBe(1);
      expect(await count(empty)).toBe(0);
      const applied = await fresh.pool.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
      expect(Number(applied.rows[0]?.n)).toBeGreaterThan(0);
    } finally {
      await fresh.drop();
      await empty.drop();
    }
    const gone = await openDatabase(adminConfig(fresh.name)).catch((e: unknown) => e as Error);
    expect(gone).toBeInstanceOf(Error);
  });
});
