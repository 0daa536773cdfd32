/**
 * `regdb background-migrate …` end to end: the real CLI (child processes) against real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { BbmStatus } from '../../src/bbm/model.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { emptyDatabase } from '../helpers/db.js';
import { testWork } from '../helpers/work.js';
import {
  MANIFESTS_BBM,
  bbmDatabase,
  expectAllFinished,
  expectOneJobAtATime,
  seedStaleRows,
  statusCounts,
  type BbmTestDatabase,
} from './bbm-support.js';
import { writeConfig } from './migrate-support.js';

const work = testWork('bbm-cli');
const regdb = (args: string[]): Promise<CliResult> => runCli(args, { env: { REGDB_LOG_LEVEL: 'warn' } });

/** Makes every row need the background migrations again, as after the seed. */
async function reset(db: BbmTestDatabase): Promise<void> {
  const c = await db.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL session_replication_role = replica');
    await c.query('UPDATE manifests SET media_type_id_convert_to_bigint = 0');
    await c.query('UPDATE blobs SET id = NULL');
    await c.query('DELETE FROM batched_background_migration_jobs');
    await c.query(
      'UPDATE batched_background_migrations SET status = 1, started_at = NULL, finished_at = NULL, total_tuple_count = NULL',
    );
    await c.query('COMMIT');
  } finally {
    c.release();
  }
}

