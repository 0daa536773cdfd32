/**
 * The migrator's library API as other commands use it: pendingMigrations (the importer's check,
 * spec §2.18) and migrateUp's dry run and plan callback.
 */
import { describe, expect, it } from 'vitest';
import { migrateUp, pendingMigrations } from '../../src/db/migrator.js';
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
