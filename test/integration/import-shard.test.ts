/**
 * Issue 5 §4 and issue 13 §4: N shard processes importing one registry into one database are one
 * run. Three processes with `--shard 0/3`, `1/3`, `2/3` started at once give the same tables as one
 * process; the lockfiles switch once, only when every tag is in the database (watched from outside
 * while the shards run); a shard killed mid-run leaves the lockfiles alone, and rerunning it alone
 * completes the run with the same rows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, expect, it } from 'vitest';
import { childResult, REPO_ROOT, runCli } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Dump } from '../helpers/golden.js';
import { testWork } from '../helpers/work.js';
import {
  describeRun,
  importDump,
  runImportProcess,
  syntheticTree,
  writeImportConfig,
  type ImportRun,
  type SyntheticTree,
} from './import-kill-support.js';

// 120 repositories in 6 top-level namespaces.
const PARAMS = { repositories: 120, tags: 600, layerRefs: 2400, sharedLayers: 400, seed: 5 };
const ARGS = ['--batch-size', '100', '--concurrency', '4', '--log-to-stdout'];
const SWITCHED = 'all shards finished step two: lockfiles switched to the database';

let tree: SyntheticTree;
const work = testWork('shard');
let single: TestDatabase;
let expected: Dump;

const lockfile = (name: string): string => join(tree.root, 'docker', 'registry', 'lockfiles', name);

/** The registry as it runs before the import: on the filesystem. */
function resetLockfiles(): void {
  rmSync(join(tree.root, 'docker', 'registry', 'lockfiles'), { recursive: true, force: true });
  mkdirSync(join(tree.root, 'docker', 'registry', 'lockfiles'), { recursive: true });
  writeFileSync(lockfile('filesystem-in-use'), '{"version":1}');
}

/** `regdb database import` as a child process we can kill. */
function startImport(
  config: string,
  args: readonly string[],
): { child: ChildProcess; done: Promise<ImportRun> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'database', 'import', ...args, config],
    { cwd: REPO_ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return { child, done: childResult(child) };
}

async function count(pool: pg.Pool, sql: string): Promise<number> {
  try {
    return Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
  } catch {
    return -1; // the table does not exist yet
  }
}

interface StatusShard {
  index: number;
  state: string;
  repositories: number;
  tags: number;
  attempts: number;
  stepTwoFinishedAt: string | null;
}
interface Status {
  runId: string;
  shardCount: number;
  shardsFinishedStepTwo: number;
  lockfilesSwitchedAt: string | null;
  switchedBy: number | null;
  finishedAt: string | null;
  shards: StatusShard[];
}