describe('regdb background-migrate', () => {
  let db: BbmTestDatabase;
  let config: string;

  beforeAll(async () => {
    db = await bbmDatabase();
    config = writeConfig(work.path, db.config);
    await seedStaleRows(db.pool, { manifests: 50_000, blobs: 50_000 });
  });
  afterAll(async () => db?.drop());

  it('status prints the table in id order, in both argument orders', async () => {
    const res = await regdb(['background-migrate', 'status', config]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(65 + 4);
    const w = MANIFESTS_BBM.length;
    expect(lines[0]).toBe(`┌${'─'.repeat(w + 2)}┬────────┬──────────┐`);
    const title = 'BATCHED BACKGROUND MIGRATION';
    const left = Math.floor((w - title.length) / 2);
    expect(lines[1]).toBe(
      `│ ${' '.repeat(left)}${title}${' '.repeat(w - title.length - left)} │ STATUS │ PROGRESS │`,
    );
    expect(lines[2]).toBe(`├${'─'.repeat(w + 2)}┼────────┼──────────┤`);
    expect(lines[3]).toBe(`│ ${MANIFESTS_BBM} │ active │ 0%       │`);
    expect(lines[4]).toBe(`│ ${'backfill_blobs_p_0_id_column'.padEnd(w)} │ active │ 0%       │`);
    expect(lines[67]).toBe(`│ ${'backfill_blobs_p_63_id_column'.padEnd(w)} │ active │ 0%       │`);
    expect(lines[68]).toBe(`└${'─'.repeat(w + 2)}┴────────┴──────────┘`);

    const gitlabOrder = await regdb(['background-migrate', config, 'status']);
    expect(gitlabOrder.code).toBe(0);
    expect(gitlabOrder.stdout).toBe(res.stdout);
  });

  it('rejects --max-job-retry outside 1..10 with the accepted range', async () => {
    for (const bad of ['0', '11']) {
      const res = await regdb(['background-migrate', 'run', '-r', bad, config]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`max-job-retry must be between 1 and 10 (inclusive), got ${bad}`);
    }
    const res = await regdb(['background-migrate', 'run', '--retry-interval', '1s', config]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--retry-interval needs --max-runs of 2 or more');
    expect(await statusCounts(db.pool)).toEqual({ [BbmStatus.active]: 65 });
  });

  it('pause from another process stops a run; run resumes and finishes, nothing twice, nothing missed', async () => {
    const running = regdb(['background-migrate', 'run', config]);
    // Should an assertion fail before the run is awaited, the run must not go on into the next test.
    onTestFinished(async () => void (await running));
    // Wait until the run has finished a job, then pause from a second process.
    for (let i = 0; i < 600; i++) {
      const r = await db.pool.query(
        'SELECT count(*)::int AS n FROM batched_background_migration_jobs WHERE status = 2',
      );
      if (r.rows[0].n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pause = await regdb(['background-migrate', 'pause', config]);
    expect(pause).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const first = await running;
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('background migrations: 0 finished of 65 pending');
    expect(first.stderr).toMatch(/\d+ background migration\(s\) were paused while running/);
    const afterPause = await statusCounts(db.pool);
    expect(afterPause[BbmStatus.paused]).toBeGreaterThan(0);
    const status = await regdb(['background-migrate', 'status', config]);
    expect(status.stdout).toContain(' paused ');

    const second = await regdb(['background-migrate', 'run', config]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`resumed ${afterPause[BbmStatus.paused]} paused background migration(s)`);
    expect(second.stdout).toMatch(
      /^OK: finished \d+ background migration\(s\), \d+ job\(s\), \d+ row\(s\) updated in \d+\.\d{3}s\n$/,
    );

    const all = await expectAllFinished(db.pool, 50_000);
    expect(all).toHaveLength(70);
    expect(all.every((j) => j.status === BbmStatus.finished && j.attempts === 1)).toBe(true);

    const done = await regdb(['background-migrate', 'status', config]);
    const rows = done.stdout.trimEnd().split('\n').slice(3, -1);
    expect(rows).toHaveLength(65);
    expect(rows.every((r) => /│ finished │ 100%\s+│$/.test(r))).toBe(true);
  });

  it('two run processes at once: jobs never overlap, both exit 0, the data is correct', async () => {
    await reset(db);
    const [a, b] = await Promise.all([
      regdb(['background-migrate', 'run', config]),
      regdb(['background-migrate', config, 'run', '-r', '3']),
    ]);
    expect([a.code, b.code, a.stderr.includes('regdb:'), b.stderr.includes('regdb:')]).toEqual([
      0,
      0,
      false,
      false,
    ]);
    const finished = [a, b].map((r) => Number(/OK: finished (\d+) background/.exec(r.stdout)?.[1]));
    expect(finished[0]! + finished[1]!).toBe(65);
    const all = await expectAllFinished(db.pool, 50_000);
    expect(all).toHaveLength(70);
    expectOneJobAtATime(all);
  });

  it('run exits non-zero with a clear message for a row naming an unknown work function', async () => {
    await db.pool.query(
      `INSERT INTO batched_background_migrations
         (name, min_value, max_value, batch_size, status, job_signature_name, table_name, column_name)
       VALUES ('mystery', 1, 10, 5, 1, 'mysteryWork', 'public.manifests', 'id')`,
    );
    const res = await regdb([
      'background-migrate',
      'run',
      '--max-runs',
      '2',
      '--retry-interval',
      '100ms',
      config,
    ]);
    expect(res.code).toBe(1);
    const message =
      'background migration mystery: work function not found: job_signature_name "mysteryWork" is not one of ' +
      'copyManifestMediaTypeIDToNewBigIntColumn, populateBlobsIDColumn';
    expect(res.stdout).toBe('retrying run in 100ms...\n');
    expect(res.stderr).toContain(`running background migrations failed: ${message}\n`);
    expect(res.stderr).toContain(`regdb: running background migrations failed: ${message}\n`);
    const status = await regdb(['background-migrate', 'status', config]);
    expect(status.stdout.trimEnd().split('\n').at(-2)).toMatch(/^│ mystery\s+│ failed {3}│ 0%\s+│$/);
    const code = await db.pool.query(
      `SELECT failure_error_code FROM batched_background_migrations WHERE name = 'mystery'`,
    );
    expect(code.rows[0]).toEqual({ failure_error_code: 3 });
  });
});

describe('regdb background-migrate on a database without the schema', () => {
  it('status, pause and run say to migrate first', async () => {
    const db = await emptyDatabase();
    try {
      const config = writeConfig(work.sub('empty'), db.config);
      const message =
        'the database has no batched background migration tables (batched_background_migrations): ' +
        'apply the schema migrations first with "regdb database migrate up"';
      for (const cmd of ['status', 'pause', 'run']) {
        const res = await regdb(['background-migrate', cmd, config]);
        expect(res.code).toBe(1);
        expect(res.stdout).toBe('');
        expect(res.stderr).toContain(message);
      }
    } finally {
      await db.drop();
    }
  });
});
