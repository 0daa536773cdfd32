/**
 * The migrator's library API as other commands use it: pendingMigrations (the importer's check,
 * spec §2.18) and migrateUp's dry run and plan callback.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { ensureBackgroundMigrations } from '../../src/db/migration-bbm.js';
import { parseMigrationFile } from '../../src/db/migration-files.js';
import { migrateUp, pendingMigrations } from '../../src/db/migrator.js';
import { silentLogger } from '../../src/log.js';
import { emptyDatabase, freshDatabase } from '../helpers/db.js';
import { postIds, preIds, userTables } from './migrate-support.js';

describe('pendingMigrations', () => {
  it('lists everything on an empty database without creating anything', async () => {
    const db = await emptyDatabase();
    try {
      expect(await pendingMigrations(db.pool)).toEqual({ pre: preIds, post: postIds });
      expect(await userTables(db.pool)).toBe(0);
      const plans: [string, readonly string[]][] = [];
      const result = await migrateUp(db.pool, {
        dryRun: true,
        onPlan: (kind, ids) => plans.push([kind, ids]),
      });
      expect(plans).toEqual([
        ['pre', preIds],
        ['post', postIds],
      ]);
      expect(result.applied).toEqual({ pre: 0, post: 0 });
      expect(await userTables(db.pool)).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it('is empty on a migrated database, and on one GitLab migrated to the baseline point', async () => {
    const db = await freshDatabase();
    try {
      expect(await pendingMigrations(db.pool)).toEqual({ pre: [], post: [] });
      await db.pool.query('DELETE FROM schema_migrations WHERE id = ANY($1)', [preIds]);
      expect(await pendingMigrations(db.pool)).toEqual({ pre: [], post: [] });
      await db.pool.query(`DELETE FROM post_deploy_schema_migrations`);
      expect(await pendingMigrations(db.pool)).toEqual({ pre: [], post: postIds });
    } finally {
      await db.drop();
    }
  });
});

describe('ensureBackgroundMigrations', () => {
  const BBM = 'copy_manifests_media_type_id_column_to_media_type_id_convert_to_bigint_column';
  const m = parseMigrationFile(
    '20990101000000_regdb_needs_bbm',
    'pre',
    'x.sql',
    `-- regdb:requires-bbm ${BBM}\n-- regdb:up\n-- regdb:down\n`,
  );

  it('refuses to run background migrations through a one-connection pool instead of deadlocking', async () => {
    const db = await freshDatabase();
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const client = await pool.connect();
    let ran = false;
    try {
      await expect(
        ensureBackgroundMigrations(pool, client, m, {
          newInstall: true,
          logger: silentLogger,
          run: async () => {
            ran = true;
            return { finished: 0 };
          },
        }),
      ).rejects.toThrow(
        'schema migration: 20990101000000_regdb_needs_bbm needs background migrations run, which needs a pool ' +
          'of at least 2 connections: raise database.pool.maxopen (now 1)',
      );
      expect(ran).toBe(false);
    } finally {
      client.release();
      await pool.end();
      await db.drop();
    }
  });

  it('returns 0 without running anything when they are finished', async () => {
    const db = await freshDatabase();
    const client = await db.pool.connect();
    try {
      await client.query('UPDATE batched_background_migrations SET status = 2 WHERE name = $1', [BBM]);
      const finished = await ensureBackgroundMigrations(db.pool, client, m, {
        newInstall: false,
        logger: silentLogger,
        run: () => Promise.reject(new Error('must not run')),
      });
      expect(finished).toBe(0);
    } finally {
      client.release();
      await db.drop();
    }
  });
});
