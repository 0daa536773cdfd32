/**
 * A transactional migration that PostgreSQL aborts to break a deadlock (SQLSTATE 40P01) is rolled
 * back whole and retried, so `migrate up` still succeeds (src/db/migration-run.ts).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freshDatabase } from '../helpers/db.js';
import { testWork } from '../helpers/work.js';
import { migrationsWith, recorded, regdb, summary, writeConfig } from './migrate-support.js';

const work = testWork('migrate-retry');

const ID = '20990101000000_regdb_deadlock_victim';

describe('a migration chosen as a deadlock victim', () => {
  it('is retried and applied once', async () => {
    const db = await freshDatabase();
    const other = new pg.Client({ connectionString: db.url });
    try {
      await db.pool.query('CREATE TABLE lock_a (x int); CREATE TABLE lock_b (x int)');
      // Takes lock_a, then (after the other session queued behind it) lock_b, which the other
      // session holds: a cycle. The other session started waiting first and found no cycle at its
      // one deadlock check, so the migration's own check a second later makes it the victim.
      const migrations = migrationsWith(join(work.path, 'm'), {
        [`pre/${ID}.sql`]:
          '-- regdb:up\nLOCK TABLE lock_a IN ACCESS EXCLUSIVE MODE;\nSELECT pg_sleep(5);\n' +
          'LOCK TABLE lock_b IN ACCESS EXCLUSIVE MODE;\nINSERT INTO lock_a VALUES (1);\n' +
          '-- regdb:down\nDELETE FROM lock_a;\n',
      });
      const config = writeConfig(work.sub('c'), db.config);

      await other.connect();
      await other.query('BEGIN');
      await other.query('LOCK TABLE lock_b IN ACCESS EXCLUSIVE MODE');
      const run = regdb(['database', 'migrate', 'up', config], {
        env: { REGDB_MIGRATIONS_DIR: migrations, REGDB_LOG_LEVEL: 'warn' },
      });
      const heldByMigration = async (): Promise<boolean> => {
        const res = await db.pool.query(
          `SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE c.relname = 'lock_a' AND l.granted AND l.mode = 'AccessExclusiveLock'`,
        );
        return res.rowCount === 1;
      };
      for (let i = 0; i < 600 && !(await heldByMigration()); i++) await sleep(50);
      expect(await heldByMigration()).toBe(true);
      // Waits until the migration's transaction is rolled back by the deadlock detector.
      await other.query('LOCK TABLE lock_a IN ACCESS EXCLUSIVE MODE');
      await other.query('COMMIT');

      const res = await run;
      expect(res.code).toBe(0);
      expect(summary(res.stdout)).toBe(
        'OK: applied 1 pre-deployment migration(s), 0 post-deployment migration(s) and 0 background migration(s) in Ss',
      );
      const warnings = res.stderr
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { msg: string; migration: string; sqlstate: string });
      expect(warnings.map((w) => [w.msg, w.migration, w.sqlstate])).toEqual([
        ['migration rolled back for a transient reason; retrying', ID, '40P01'],
      ]);
      expect(await recorded(db.pool, 'schema_migrations')).toContain(ID);
      expect((await db.pool.query('SELECT x FROM lock_a')).rows).toEqual([{ x: 1 }]);
    } finally {
      await other.end().catch(() => undefined);
      await db.drop();
    }
  });
});
