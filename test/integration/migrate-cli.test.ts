/**
 * `regdb database migrate down|status|new` end to end: the real CLI against real PostgreSQL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMigrations, parseMigrationFile } from '../../src/db/migration-files.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import {
  migrationsWith,
  postIds,
  preIds,
  recorded,
  regdb,
  summary,
  userTables,
  writeConfig,
} from './migrate-support.js';
import { testWork } from '../helpers/work.js';

const work = testWork('migrate-cli');
const configFor = (db: TestDatabase): string => writeConfig(work.sub(), db.config);

const PROMPT = 'Preparing to apply the above down migrations. Are you sure? [y/N] ';
const lastPost = postIds.at(-1) as string;

describe('migrate down asks first', () => {
  it('n leaves everything as it was and exits 0', async () => {
    const db = await freshDatabase();
    try {
      const res = await regdb(['database', 'migrate', 'down', '-p', '1', configFor(db)], { input: 'n\n' });
      expect(res).toEqual({ code: 0, stdout: `post-deployment:\n${lastPost}\n${PROMPT}`, stderr: '' });
      expect(await recorded(db.pool, 'post_deploy_schema_migrations')).toHaveLength(10 + postIds.length);
    } finally {
      await db.drop();
    }
  });

  it('EOF on standard input is an error, not a yes', async () => {
    const db = await freshDatabase();
    try {
      const res = await regdb(['database', 'migrate', 'down', '-p', '1', configFor(db)], { input: '' });
      expect(res).toEqual({
        code: 1,
        stdout: `post-deployment:\n${lastPost}\n${PROMPT}`,
        stderr: 'regdb: failed to scan user input: EOF\n',
      });
      expect(await recorded(db.pool, 'post_deploy_schema_migrations')).toHaveLength(10 + postIds.length);
    } finally {
      await db.drop();
    }
  });

  it('y reverts; the post baseline also removes the GitLab post-deployment IDs', async () => {
    const db = await freshDatabase();
    try {
      const config = configFor(db);
      const dry = await regdb(['database', 'migrate', 'down', '-d', '-p', '1', config]);
      expect([dry.code, dry.stdout]).toEqual([0, `post-deployment:\n${lastPost}\n`]);
      const res = await regdb(['database', 'migrate', 'down', '-p', '1', config], { input: 'y\n' });
      expect([res.code, res.stderr]).toEqual([0, '']);
      expect(res.stdout).toMatch(
        new RegExp(
          `^post-deployment:\\n${lastPost}\\n${PROMPT.replace(/[?[\]]/g, '\\$&')}` +
            'OK: applied 1 post-deployment migration\\(s\\) in \\d+\\.\\d{3}s\\n$',
        ),
      );
      // GitLab's 10 post-deployment IDs went with the post baseline (the last post migration).
      expect(await recorded(db.pool, 'post_deploy_schema_migrations')).toEqual(postIds.slice(0, -1));
      const index = await db.pool.query(`SELECT to_regclass('public.index_manifests_on_id') AS i`);
      expect(index.rows[0].i).toBeNull();
      expect(await recorded(db.pool, 'schema_migrations')).toHaveLength(184 + preIds.length);
    } finally {
      await db.drop();
    }
  });
});

describe('up -> down -> up', () => {
  it('down -f reverts everything (post first) and up rebuilds it', async () => {
    const db = await freshDatabase();
    try {
      const config = configFor(db);
      const down = await regdb(['database', 'migrate', 'down', '-f', config]);
      expect([down.code, down.stderr]).toEqual([0, '']);
      const reversed = (ids: string[]): string => [...ids].reverse().join('\n');
      expect(down.stdout).toMatch(
        new RegExp(
          `^post-deployment:\\n${reversed(postIds)}\\npre-deployment:\\n${reversed(preIds)}\\n` +
            `OK: applied ${postIds.length} post-deployment migration\\(s\\) in \\d+\\.\\d{3}s\\n` +
            `OK: applied ${preIds.length} pre-deployment migration\\(s\\) in \\d+\\.\\d{3}s\\n$`,
        ),
      );
      expect(await recorded(db.pool, 'schema_migrations')).toEqual([]);
      expect(await recorded(db.pool, 'post_deploy_schema_migrations')).toEqual([]);
      // Only the two bookkeeping tables are left.
      expect(await userTables(db.pool)).toBe(2);
      const version = await regdb(['database', 'migrate', 'version', config]);
      expect(version.stdout).toBe('pre-deployment:Unknown\npost-deployment:Unknown\n');

      const up = await regdb(['database', 'migrate', 'up', config]);
      expect([up.code, up.stderr]).toEqual([0, '']);
      expect(summary(up.stdout)).toBe(
        `OK: applied ${preIds.length} pre-deployment migration(s), ${postIds.length} post-deployment migration(s) and 0 background migration(s) in Ss`,
      );
      expect(await recorded(db.pool, 'schema_migrations')).toHaveLength(184 + preIds.length);
      const partitions = await db.pool.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'partitions'`,
      );
      expect(partitions.rows[0].n).toBe(512);
    } finally {
      await db.drop();
    }
  });
});

/** One table row as tablewriter draws it. */
function row(cells: string[], widths: number[]): string {
  return '│' + cells.map((c, i) => ` ${c.padEnd(widths[i] as number)} `).join('│') + '│';
}

