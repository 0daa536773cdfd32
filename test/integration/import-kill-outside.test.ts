/**
 * Issue 17 §3: the built CLI imports a synthetic tree of a few thousand tags and is SIGKILLed from
 * outside (no hook inside the process) at seeded random moments spread over the three steps; a rerun
 * must end with exactly the rows of an uninterrupted import, and must have resumed: it read fewer
 * storage objects and wrote fewer rows than the uninterrupted run (the `--report` counts).
 *
 * A moment is chosen like this: the kill targets step S (1, 2, 3 in turn) and a seeded random share
 * f of its work (0 < f <= 0.8); the test watches regdb_import.checkpoints from its own connection
 * until step S has committed at least f of its checkpoints (one a repository in steps one and two, one
 * a blob prefix in step three), and sends SIGKILL at once. Progress, not time: the uninterrupted run's
 * step times depend on the machine's load, so a delay taken from them could land after the run's end.
 * Where the process really was (which steps were finished, how many checkpoints each step had) is
 * read back after the kill and printed.
 *
 * REGDB_KILL_MOMENTS (default 5) and REGDB_KILL_SEED (default 17) change the number of kills and the
 * seed; `npm run bench:kill -- --kills 20` runs 20.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliResult } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import type { Dump } from '../helpers/golden.js';
import { importDump, syntheticTree, writeImportConfig, type SyntheticTree } from './import-kill-support.js';

const KILLS = Number(process.env.REGDB_KILL_MOMENTS ?? '5');
const SEED = Number(process.env.REGDB_KILL_SEED ?? '17');
// Batches small enough that every step commits many checkpoints.
const ARGS = ['--batch-size', '200', '--concurrency', '4'];
const REPOSITORIES = 150;

interface ReportJson {
  rowsInserted: Record<string, number>;
  storageRequests?: Record<string, number>;
  steps: { step: number; seconds?: number; resumed?: boolean; checkpointed: number }[];
}

/** mulberry32: a small seeded generator, so the moments of a seed are the same on every machine. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sum = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((s, v) => s + v, 0);

let tree: SyntheticTree;
let work: string;
let reference: Dump;
let fresh: ReportJson;
let runs = 0;
const moments: Record<string, unknown>[] = [];

function importArgs(config: string): { args: string[]; report: string } {
  runs++;
  const report = join(work, `report-${runs}.json`);
  return {
    args: ['database', 'import', '--log-directory', work, '--report', report, ...ARGS, config],
    report,
  };
}

async function progress(
  client: pg.Client,
): Promise<{ started: number[]; finished: number[]; checkpoints: Record<number, number> }> {
  const exists = await client.query("SELECT to_regclass('regdb_import.checkpoints') IS NOT NULL AS e");
  if (exists.rows[0].e !== true) return { started: [], finished: [], checkpoints: {} };
  const steps = await client.query<{ step: number; finished: boolean }>(
    'SELECT step, finished_at IS NOT NULL AS finished FROM regdb_import.steps ORDER BY step',
  );
  const cps = await client.query<{ step: number; n: number }>(
    'SELECT step, count(*)::int AS n FROM regdb_import.checkpoints GROUP BY step',
  );
  return {
    started: steps.rows.map((r) => r.step),
    finished: steps.rows.filter((r) => r.finished).map((r) => r.step),
    checkpoints: Object.fromEntries(cps.rows.map((r) => [r.step, r.n])),
  };
}

beforeAll(async () => {
  tree = syntheticTree({
    repositories: REPOSITORIES,
    tags: 3000,
    layerRefs: 9000,
    sharedLayers: 3000,
    seed: 17,
  });
  work = mkdtempSync(join(tmpdir(), 'regdb-kill-outside-'));
  const db = await freshDatabase();
  try {
    const { args, report } = importArgs(writeImportConfig(work, db, tree.root));
    const run = await startCli(args).done;
    expect(run.code, run.stderr).toBe(0);
    fresh = JSON.parse(readFileSync(report, 'utf8')) as ReportJson;
    reference = await importDump(db);
  } finally {
    await db.drop();
  }
  expect(reference['tags']).toHaveLength(3000);
  expect(fresh.steps.map((s) => s.step)).toEqual([1, 2, 3]);
}, 600_000);

afterAll(() => {
  tree?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
  const summary = process.env.REGDB_KILL_SUMMARY;
  if (summary) writeFileSync(summary, JSON.stringify({ seed: SEED, fresh: freshCounts(), moments }, null, 2));
  else console.log(`kill moments (seed ${SEED}):\n${moments.map((m) => JSON.stringify(m)).join('\n')}`);
});

function freshCounts() {
  return fresh && { reads: sum(fresh.storageRequests), writes: sum(fresh.rowsInserted) };
}

/** Checkpoints a step commits over a whole run: repositories (steps one, two) or blob prefixes. */
function checkpointsOfStep(step: number): number {
  if (step !== 3) return REPOSITORIES;
  const blobs = join(tree.root, 'docker/registry/v2/blobs/sha256');
  return readdirSync(blobs).length;
}

