/**
 * vitest globalSetup of the integration project: chooses the PostgreSQL server and builds one
 * migrated template database that every test file clones (test/helpers/db.ts).
 *
 * Server choice (issue 2 §7):
 * 1. REGDB_TEST_DATABASE_URL when set;
 * 2. Testcontainers when REGDB_TEST_CONTAINERS=1 and a Docker engine answers;
 * 3. the server on 127.0.0.1:5432 (user postgres) when it answers, unless REGDB_TEST_EMBEDDED=1;
 * 4. an embedded PostgreSQL in a temporary directory.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { urlFor, type TestServerInfo } from './server.js';
import { buildRunTemplate, cachedTemplate } from './template.js';
import { ensureBuilt } from './build.js';

const LOCAL_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

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
  project.provide('regdbServer', { ...chosen.info, template, prefix });

  return async () => {
    await dropByPrefix(adminUrl, prefix);
    await chosen.stop();
  };
}
