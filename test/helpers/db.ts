/**
 * A database per test (file): `freshDatabase()` clones the migrated template built by
 * global-setup.ts, `emptyDatabase()` gives an unmigrated one for migration tests. Both are dropped
 * by `drop()` (and, should a test crash, by the global teardown).
 */
import pg from 'pg';
import { inject } from 'vitest';
import type { ServerDatabaseConfig } from '../../src/config/types.js';
import { openDatabase } from '../../src/db/open.js';
import { configFromUrl, urlFor, type TestServerInfo } from './server.js';

/** SQLSTATE 55006 object_in_use: the template is briefly in use by another clone. */
const OBJECT_IN_USE = '55006';

export interface TestDatabase {
  name: string;
  /** postgresql:// URL (with the test server's credentials). */
  url: string;
  pool: pg.Pool;
  config: ServerDatabaseConfig;
  drop(): Promise<void>;
}

let counter = 0;

export function testServer(): TestServerInfo {
  return inject('regdbServer');
}

/** Connection settings of the test server's administrator (a role that may create databases). */
export function adminConfig(dbname?: string): ServerDatabaseConfig {
  return configFromUrl(testServer().adminUrl, dbname);
}

/** Runs one statement as the administrator on the maintenance database. */
export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: testServer().adminUrl });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** A new unique database name of this run (dropped by the global teardown if a test forgets). */
export function uniqueName(label = 'db'): string {
  counter += 1;
  return `${testServer().prefix}${label}_${process.pid}_${counter}`;
}

async function create(name: string, template: string | undefined): Promise<void> {
  const sql =
    `CREATE DATABASE ${pg.escapeIdentifier(name)}` +
    (template !== undefined ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : '');
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(sql);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== OBJECT_IN_USE || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

async function open(name: string): Promise<TestDatabase> {
  const server = testServer();
  const config = configFromUrl(server.adminUrl, name);
  const db = await openDatabase(config);
  let dropped = false;
  return {
    name,
    url: urlFor(server.adminUrl, name),
    pool: db.pool,
    config,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await db.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
}

/** A freshly migrated database, cloned from the template. */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = uniqueName('fresh');
  await create(name, testServer().template);
  return open(name);
}

/** An empty, unmigrated database (for migration tests). */
export async function emptyDatabase(): Promise<TestDatabase> {
  const name = uniqueName('empty');
  await create(name, undefined);
  return open(name);
}
