/**
 * `regdb database import-status [--run-id ID] [--json] CONFIG` (issue 13 §1): the sharded import runs
 * recorded in `regdb_import.runs`/`shards`, one table per run: each shard's state, step, repositories
 * and tags so far with its share of the run's, attempts, last heartbeat, and the error of a failed
 * shard. The same data goes into `import --report` for a sharded run.
 */
import type { Command } from 'commander';
import type { Database } from '../db/open.js';
import { readRuns, type RunRow } from '../db/shard-state.js';
import { configArgument, loadCommandConfig, withDatabase } from './common.js';
import { checkRunId } from './shard-flags.js';
import { renderTable } from './table.js';

/** A running shard that has not written its row for this long (heartbeats every 2 s) is likely dead. */
const SILENT_SECONDS = 60;

/** `running`, or a hint that a running shard's process is gone (killed, node lost): rerun it. */
function shardState(s: RunRow['shards'][number]): string {
  if (s.state === 'running' && s.silentSeconds > SILENT_SECONDS)
    return `running? no heartbeat for ${Math.round(s.silentSeconds)} s: if its process is gone, rerun the shard`;
  return s.state;
}

function share(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 1000) / 10;
}

/** A run as the JSON report and `--json` give it: rows plus each shard's share of repositories and tags. */
export function runJSON(run: RunRow): object {
  const repos = run.shards.reduce((s, x) => s + x.repositories, 0);
  const tags = run.shards.reduce((s, x) => s + x.tags, 0);
  const stepTwoDone = run.shards.filter((s) => s.stepTwoFinishedAt !== null).length;
  return {
    runId: run.runId,
    shardCount: run.shardCount,
    steps: run.steps,
    createdAt: run.createdAt.toISOString(),
    state: runState(run),
    shardsFinishedStepTwo: stepTwoDone,
    lockfilesSwitchedAt: run.lockfilesSwitchedAt?.toISOString() ?? null,
    switchedBy: run.switchedBy,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    repositories: repos,
    tags,
    shards: run.shards.map((s) => ({
      index: s.index,
      state: s.state,
      ...(s.state === 'running' ? { secondsSinceHeartbeat: Math.round(s.silentSeconds) } : {}),
      step: s.step,
      repositories: s.repositories,
      tags: s.tags,
      blobs: s.blobs,
      repositoryShare: share(s.repositories, repos),
      tagShare: share(s.tags, tags),
      attempts: s.attempts,
      startedAt: s.startedAt.toISOString(),
      updatedAt: s.updatedAt.toISOString(),
      stepTwoFinishedAt: s.stepTwoFinishedAt?.toISOString() ?? null,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      error: s.error,
    })),
  };
}

function runState(run: RunRow): string {
  if (run.finishedAt !== null) return 'finished';
  if (run.shards.some((s) => s.state === 'failed')) return 'failed shards: rerun them';
  if (run.shards.some((s) => shardState(s) !== s.state)) return 'running, with silent shards';
  return 'running';
}

const time = (d: Date | null): string => (d === null ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z'));

export function formatRun(run: RunRow): string {
  const repos = run.shards.reduce((s, x) => s + x.repositories, 0);
  const tags = run.shards.reduce((s, x) => s + x.tags, 0);
  const stepTwoDone = run.shards.filter((s) => s.stepTwoFinishedAt !== null).length;
  const switched =
    run.lockfilesSwitchedAt !== null
      ? `switched ${time(run.lockfilesSwitchedAt)} by shard ${run.switchedBy ?? '?'}`
      : run.steps.includes('2')
        ? `not switched (${stepTwoDone} of ${run.shardCount} shards finished step two)`
        : 'not switched (no step two in this run)';
  const head =
    `run ${run.runId}: ${runState(run)}, ${run.shards.length} of ${run.shardCount} shards started, ` +
    `steps ${run.steps}, started ${time(run.createdAt)}` +
    (run.finishedAt !== null ? `, finished ${time(run.finishedAt)}` : '') +
    `\nlockfiles: ${switched}\n`;
  const rows = run.shards.map((s) => [
    `${s.index}/${run.shardCount}`,
    shardState(s),
    s.step === null ? '' : String(s.step),
    `${s.repositories} (${share(s.repositories, repos)}%)`,
    `${s.tags} (${share(s.tags, tags)}%)`,
    String(s.blobs),
    String(s.attempts),
    time(s.stepTwoFinishedAt),
    time(s.updatedAt),
    s.error ?? '',
  ]);
  return (
    head +
    renderTable(
      [
        'shard',
        'state',
        'step',
        'repositories',
        'tags',
        'blobs',
        'attempts',
        'step two done',
        'updated',
        'error',
      ],
      rows,
    )
  );
}

/** `{ run: … }` for the JSON report of a sharded import (a snapshot: other shards may still run). */
export async function runReport(
  pool: Database['pool'],
  run: { runId: string } | undefined,
): Promise<{ run?: object }> {
  if (run === undefined) return {};
  const rows = await readRuns(pool, run.runId).catch(() => []);
  return rows[0] !== undefined ? { run: runJSON(rows[0]) } : {};
}

interface StatusFlags {
  runId?: string;
  json?: boolean;
}

export function registerImportStatus(database: Command): void {
  database
    .command('import-status')
    .description('show the shards of sharded import runs (import --shard): state, step, progress, errors')
    .addArgument(configArgument())
    .option('--run-id <id>', 'show only this run')
    .option('--json', 'print the runs as JSON')
    .action(async (configArg: string | undefined, flags: StatusFlags, cmd: Command) => {
      const runId = flags.runId !== undefined ? checkRunId(flags.runId) : undefined;
      const config = loadCommandConfig(configArg);
      await withDatabase(config, cmd, {}, async (db) => {
        const runs = await readRuns(db.pool, runId);
        if (flags.json) {
          process.stdout.write(JSON.stringify(runs.map(runJSON), null, 2) + '\n');
          return;
        }
        if (runs.length === 0 && runId !== undefined)
          throw new Error(
            `no sharded import run "${runId}" in this database: see import-status without --run-id`,
          );
        if (runs.length === 0) {
          process.stdout.write('no sharded import runs\n');
          return;
        }
        process.stdout.write(runs.map(formatRun).join('\n'));
      });
    });
}
