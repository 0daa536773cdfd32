/**
 * vitest globalSetup of the integration project: chooses the PostgreSQL server and builds one
 * migrated template database that every test file clones (test/helpers/db.ts).
 *
 * Server choice (issue 2 §7):
 * 1. REGDB_TEST_DATABASE_URL when set;
 * 2. Testcontainers when REGDB_TEST_CONTAINERS=1 and a Docker engine answers;
 * 3. the server on 127.0.0.1:5432 (user postgres) when it answers, unless REGDB_TEST_EMBEDDED=1;
 * 4. an embedded PostgreSQL in a temporary directory.
 *
 * On the local, embedded and container servers the tests then connect as SCRAM_ROLE, a role that
 * must authenticate with a SCRAM-SHA-256 password (issue 11 §1): every connection regdb opens in a
 * test sends a password, so a code path that loses it fails the tests. On the local server (trust
 * auth for everyone else) that takes a pg_hba.conf line for this role only, added once and reloaded.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { urlFor, type TestServerInfo } from './server.js';
import { buildRunTemplate, cachedTemplate } from './template.js';
import { ensureBuilt } from './build.js';

const LOCAL_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/**
 * The tests' role and its password. A fixed password, not a random one: several test runs share the
 * local server at once, and a run setting a new password would lock the others out. It is no secret
 * (the role exists on test servers only, reachable on the loopback); the tests check that it never
 * appears in regdb's output.
 */
export const SCRAM_ROLE = 'regdb_scram_test';
export const SCRAM_PASSWORD = 'regdb-scram-test-9c41e2';
const HBA_LINE = `host all ${SCRAM_ROLE} 127.0.0.1/32 scram-sha-256`;
/** pg_advisory_lock key serialising the role and pg_hba.conf set-up between runs ("regdbscr"). */
const SCRAM_LOCK_KEY = 0x7265_6764_6273_6372n;
/** SQLSTATE 28P01 invalid_password. */
const INVALID_PASSWORD = '28P01';

interface Chosen {
  info: Omit<TestServerInfo, 'template' | 'prefix'>;
  stop: () => Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function startContainer(): Promise<Chosen | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
  } catch {
    process.stderr.write(
      'regdb tests: REGDB_TEST_CONTAINERS=1 but no Docker engine answers; not using containers\n',
    );
    return undefined;
  }
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const container = await new PostgreSqlContainer('postgres:17').start();
  return {
    info: { adminUrl: urlFor(container.getConnectionUri(), 'postgres'), source: 'container' },
    stop: async () => {
      await container.stop();
    },
  };
}

