/**
 * `regdb database migrate up` end to end: the real CLI against real PostgreSQL databases.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitlabMigrationIds } from '../../src/db/gitlab-baseline.js';
import { emptyDatabase, freshDatabase, type TestDatabase } from '../helpers/db.js';
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

const gitlab = gitlabMigrationIds();
const work = testWork('migrate-up');
const configFor = (db: TestDatabase): string => writeConfig(work.sub(), db.config);

describe('migrate up on an empty database', () => {
  let db: TestDatabase;
  let config: string;
  beforeAll(async () => {
    db = await emptyDatabase();
    config = configFor(db);
  });
  afterAll(async () => db.drop());

  it('dry run prints the plan and leaves no trace', async () => {
    const res = await regdb(['database', 'migrate', 'up', '--dry-run', config]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      `pre-deployment:\n${preIds.map((id) => `${id}\n`).join('')}` +
        `post-deployment:\n${postIds.map((id) => `${id}\n`).join('')}`,
    );
    expect(await userTables(db.pool)).toBe(0);
    const schemas = await db.pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'partitions'`);
    expect(schemas.rowCount).toBe(0);
  });

  it('version prints Unknown for both kinds without creating anything', async () => {
    const res = await regdb(['database', 'migrate', 'version', config]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('pre-deployment:Unknown\npost-deployment:Unknown\n');
    expect(await userTables(db.pool)).toBe(0);
  });

  it('applies the baseline, records the GitLab IDs and prints the summary', async () => {
    const res = await regdb(['database', 'migrate', 'up', config]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      new RegExp(
        `^pre-deployment:\\n${preIds.join('\\n')}\\npost-deployment:\\n${postIds.join('\\n')}\\n` +
          `OK: applied ${preIds.length} pre-deployment migration\\(s\\), ${postIds.length} post-deployment ` +
          `migration\\(s\\) and 0 background migration\\(s\\) in \\d+\\.\\d{3}s\\n$`,
      ),
    );
    const pre = await recorded(db.pool, 'schema_migrations');
    const post = await recorded(db.pool, 'post_deploy_schema_migrations');
    expect(pre).toEqual([...gitlab.pre, ...preIds].sort());
    expect(pre).toHaveLength(184 + preIds.length);
    expect(post).toEqual([...gitlab.post, ...postIds].sort());
    expect(post).toHaveLength(10 + postIds.length);
    const partitions = await db.pool.query(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'partitions'`,
    );
    expect(partitions.rows[0].n).toBe(512);
  });

  it('a second up applies nothing and still prints the summary', async () => {
    const res = await regdb(['database', 'migrate', 'up', config]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^OK: applied 0 pre-deployment migration\(s\), 0 post-deployment migration\(s\) and 0 background migration\(s\) in \d+\.\d{3}s\n$/,
    );
  });

  it('version prints the highest applied regdb IDs', async () => {
    const res = await regdb(['database', 'migrate', 'version', config]);
    expect(res.stdout).toBe(`pre-deployment:${preIds.at(-1)}\npost-deployment:${postIds.at(-1)}\n`);
  });
});

describe('migrate up with two processes at the same moment', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await emptyDatabase();
  });
  afterAll(async () => db.drop());

  it('both exit 0 and every migration is applied once', async () => {
    const config = configFor(db);
    const [a, b] = await Promise.all([
      regdb(['database', 'migrate', 'up', config]),
      regdb(['database', 'migrate', 'up', config]),
    ]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, '', '']);
    const lines = [summary(a.stdout), summary(b.stdout)].sort();
    expect(lines).toEqual([
      'OK: applied 0 pre-deployment migration(s), 0 post-deployment migration(s) and 0 background migration(s) in Ss',
      `OK: applied ${preIds.length} pre-deployment migration(s), ${postIds.length} post-deployment migration(s) and 0 background migration(s) in Ss`,
    ]);
    expect(await recorded(db.pool, 'schema_migrations')).toHaveLength(184 + preIds.length);
    expect(await recorded(db.pool, 'post_deploy_schema_migrations')).toHaveLength(10 + postIds.length);
  });
});

describe('migrate up with SKIP_POST_DEPLOYMENT_MIGRATIONS, then status -u', () => {
  let db: TestDatabase;
  let config: string;
  beforeAll(async () => {
    db = await emptyDatabase();
    config = configFor(db);
  });
  afterAll(async () => db.drop());

  it('applies pre-deployment migrations only', async () => {
    const res = await regdb(['database', 'migrate', 'up', config], {
      env: { SKIP_POST_DEPLOYMENT_MIGRATIONS: 'true' },
    });
    expect(res.code).toBe(0);
    expect(res.stdout.startsWith(`pre-deployment:\n${preIds.join('\n')}\nOK: `)).toBe(true);
    expect(summary(res.stdout)).toBe(
      `OK: applied ${preIds.length} pre-deployment migration(s), 0 post-deployment migration(s) and 0 background migration(s) in Ss`,
    );
    expect(await recorded(db.pool, 'schema_migrations')).toHaveLength(184 + preIds.length);
    const post = await db.pool.query(`SELECT to_regclass('post_deploy_schema_migrations') AS t`);
    expect(post.rows[0].t).toBeNull();
  });

  it('status -u is false while a post-deployment migration is pending, true with -s', async () => {
    expect((await regdb(['database', 'migrate', 'status', '-u', config])).stdout).toBe('false\n');
    expect((await regdb(['database', 'migrate', 'status', '-u', '-s', config])).stdout).toBe('true\n');
  });

  it('-p alone applies post-deployment migrations; then status -u is true', async () => {
    const res = await regdb(['database', 'migrate', 'up', '-p', '1', config]);
    expect(res.code).toBe(0);
    expect(res.stdout.startsWith(`post-deployment:\n${postIds[0]}\nOK: `)).toBe(true);
    expect(summary(res.stdout)).toBe(
      'OK: applied 0 pre-deployment migration(s), 1 post-deployment migration(s) and 0 background migration(s) in Ss',
    );
    expect((await regdb(['database', 'migrate', 'status', '-u', config])).stdout).toBe('true\n');
  });

  it('-s with -p selects nothing; both limits need to be >= 1 (exit 2)', async () => {
    const nothing = await regdb(['database', 'migrate', 'up', '-s', '-p', '1', config]);
    expect(nothing.code).toBe(0);
    expect(summary(nothing.stdout)).toBe(
      'OK: applied 0 pre-deployment migration(s), 0 post-deployment migration(s) and 0 background migration(s) in Ss',
    );
    const both = await regdb(['database', 'migrate', 'up', '-n', '0', '-p', '1', config]);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe(
      'regdb: both pre and post migration limits must be greater than or equal to 1\n',
    );
  });
});

describe('interoperability with GitLab-migrated databases', () => {
  it('adopts a database GitLab migrated to the baseline point without running the baseline', async () => {
    const db = await freshDatabase();
    try {
      // The template's schema is what GitLab's migrations build; keep only GitLab's records.
      await db.pool.query('DELETE FROM schema_migrations WHERE id = ANY($1)', [preIds]);
      await db.pool.query('DELETE FROM post_deploy_schema_migrations WHERE id = ANY($1)', [postIds]);
      const config = configFor(db);
      const version = await regdb(['database', 'migrate', 'version', config]);
      expect(version.stdout).toBe(
        `pre-deployment:${gitlab.pre.at(-1)}\npost-deployment:${gitlab.post.at(-1)}\n`,
      );
      const res = await regdb(['database', 'migrate', 'up', config]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(
        /^OK: applied 0 pre-deployment migration\(s\), 0 post-deployment migration\(s\) and 0 background migration\(s\) in \d+\.\d{3}s\n$/,
      );
      expect(await recorded(db.pool, 'schema_migrations')).toEqual([...gitlab.pre, ...preIds].sort());
      expect(await recorded(db.pool, 'post_deploy_schema_migrations')).toEqual(
        [...gitlab.post, ...postIds].sort(),
      );
    } finally {
      await db.drop();
    }
  });

  it('refuses an older GitLab schema, naming the last GitLab ID found and what to do', async () => {
    const db = await emptyDatabase();
    try {
      await db.pool.query('CREATE TABLE schema_migrations (id text PRIMARY KEY, applied_at timestamptz)');
      const older = gitlab.pre.slice(0, 120);
      await db.pool.query('INSERT INTO schema_migrations SELECT unnest($1::text[]), now()', [older]);
      const res = await regdb(['database', 'migrate', 'up', configFor(db)]);
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe(
        `regdb: failed to run database migrations: this database was migrated by GitLab's container registry ` +
          `only up to pre-deployment migration ${older.at(-1)}, older than the schema regdb builds on ` +
          `(${gitlab.pre.at(-1)}): upgrade it with GitLab's \`registry database migrate up\` to ` +
          `${gitlab.pre.at(-1)}, or start from an empty database\n`,
      );
      expect(await userTables(db.pool)).toBe(1);
    } finally {
      await db.drop();
    }
  });

  it('an ID neither regdb nor GitLab baseline knows makes planning fail', async () => {
    const db = await freshDatabase();
    try {
      await db.pool.query(`INSERT INTO schema_migrations VALUES ('20990101000000_from_the_future', now())`);
      const res = await regdb(['database', 'migrate', 'up', configFor(db)]);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(
        'regdb: failed to run database migrations: Unable to create migration plan because of ' +
          '20990101000000_from_the_future: unknown migration in database\n',
      );
    } finally {
      await db.drop();
    }
  });
});

describe('a failing migration', () => {
  it('rolls back alone; the error names its ID; earlier ones stay applied', async () => {
    const db = await freshDatabase();
    try {
      const migrations = migrationsWith(join(work.path, 'failing'), {
        'pre/20980101000000_regdb_good.sql':
          '-- regdb:up\nCREATE TABLE good_one (a int);\n-- regdb:down\nDROP TABLE good_one;\n',
        'pre/20990101000000_regdb_will_fail.sql':
          '-- regdb:up\nCREATE TABLE half_done (a int);\nSELECT * FROM no_such_table;\n-- regdb:down\nDROP TABLE half_done;\n',
      });
      const res = await regdb(['database', 'migrate', 'up', configFor(db)], {
        env: { REGDB_MIGRATIONS_DIR: migrations },
      });
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('pre-deployment:\n20980101000000_regdb_good\n20990101000000_regdb_will_fail\n');
      expect(res.stderr).toBe(
        'regdb: failed to run database migrations: applying migration 20990101000000_regdb_will_fail: ' +
          'ERROR: relation "no_such_table" does not exist (SQLSTATE 42P01) handling 20990101000000_regdb_will_fail\n',
      );
      const rec = await recorded(db.pool, 'schema_migrations');
      expect(rec).toContain('20980101000000_regdb_good');
      expect(rec).not.toContain('20990101000000_regdb_will_fail');
      const tables = await db.pool.query(
        `SELECT to_regclass('good_one') IS NOT NULL AS good, to_regclass('half_done') IS NOT NULL AS half`,
      );
      expect(tables.rows[0]).toEqual({ good: true, half: false });
    } finally {
      await db.drop();
    }
  });
});

describe('migrations that require background migrations (-- regdb:requires-bbm)', () => {
  const BBM = 'copy_manifests_media_type_id_column_to_media_type_id_convert_to_bigint_column';
  const needsBbm = {
    'pre/20990101000000_regdb_needs_bbm.sql': `-- regdb:requires-bbm ${BBM}\n-- regdb:up\nSELECT 1;\n-- regdb:down\nSELECT 1;\n`,
  };

  it('on a new install runs them synchronously and counts them', async () => {
    const db = await emptyDatabase();
    try {
      const migrations = migrationsWith(join(work.path, 'bbm-new'), needsBbm);
      const res = await regdb(['database', 'migrate', 'up', configFor(db)], {
        env: { REGDB_MIGRATIONS_DIR: migrations },
      });
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(summary(res.stdout)).toBe(
        `OK: applied ${preIds.length + 1} pre-deployment migration(s), ${postIds.length} post-deployment migration(s) and 1 background migration(s) in Ss`,
      );
      const bbm = await db.pool.query('SELECT status FROM batched_background_migrations WHERE name = $1', [
        BBM,
      ]);
      expect(bbm.rows).toEqual([{ status: 2 }]);
    } finally {
      await db.drop();
    }
  });

  it('on an existing install fails with GitLab message while they are unfinished', async () => {
    const db = await freshDatabase();
    try {
      const migrations = migrationsWith(join(work.path, 'bbm-old'), needsBbm);
      const res = await regdb(['database', 'migrate', 'up', configFor(db)], {
        env: { REGDB_MIGRATIONS_DIR: migrations },
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(
        `regdb: failed to run database migrations: schema migration: 20990101000000_regdb_needs_bbm failed on ` +
          `ensuring batched background migration: [${BBM}]: background migration must be complete before proceeding\n`,
      );
      expect(await recorded(db.pool, 'schema_migrations')).not.toContain('20990101000000_regdb_needs_bbm');
    } finally {
      await db.drop();
    }
  });
});