async function importStatus(config: string): Promise<Status[]> {
  const r = await runCli(['database', 'import-status', '--json', config]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Status[];
}

const tables = (d: Dump): Dump => {
  const { import_statistics: _stats, ...rest } = d;
  return rest;
};

beforeAll(async () => {
  tree = syntheticTree(PARAMS);
  work.defer(() => tree.remove());
  single = await work.database();
  resetLockfiles();
  const one = await runImportProcess(writeImportConfig(work.path, single, tree.root), ARGS, work.path);
  expect(one.code, describeRun(one)).toBe(0);
  expected = await importDump(single);
  // The expected rows come from the tree's own plan, not from the import.
  expect(expected['repositories']).toHaveLength(PARAMS.repositories);
  expect(expected['tags']).toHaveLength(PARAMS.tags);
}, 600_000);

/**
 * A fresh database for a sharded run (dropped after the file's tests), the lockfiles reset, its
 * config, and a one-connection pool that watches it from outside.
 */
async function shardedDatabase(): Promise<{ db: TestDatabase; pool: pg.Pool; config: string }> {
  const db = await work.database();
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  pool.on('error', () => undefined);
  work.defer(() => pool.end());
  resetLockfiles();
  return { db, pool, config: writeImportConfig(work.path, db, tree.root) };
}

type Stats = { repositories_count: string; tags_count: string; manifests_count: string; blobs_count: string };

it('three shard processes at once are one run: the dump of one process, lockfiles switched once, after every tag', async () => {
  const { db: sharded, pool, config } = await shardedDatabase();
  // Watch from outside: the moment database-in-use appears, how many tags are in the database.
  let tagsAtSwitch: number | undefined;
  let watching = true;
  const watcher = (async () => {
    while (watching && tagsAtSwitch === undefined) {
      if (existsSync(lockfile('database-in-use')))
        tagsAtSwitch = await count(pool, 'SELECT count(*) AS n FROM tags');
      else await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const runs = await Promise.all(
    ['0/3', '1/3', '2/3'].map((s) => runImportProcess(config, [...ARGS, '--shard', s], work.path)),
  );
  watching = false;
  await watcher;
  for (const r of runs) expect(r.code, describeRun(r)).toBe(0);

  const actual = await importDump(sharded);
  expect(tables(actual)).toEqual(tables(expected));

  // The switch: once, by one shard, when all PARAMS.tags tags were already in the database.
  expect(tagsAtSwitch).toBe(PARAMS.tags);
  expect(existsSync(lockfile('filesystem-in-use'))).toBe(false);
  expect(runs.filter((r) => r.stdout.includes(SWITCHED))).toHaveLength(1);

  // One statistics row per shard; the shards' counts add up to the single run's.
  const oneStats = expected['import_statistics']!;
  const shardStats = actual['import_statistics']!;
  expect(oneStats).toHaveLength(1);
  expect(shardStats).toHaveLength(3);
  const sum = (rows: unknown[], k: keyof Stats) =>
    rows.reduce((s: number, r) => s + Number((r as Stats)[k]), 0);
  for (const k of ['repositories_count', 'tags_count', 'manifests_count', 'blobs_count'] as const) {
    expect(sum(shardStats, k), k).toBe(sum(oneStats, k));
  }

  // import-status: one finished run of 3 shards whose counts add up to the tree's.
  const [run, ...others] = await importStatus(config);
  expect(others).toHaveLength(0);
  expect(run!.shardCount).toBe(3);
  expect(run!.finishedAt).not.toBeNull();
  expect(run!.lockfilesSwitchedAt).not.toBeNull();
  expect(run!.shards.map((s) => s.state)).toEqual(['finished', 'finished', 'finished']);
  expect(run!.shards.reduce((s, x) => s + x.repositories, 0)).toBe(PARAMS.repositories);
  expect(run!.shards.reduce((s, x) => s + x.tags, 0)).toBe(PARAMS.tags);
  for (const s of run!.shards) expect(s.repositories).toBeGreaterThan(0);
}, 600_000);

it('a shard killed mid-run keeps the lockfiles; rerun alone, it completes the run with the same rows', async () => {
  const { db: sharded, pool, config } = await shardedDatabase();
  const shards = ['0/3', '1/3', '2/3'].map((s) => startImport(config, [...ARGS, '--shard', s]));
  // Kill shard 1 once it has committed its first step-two batch.
  const victim = shards[1]!;
  let exited = false;
  void victim.done.then(() => (exited = true));
  const stepTwoBatches =
    "SELECT count(*) AS n FROM regdb_import.checkpoints WHERE scope = 'steps=123 shard=1/3' AND step = 2";
  while (!exited && (await count(pool, stepTwoBatches)) <= 0) await new Promise((r) => setTimeout(r, 20));
  expect(exited, 'shard 1 finished before it could be killed: make the tree bigger').toBe(false);
  victim.child.kill('SIGKILL');
  const [first, killed, third] = await Promise.all(shards.map((s) => s.done));
  expect(killed!.signal).toBe('SIGKILL');
  expect(first!.code, describeRun(first!)).toBe(0);
  expect(third!.code, describeRun(third!)).toBe(0);

  // Two of three shards finished step two: the registry still runs on the filesystem.
  expect(existsSync(lockfile('filesystem-in-use'))).toBe(true);
  expect(existsSync(lockfile('database-in-use'))).toBe(false);
  expect(await count(pool, 'SELECT count(*) AS n FROM tags')).toBeLessThan(PARAMS.tags);
  const [during] = await importStatus(config);
  expect(during!.shardsFinishedStepTwo).toBe(2);
  expect(during!.lockfilesSwitchedAt).toBeNull();
  expect(during!.finishedAt).toBeNull();
  expect(during!.shards.map((s) => s.state)).toEqual(['finished', 'running', 'finished']);

  // Rerun the killed shard alone: it resumes, finishes step two last and switches.
  const rerun = await runImportProcess(config, [...ARGS, '--shard', '1/3'], work.path);
  expect(rerun.code, describeRun(rerun)).toBe(0);
  expect(rerun.stdout).toContain(SWITCHED);
  expect(existsSync(lockfile('database-in-use'))).toBe(true);
  expect(existsSync(lockfile('filesystem-in-use'))).toBe(false);

  expect(tables(await importDump(sharded))).toEqual(tables(expected));
  const [after] = await importStatus(config);
  expect(after!.finishedAt).not.toBeNull();
  expect(after!.switchedBy).toBe(1);
  expect(after!.shards[1]!.attempts).toBe(2);
}, 600_000);
