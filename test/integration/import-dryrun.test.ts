/**
 * Issue 5 §2 "honest dry run", through the CLI: `regdb database import --dry-run` leaves every table
 * (row counts and contents, in public, partitions and regdb_import) and every sequence value as it
 * was, adds no import_statistics row, keeps the checkpoints of an interrupted run untouched, writes or
 * removes nothing in storage (lockfiles included), and prints the same summary tables as the real run
 * that follows it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCKFILE_CONTENT } from '../../src/registry/paths.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { copyTree, type TreeCopy } from '../helpers/import-run.js';
import {
  describeRun,
  runImportProcess,
  syntheticTree,
  writeImportConfig,
  type ImportRun,
} from './import-kill-support.js';

let work: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'regdb-import-dryrun-'));
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function setup(
  fixture: 'real' | 'quirks',
): Promise<{ db: TestDatabase; tree: TreeCopy; config: string }> {
  const db = await freshDatabase();
  const tree = await copyTree(fixture);
  cleanups.push(
    () => db.drop(),
    () => tree.remove(),
  );
  // The registry still runs on the filesystem: its lockfile is there, and only a real step two may
  // replace it (spec §1.8). A lockfile copied from a manual import of the fixture is dropped first.
  const lockdir = join(tree.root, 'docker/registry/lockfiles');
  rmSync(lockdir, { recursive: true, force: true });
  mkdirSync(lockdir, { recursive: true });
  writeFileSync(join(lockdir, 'filesystem-in-use'), LOCKFILE_CONTENT);
  return { db, tree, config: writeImportConfig(work, db, tree.root) };
}

/**
 * Everything a run could persist in the database: per table (public, partitions, regdb_import) the
 * row count and a hash of the rows, and every sequence's last value. On its own connection with JIT
 * off (hundreds of small partitions).
 */
async function fingerprint(db: TestDatabase): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: db.url, options: '-c jit=off' });
  await client.connect();
  try {
    const out: Record<string, string> = {};
    const tables = await client.query<{ t: string }>(
      `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables
       WHERE schemaname IN ('public', 'partitions', 'regdb_import') ORDER BY 1`,
    );
    for (const { t } of tables.rows) {
      const r = await client.query<{ n: string; h: string | null }>(
        `SELECT count(*)::text AS n, md5(string_agg(x::text, ',' ORDER BY x::text)) AS h FROM ${t} x`,
      );
      out[`table ${t}`] = `${r.rows[0]!.n} ${r.rows[0]!.h ?? '-'}`;
    }
    const seqs = await client.query<{ n: string; v: string | null }>(
      `SELECT format('%I.%I', schemaname, sequencename) AS n, last_value::text AS v FROM pg_sequences ORDER BY 1`,
    );
    for (const s of seqs.rows) out[`sequence ${s.n}`] = s.v ?? 'never used';
    return out;
  } finally {
    await client.end();
  }
}

/** Every file and directory below the tree: content hash and modification time. */
function storageSnapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      const key = `${rel}/${e.name}`;
      const st = statSync(path);
      if (e.isDirectory()) {
        out[`${key}/`] = String(st.mtimeMs);
        visit(path, key);
      } else {
        out[key] = `${createHash('sha256').update(readFileSync(path)).digest('hex')} ${st.mtimeMs}`;
      }
    }
  };
  visit(root, '');
  return out;
}

/** The summary tables, with the seconds column blanked and the storage writes set aside. */
function summaryOf(run: ImportRun): { text: string; writes: string[] } {
  const writes: string[] = [];
  const text = run.stdout
    .split('\n')
    .filter((line) => {
      const m = /^│ (put|delete) +│ (\d+) +│$/.exec(line);
      if (m) writes.push(`${m[1]} ${m[2]}`);
      return !m;
    })
    .map((line) =>
      line.startsWith('│ step ') ? line.replace(/^(│[^│]+│) *[\d.-]+ *│/, '$1 seconds │') : line,
    )
    .join('\n');
  return { text, writes };
}