async function killAt(db: TestDatabase, config: string, step: number, fraction: number) {
  const observer = new pg.Client({ connectionString: db.url });
  await observer.connect();
  try {
    const { args } = importArgs(config);
    const running = startCli(args);
    let result: CliResult | undefined;
    void running.done.then((r) => (result = r)).catch(() => undefined);
    // Until step `step` has committed `target` checkpoints (or the run ended, which the test reports).
    const target = Math.max(1, Math.round(fraction * checkpointsOfStep(step)));
    for (;;) {
      if (result !== undefined) break;
      const p = await progress(observer);
      if (p.finished.includes(step) || (p.checkpoints[step] ?? 0) >= target) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    running.child.kill('SIGKILL');
    const killed = await running.done;
    const after = await progress(observer);
    return { killed, target, after };
  } finally {
    await observer.end();
  }
}

describe(`an import SIGKILLed from outside at ${KILLS} seeded random moments (seed ${SEED})`, () => {
  const rnd = random(SEED);
  const plan = Array.from({ length: KILLS }, (_, i) => ({
    step: (i % 3) + 1,
    fraction: 0.02 + rnd() * 0.78,
  }));

  it.each(plan.map((p, i) => [i + 1, p.step, p.fraction.toFixed(3), p] as const))(
    'kill %i in step %i (after %s of its checkpoints) resumes to the same rows',
    async (n, step, _fraction, p) => {
      const db = await freshDatabase();
      try {
        const config = writeImportConfig(work, db, tree.root);
        const { killed, target, after } = await killAt(db, config, step, p.fraction);
        expect(killed.signal, `${killed.code} ${killed.stderr}`).toBe('SIGKILL');
        const { args, report } = importArgs(config);
        const rerun = await startCli(args).done;
        expect(rerun.code, rerun.stderr).toBe(0);
        const resumed = JSON.parse(readFileSync(report, 'utf8')) as ReportJson;
        const reads = sum(resumed.storageRequests);
        const writes = sum(resumed.rowsInserted);
        moments.push({
          kill: n,
          target_step: step,
          target_checkpoints: target,
          steps_finished_at_kill: after.finished,
          checkpoints_at_kill: after.checkpoints,
          rerun_reads: reads,
          rerun_writes: writes,
          fresh: freshCounts(),
        });
        // The killed run had committed progress (at least one checkpoint of the target step) ...
        expect(after.started).toContain(step);
        // ... so the rerun resumed: it read and wrote less than the uninterrupted run.
        expect(reads).toBeLessThan(sum(fresh.storageRequests));
        expect(writes).toBeLessThan(sum(fresh.rowsInserted));
        const dump = await importDump(db);
        for (const table of Object.keys(reference)) expect.soft(dump[table], table).toEqual(reference[table]);
      } finally {
        await db.drop();
      }
    },
    600_000,
  );

  it('the kills covered all three steps', () => {
    if (KILLS < 3) return;
    const targeted = new Set(moments.map((m) => m.target_step));
    expect([...targeted].sort()).toEqual([1, 2, 3]);
  });
});
