/** `regdb database import-status` output (issue 13 §1): the shards' table and the JSON shares. */
import { describe, expect, it } from 'vitest';
import { formatRun, runJSON } from '../../src/cli/import-status.js';
import type { RunRow } from '../../src/db/shard-state.js';

const at = (s: string): Date => new Date(`2026-12-06T${s}Z`);
const shard = (index: number, over: Partial<RunRow['shards'][number]>): RunRow['shards'][number] => ({
  index,
  state: 'finished',
  step: 3,
  repositories: 0,
  tags: 0,
  blobs: 0,
  attempts: 1,
  startedAt: at('10:00:00'),
  updatedAt: at('10:05:00'),
  stepTwoFinishedAt: at('10:04:00'),
  finishedAt: at('10:05:00'),
  error: null,
  silentSeconds: 5,
  ...over,
});

const run: RunRow = {
  runId: 'run-0123456789ab',
  shardCount: 3,
  steps: '123',
  createdAt: at('10:00:00'),
  lockfilesSwitchedAt: null,
  switchedBy: null,
  finishedAt: null,
  shards: [
    shard(0, { repositories: 30, tags: 300 }),
    shard(1, {
      state: 'failed',
      step: 2,
      repositories: 10,
      tags: 100,
      stepTwoFinishedAt: null,
      error: 'boom',
    }),
    shard(2, {
      state: 'running',
      step: 2,
      repositories: 60,
      tags: 600,
      stepTwoFinishedAt: null,
      silentSeconds: 300,
    }),
  ],
};

describe('import-status', () => {
  it('prints the run, the lockfile state and one row per shard with its share', () => {
    const out = formatRun(run);
    expect(out).toContain(
      'run run-0123456789ab: failed shards: rerun them, 3 of 3 shards started, steps 123',
    );
    expect(out).toContain('lockfiles: not switched (1 of 3 shards finished step two)');
    const row = (i: number): string => out.split('\n').find((l) => l.startsWith(`│ ${i}/3 `))!;
    expect(row(0)).toMatch(/│ finished +│ 3 +│ 30 \(30%\) +│ 300 \(30%\) /);
    expect(row(1)).toMatch(/│ failed .*│ boom +│$/);
    expect(row(2)).toContain('running? no heartbeat for 300 s');
    expect(row(2)).toMatch(/│ 60 \(60%\) +│ 600 \(60%\) /);
  });

  it('gives the same as JSON, with shares in percent', () => {
    const j = runJSON({ ...run, lockfilesSwitchedAt: at('10:04:30'), switchedBy: 0 }) as {
      shardsFinishedStepTwo: number;
      lockfilesSwitchedAt: string;
      shards: { repositoryShare: number; tagShare: number; error: string | null }[];
    };
    expect(j.shardsFinishedStepTwo).toBe(1);
    expect(j.lockfilesSwitchedAt).toBe('2026-12-06T10:04:30.000Z');
    expect(j.shards.map((s) => s.repositoryShare)).toEqual([30, 10, 60]);
    expect(j.shards.map((s) => s.tagShare)).toEqual([30, 10, 60]);
    expect(j.shards[1]!.error).toBe('boom');
  });
});