function box(rows: string[][]): string {
  const widths = [0, 1].map((i) => Math.max(i === 0 ? 9 : 7, ...rows.map((r) => (r[i] as string).length)));
  const rule = (l: string, m: string, r: string): string =>
    l + widths.map((w) => '─'.repeat(w + 2)).join(m) + r;
  const centre = (s: string, w: number): string => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  return [
    rule('┌', '┬', '┐'),
    '│' + ['MIGRATION', 'APPLIED'].map((h, i) => ` ${centre(h, widths[i] as number)} `).join('│') + '│',
    rule('├', '┼', '┤'),
    ...rows.map((r) => row(r, widths)),
    rule('└', '┴', '┘'),
  ].join('\n');
}

describe('migrate status', () => {
  it('prints one table per kind: applied, pending and unknown migrations', async () => {
    const db = await freshDatabase();
    try {
      const config = configFor(db);
      const migrations = migrationsWith(join(work.path, 'status'), {
        'pre/20260102000000_regdb_pending_one.sql': '-- regdb:up\nSELECT 1;\n-- regdb:down\nSELECT 1;\n',
      });
      await db.pool.query(`UPDATE schema_migrations SET applied_at = '2026-01-02 03:04:05.123456+00'`);
      await db.pool.query(`UPDATE post_deploy_schema_migrations SET applied_at = '2026-01-02 03:04:06.5+00'`);
      await db.pool.query(
        `INSERT INTO schema_migrations VALUES ('20990101000000_from_the_future', '2026-01-02 03:04:07+00')`,
      );
      const res = await regdb(['database', 'migrate', 'status', config], {
        env: { REGDB_MIGRATIONS_DIR: migrations },
      });
      expect([res.code, res.stderr]).toEqual([0, '']);
      const pre = [
        ...preIds.map((id) => [id, '2026-01-02 03:04:05.123456 +0000 UTC']),
        ['20260102000000_regdb_pending_one', ''],
        ['20990101000000_from_the_future (unknown)', '2026-01-02 03:04:07 +0000 UTC'],
      ];
      const post = postIds.map((id) => [id, '2026-01-02 03:04:06.5 +0000 UTC']);
      expect(res.stdout).toBe(`pre-deployment\n${box(pre)}\npost-deployment\n${box(post)}\n`);
      // The literal shape, for the reader (and in case box() were wrong in the same way as the code).
      expect(res.stdout.split('\n')[1]).toMatch(/^┌─+┬─+┐$/);
      expect(res.stdout.split('\n')[2]).toMatch(/^│ +MIGRATION +│ +APPLIED +│$/);

      const skipped = await regdb(['database', 'migrate', 'status', '-s', config], {
        env: { REGDB_MIGRATIONS_DIR: migrations },
      });
      expect(skipped.stdout).toBe(`pre-deployment\n${box(pre)}\n`);
      const upToDate = await regdb(['database', 'migrate', 'status', '-u', config], {
        env: { REGDB_MIGRATIONS_DIR: migrations },
      });
      expect(upToDate.stdout).toBe('false\n');
      expect((await regdb(['database', 'migrate', 'status', '-u', config])).stdout).toBe('true\n');
    } finally {
      await db.drop();
    }
  });
});

describe('migrate new', () => {
  it('creates a timestamped file from the template that the migrator loads', async () => {
    const target = join(work.path, 'new');
    const env = { REGDB_MIGRATIONS_DIR: target };
    const pre = await regdb(['database', 'migrate', 'new', 'add_widgets'], { env });
    expect([pre.code, pre.stderr]).toEqual([0, '']);
    const [file] = readdirSync(join(target, 'pre'));
    expect(file).toMatch(/^\d{14}_regdb_add_widgets\.sql$/);
    expect(pre.stdout).toBe(`${join(target, 'pre', file as string)}\n`);
    const post = await regdb(['database', 'migrate', 'new', '--post-deployment', 'index_widgets'], { env });
    expect(post.code).toBe(0);
    expect(loadMigrations(target, 'pre').map((m) => m.id)).toEqual([(file as string).slice(0, -4)]);
    const [postMigration] = loadMigrations(target, 'post');
    expect(postMigration?.id).toMatch(/^\d{14}_regdb_index_widgets$/);
    expect(postMigration?.noTransaction).toEqual({ up: true, down: true });
    const text = readFileSync(join(target, 'pre', file as string), 'utf8');
    expect(() => parseMigrationFile((file as string).slice(0, -4), 'pre', 'x', text)).not.toThrow();
  });

  it('rejects a bad name with exit status 2', async () => {
    const res = await regdb(['database', 'migrate', 'new', 'Add-Widgets'], {
      env: { REGDB_MIGRATIONS_DIR: join(work.path, 'new-bad') },
    });
    expect(res).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'regdb: invalid migration name "Add-Widgets": use lower-case letters, digits and underscores, starting with a letter\n',
    });
  });
});