async function startEmbeddedServer(): Promise<Chosen> {
  const dir = await mkdtemp(join(tmpdir(), 'regdb-test-pg-'));
  // As root the server runs as "postgres", which must enter the folder.
  await chmod(dir, 0o755);
  const password = randomBytes(12).toString('hex');
  const server: EmbeddedServer = await startEmbedded({
    kind: 'embedded',
    dataDir: join(dir, 'pgdata'),
    port: 0,
    user: 'postgres',
    password,
    dbname: 'postgres',
    pool: {},
  });
  return {
    info: {
      adminUrl: `postgresql://postgres:${password}@${server.host}:${server.port}/postgres`,
      source: 'embedded',
    },
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function chooseServer(): Promise<Chosen> {
  const url = process.env.REGDB_TEST_DATABASE_URL;
  if (url !== undefined && url !== '')
    return { info: { adminUrl: url, source: 'url' }, stop: async () => {} };
  if (process.env.REGDB_TEST_CONTAINERS === '1') {
    const c = await startContainer();
    if (c !== undefined) return c;
  }
  if (process.env.REGDB_TEST_EMBEDDED !== '1' && (await answers(LOCAL_URL))) {
    return { info: { adminUrl: LOCAL_URL, source: 'local' }, stop: async () => {} };
  }
  return startEmbeddedServer();
}

async function adminQuery(adminUrl: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

function withCredentials(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** The error a connection with these credentials gets, or undefined when it connects. */
async function connectError(url: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Puts HBA_LINE first in the local server's pg_hba.conf (once) and reloads the configuration. */
async function ensureHbaLine(admin: pg.Client): Promise<void> {
  const file = (await admin.query<{ f: string }>('SELECT current_setting($1) AS f', ['hba_file'])).rows[0]!.f;
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw new Error(
      `the tests need a SCRAM line for ${SCRAM_ROLE} in ${file}, which this user cannot read; ` +
        `add "${HBA_LINE}" above the trust lines and reload PostgreSQL`,
      { cause: err },
    );
  });
  if (!text.split('\n').some((l) => l.trim().replace(/\s+/g, ' ') === HBA_LINE)) {
    const header = '# regdb tests (test/helpers/global-setup.ts): this role must send a SCRAM password\n';
    await writeFile(file, `${header}${HBA_LINE}\n${text}`);
  }
  await admin.query('SELECT pg_reload_conf()');
  const bad = await admin.query<{ line_number: number; error: string }>(
    'SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL',
  );
  if (bad.rows.length > 0) throw new Error(`${file} has errors: ${JSON.stringify(bad.rows)}`);
}

/**
 * Creates SCRAM_ROLE (a superuser, so it may create and drop the test databases) with its SCRAM
 * password, and proves the server demands it: a wrong password must be refused. Returns its URL.
 */
async function ensureScramRole(chosen: Chosen): Promise<string> {
  const { adminUrl, source } = chosen.info;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('SELECT pg_advisory_lock($1)', [SCRAM_LOCK_KEY.toString()]);
    await admin.query(`SET password_encryption = 'scram-sha-256'`);
    await admin.query(`DO $$ BEGIN
        CREATE ROLE ${SCRAM_ROLE};
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END $$`);
    await admin.query(
      `ALTER ROLE ${SCRAM_ROLE} WITH LOGIN SUPERUSER PASSWORD ${pg.escapeLiteral(SCRAM_PASSWORD)}`,
    );
    if (source === 'local') await ensureHbaLine(admin);
  } finally {
    await admin.end();
  }
  const url = withCredentials(adminUrl, SCRAM_ROLE, SCRAM_PASSWORD);
  // pg_reload_conf() only signals the server: new rules apply within moments.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const wrong = await connectError(withCredentials(adminUrl, SCRAM_ROLE, 'not-the-password'));
    const right = await connectError(url);
    if ((wrong as { code?: string } | undefined)?.code === INVALID_PASSWORD && right === undefined)
      return url;
    if (Date.now() > deadline) {
      throw new Error(
        `${SCRAM_ROLE} on the ${source} server: a wrong password gave ${String(wrong)}, ` +
          `the right one ${String(right)}; expected the wrong one refused (28P01) and the right one accepted`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function dropByPrefix(adminUrl: string, prefix: string): Promise<void> {
  const { rows } = await adminQuery(
    adminUrl,
    'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
    [prefix],
  );
  for (const { datname } of rows as { datname: string }[]) {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  // Process tests run dist/ (cli.ts): never a stale build.
  ensureBuilt();
  const chosen = await chooseServer();
  const { adminUrl } = chosen.info;
  const prefix = `regdb_t${Date.now().toString(36)}${randomBytes(2).toString('hex')}_`;
  let template = `${prefix}template`;
  let note = 'migrated';
  try {
    if (chosen.info.source === 'local') {
      const cached = await cachedTemplate(adminUrl);
      template = cached.name;
      note = cached.built ? 'migrated (cached for later runs)' : 'reused cached';
    } else {
      await buildRunTemplate(adminUrl, template);
    }
  } catch (err) {
    await dropByPrefix(adminUrl, prefix).catch(() => undefined);
    await chosen.stop();
    throw new Error(`integration test set-up failed on the ${chosen.info.source} server`, { cause: err });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(
    `regdb tests: ${chosen.info.source} PostgreSQL, ${note} template ${template} in ${seconds}s\n`,
  );
  // Tests connect as the SCRAM role; a server given by URL is used as given.
  let testUrl = adminUrl;
  if (chosen.info.source !== 'url') {
    try {
      testUrl = await ensureScramRole(chosen);
    } catch (err) {
      await dropByPrefix(adminUrl, prefix).catch(() => undefined);
      await chosen.stop();
      throw new Error(`integration test set-up failed on the ${chosen.info.source} server`, { cause: err });
    }
  }
  project.provide('regdbServer', { ...chosen.info, adminUrl: testUrl, template, prefix });

  return async () => {
    await dropByPrefix(adminUrl, prefix);
    await chosen.stop();
  };
}