async function statisticsRows(db: TestDatabase): Promise<number> {
  return (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM import_statistics')).rows[0]!.n;
}

describe('regdb database import --dry-run', () => {
  it('on an empty database: nothing persists, and the real run that follows prints the same summary', async () => {
    const { db, tree, config } = await setup('real');
    const dbBefore = await fingerprint(db);
    const storageBefore = storageSnapshot(tree.root);

    // One repository at a time: with more, two repositories may both stat a shared blob before either
    // remembers it, and the request counts vary from run to run.
    const dry = await runImportProcess(config, ['--dry-run', '--concurrency', '1'], work);
    expect(dry.code, describeRun(dry)).toBe(0);
    expect(await fingerprint(db)).toEqual(dbBefore);
    expect(await statisticsRows(db)).toBe(0);
    expect(storageSnapshot(tree.root)).toEqual(storageBefore);

    const real = await runImportProcess(config, ['--concurrency', '1'], work);
    expect(real.code, describeRun(real)).toBe(0);
    expect(await statisticsRows(db)).toBe(1);
    const drySummary = summaryOf(dry);
    const realSummary = summaryOf(real);
    expect(drySummary.text).toEqual(realSummary.text);
    expect(drySummary.text).toMatch(/│ tags +│ [1-9]\d* +│/);
    // The only storage requests a real run adds: the lockfile swap after step two (spec §1.8).
    expect(drySummary.writes).toEqual(['put 0', 'delete 0']);
    expect(realSummary.writes).toEqual(['put 1', 'delete 1']);
    const lockfiles = readdirSync(join(tree.root, 'docker/registry/lockfiles'));
    expect(lockfiles).toEqual(['database-in-use']);
  });

  it('after an interrupted run: tables, sequences, checkpoints and storage stay as they were', async () => {
    // The quirks tree creates media types (sequence values) and skips; the run is killed right after
    // its first step-two batch commits, so checkpoints of both steps exist.
    const { db, tree, config } = await setup('quirks');
    const args = ['--batch-size', '5', '--concurrency', '2'];
    const killed = await runImportProcess(config, args, work, { REGDB_TEST_KILL_AT: 'after-commit:2@1' });
    expect(killed.signal, describeRun(killed)).toBe('SIGKILL');
    const checkpoints = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM regdb_import.checkpoints',
    );
    expect(checkpoints.rows[0]!.n).toBeGreaterThan(0);
    const dbBefore = await fingerprint(db);
    expect(Object.keys(dbBefore).some((k) => k.startsWith('table regdb_import.'))).toBe(true);
    const storageBefore = storageSnapshot(tree.root);

    for (const flags of [['--dry-run'], ['--dry-run', '--no-resume'], ['--dry-run', '--pre-import']]) {
      const dry = await runImportProcess(config, [...args, ...flags], work);
      expect(dry.code, describeRun(dry)).toBe(0);
      expect(await fingerprint(db), flags.join(' ')).toEqual(dbBefore);
      expect(storageSnapshot(tree.root), flags.join(' ')).toEqual(storageBefore);
    }

    const rerun = await runImportProcess(config, args, work);
    expect(rerun.code, describeRun(rerun)).toBe(0);
    const left = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM regdb_import.checkpoints',
    );
    expect(left.rows[0]!.n).toBe(0);
  });

  it('killed mid-run, a dry run still leaves every sequence as it was', async () => {
    // nextval is not transactional: the rolled-back transaction does not undo it, the dry run puts the
    // values back itself, and must do so even when its own connection is gone.
    const tree = syntheticTree({ repositories: 30, tags: 300, layerRefs: 1500, sharedLayers: 300, seed: 5 });
    cleanups.push(async () => tree.remove());
    const db = await freshDatabase();
    cleanups.push(() => db.drop());
    const config = writeImportConfig(work, db, tree.root);
    const before = await fingerprint(db);
    // On the import's database (pg_sequences is per database), not named 'regdb', so it survives.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      let done = false;
      const running = runImportProcess(
        config,
        ['--dry-run', '--batch-size', '30', '--concurrency', '2'],
        work,
      ).finally(() => (done = true));
      // As soon as the dry run has drawn identity values, kill its connections.
      let killed = 0;
      const deadline = Date.now() + 60_000;
      while (!done && killed === 0 && Date.now() < deadline) {
        const drawn = await admin.query(
          `SELECT 1 FROM pg_sequences WHERE schemaname = 'public' AND sequencename LIKE 'repositories%' AND last_value IS NOT NULL`,
        );
        if ((drawn.rowCount ?? 0) > 0) {
          const r = await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'regdb'`,
            [db.name],
          );
          killed = r.rowCount ?? 0;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      const dry = await running;
      expect(killed, describeRun(dry)).toBeGreaterThan(0);
      expect(dry.code, describeRun(dry)).toBe(1);
    } finally {
      await admin.end();
    }
    expect(await fingerprint(db)).toEqual(before);
  });
});
