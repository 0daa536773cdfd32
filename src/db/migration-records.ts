/**
 * The bookkeeping tables GitLab's sql-migrate uses (spec §3.5): `schema_migrations` (pre-deployment)
 * and `post_deploy_schema_migrations` (post-deployment), `id text PRIMARY KEY, applied_at timestamptz`.
 * Names are unqualified, as GitLab's, so both tools find them through the same search_path.
 */
import type pg from 'pg';
import type { MigrationKind } from './migration-files.js';

export const RECORD_TABLES: Readonly<Record<MigrationKind, string>> = {
  pre: 'schema_migrations',
  post: 'post_deploy_schema_migrations',
};

/** Applied IDs and their applied_at as UTC text with microseconds (`YYYY-MM-DD HH24:MI:SS.US`). */
export type AppliedRecords = ReadonlyMap<string, string | null>;

export async function ensureRecordTable(client: pg.ClientBase, kind: MigrationKind): Promise<void> {
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${RECORD_TABLES[kind]} (id text NOT NULL PRIMARY KEY, applied_at timestamptz)`,
  );
}

/** Reads the table without creating it: a missing table means nothing is applied (dry runs leave no trace). */
export async function readApplied(client: pg.ClientBase, kind: MigrationKind): Promise<AppliedRecords> {
  const table = RECORD_TABLES[kind];
  const exists = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [
    table,
  ]);
  if (!exists.rows[0]?.found) return new Map();
  const res = await client.query<{ id: string; applied_at: string | null }>(
    `SELECT id, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS applied_at FROM ${table}`,
  );
  return new Map(res.rows.map((r) => [r.id, r.applied_at]));
}

/**
 * Records IDs as applied. `applied_at` is `clock_timestamp()`: the moment of recording, with the
 * microseconds GitLab's `time.Now()` would give (spec §3.5). Already recorded IDs are left alone.
 */
export async function insertRecords(
  client: pg.ClientBase,
  kind: MigrationKind,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  await client.query(
    `INSERT INTO ${RECORD_TABLES[kind]} (id, applied_at) SELECT unnest($1::text[]), clock_timestamp() ON CONFLICT (id) DO NOTHING`,
    [ids],
  );
}

/** Records one ID as applied; fails if it already is (the plan said it was pending). */
export async function insertRecord(client: pg.ClientBase, kind: MigrationKind, id: string): Promise<void> {
  await client.query(`INSERT INTO ${RECORD_TABLES[kind]} (id, applied_at) VALUES ($1, clock_timestamp())`, [
    id,
  ]);
}

export async function deleteRecords(
  client: pg.ClientBase,
  kind: MigrationKind,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  await client.query(`DELETE FROM ${RECORD_TABLES[kind]} WHERE id = ANY($1::text[])`, [ids]);
}
