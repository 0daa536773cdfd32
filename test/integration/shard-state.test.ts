/**
 * regdb_import.runs/shards under concurrency (issue 13 §1): however many shards finish step two at
 * the same moment, the lockfile switch runs exactly once, by a shard that saw all N done; a switch
 * that fails records nothing, so the next shard to finish (or the rerun) switches; a shard of another
 * N cannot join the run; GitLab's public schema gains nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readRuns, RunMismatchError, ShardState } from '../../src/db/shard-state.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await freshDatabase();
});

afterAll(async () => {
  await db?.drop();
});

const progress = { step: 2, repositories: 10, tags: 50, blobs: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('N shards finishing step two at once switch the lockfiles exactly once, after the last', async () => {
  const n = 8;
  const shards = Array.from({ length: n }, (_, i) => new ShardState(db.pool, 'run-concurrent', i, n, '123'));
  await Promise.all(shards.map((s) => s.join(false)));
  // The first N-1 finish; nothing switches.
  let switches = 0;
  const switchFn = async (): Promise<void> => {
    switches++;
    await sleep(50); // a slow storage write, while the others wait on the run's row lock
  };
  await Promise.all(shards.slice(0, n - 1).map((s) => s.finishStepTwo(progress, switchFn)));
  expect(switches).toBe(0);
  // All N at once again (reruns of finished shards included): one switch.
  const results = await Promise.all(shards.map((s) => s.finishStepTwo(progress, switchFn)));
  expect(switches).toBe(1);
  expect(results.filter(Boolean)).toHaveLength(1);
  const [run] = await readRuns(db.pool, 'run-concurrent');
  expect(run!.lockfilesSwitchedAt).not.toBeNull();
  expect(run!.switchedBy).toBe(results.indexOf(true));
  expect(run!.shards.every((s) => s.stepTwoFinishedAt !== null)).toBe(true);
  // Finished when all N are.
  await Promise.all(shards.slice(1).map((s) => s.finish(progress)));
  expect((await readRuns(db.pool, 'run-concurrent'))[0]!.finishedAt).toBeNull();
  await shards[0]!.finish(progress);
  expect((await readRuns(db.pool, 'run-concurrent'))[0]!.finishedAt).not.toBeNull();
}, 60_000);

it('a failed switch records nothing: the rerun of the last shard switches', async () => {
  const a = new ShardState(db.pool, 'run-failing-switch', 0, 2, '2');
  const b = new ShardState(db.pool, 'run-failing-switch', 1, 2, '2');
  await a.join(false);
  await b.join(false);
  expect(await a.finishStepTwo(progress, () => Promise.reject(new Error('unexpected')))).toBe(false);
  await expect(b.finishStepTwo(progress, () => Promise.reject(new Error('storage down')))).rejects.toThrow(
    'storage down',
  );
  await b.fail(progress, 'importing all repositories: storage down');
  let [run] = await readRuns(db.pool, 'run-failing-switch');
  expect(run!.lockfilesSwitchedAt).toBeNull();
  expect(run!.shards[1]).toMatchObject({
    state: 'failed',
    error: 'importing all repositories: storage down',
  });
  expect(run!.shards[1]!.stepTwoFinishedAt).toBeNull();

  await b.join(false); // the rerun
  let switched = 0;
  expect(await b.finishStepTwo(progress, async () => void switched++)).toBe(true);
  expect(switched).toBe(1);
  [run] = await readRuns(db.pool, 'run-failing-switch');
  expect(run!.shards[1]).toMatchObject({ state: 'running', attempts: 2, error: null });
  expect(run!.switchedBy).toBe(1);
});

it('a shard of another N or other steps cannot join the run', async () => {
  await new ShardState(db.pool, 'run-mismatch', 0, 3, '123').join(false);
  await expect(new ShardState(db.pool, 'run-mismatch', 1, 4, '123').join(false)).rejects.toThrow(
    RunMismatchError,
  );
  await expect(new ShardState(db.pool, 'run-mismatch', 1, 3, '2').join(false)).rejects.toThrow(
    /started with 3 shards and steps 123, not 3 shards and steps 2/,
  );
});

it("keeps to regdb's own schema", async () => {
  const { rows } = await db.pool.query<{ schema: string; name: string }>(
    "SELECT table_schema AS schema, table_name AS name FROM information_schema.tables WHERE table_name IN ('runs', 'shards')",
  );
  expect(rows.map((r) => `${r.schema}.${r.name}`).sort()).toEqual([
    'regdb_import.runs',
    'regdb_import.shards',
  ]);
});
