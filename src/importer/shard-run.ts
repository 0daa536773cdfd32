/**
 * A sharded import is one run (issue 13 §1): N processes, each `--shard I/N`, share a run identity
 * and record their state in the database. The lockfiles switch once, when all N have finished step
 * two, by whichever shard gets there last (decided under the run's row lock, see src/db/shard-state.ts).
 * Step three needs no barrier: it only adds `blobs` rows for blobs that have none, with
 * `ON CONFLICT DO NOTHING`, so its rows are the same whether another shard's step two ran before or after.
 *
 * A dry run never joins a run (it persists nothing, so it can never switch the lockfiles).
 */
import { createHash } from 'node:crypto';
import { ShardState, type ShardProgress } from '../db/shard-state.js';
import { silentLogger, type Logger } from '../log.js';
import type { Report } from './report.js';
import type { Shard } from './shard.js';
import type { Step } from '../db/import-rows.js';

/** How often a running shard writes its counters to `regdb_import.shards`. */
export const DEFAULT_HEARTBEAT_MS = 2_000;

/** What runImport tells the run about its shard (src/importer/run.ts calls these). */
export interface RunCoordinator {
  start(report: Report): Promise<void>;
  /** Step two of this shard is done: switch the lockfiles if this is the last shard to get here. */
  stepTwoFinished(switchLockfiles: () => Promise<void>): Promise<void>;
  finished(): Promise<void>;
  failed(message: string): Promise<void>;
}

/**
 * `--run-id` when given; otherwise derived from what makes shards one run: the registry storage
 * (`storageIdentity`, no secrets), the database, the shard count and the steps. Shards started from
 * the same config and `--shard I/N` therefore agree without being told.
 */
export function deriveRunId(storageIdentity: string, shardCount: number, steps: readonly Step[]): string {
  const h = createHash('sha256')
    .update(JSON.stringify([storageIdentity, shardCount, steps.join('')]))
    .digest('hex');
  return `run-${h.slice(0, 12)}`;
}

/** Counters of the shard so far, from its report: the last repository step's, and step three's blobs. */
export function progressOf(report: Report): ShardProgress {
  const current = report.steps.at(-1);
  const repoStep = report.steps.filter((s) => s.step !== 3).at(-1);
  const blobs = report.steps.find((s) => s.step === 3)?.blobs ?? 0;
  return {
    step: current?.step ?? null,
    repositories: repoStep?.repositories ?? 0,
    tags: repoStep?.tags ?? 0,
    blobs,
  };
}

/** A shard's part in a run, backed by `regdb_import.runs`/`shards`. */
export class ShardRun implements RunCoordinator {
  private report: Report | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** Whether this shard switched the lockfiles (for the summary). */
  switched = false;

  constructor(
    private readonly state: ShardState,
    private readonly opts: { fresh: boolean; heartbeatMs?: number; logger?: Logger },
  ) {}

  static create(
    pool: ConstructorParameters<typeof ShardState>[0],
    runId: string,
    shard: Shard,
    steps: readonly Step[],
    opts: { fresh: boolean; heartbeatMs?: number; logger?: Logger },
  ): ShardRun {
    return new ShardRun(new ShardState(pool, runId, shard.index, shard.count, steps.join('')), opts);
  }

  get runId(): string {
    return this.state.runId;
  }

  private get logger(): Logger {
    return this.opts.logger ?? silentLogger;
  }

  private progress(): ShardProgress {
    return this.report ? progressOf(this.report) : { step: null, repositories: 0, tags: 0, blobs: 0 };
  }

  async start(report: Report): Promise<void> {
    this.report = report;
    await this.state.join(this.opts.fresh);
    this.logger.info(
      { run_id: this.state.runId, shard: `${this.state.index}/${this.state.count}` },
      'joined sharded import run',
    );
    this.timer = setInterval(() => {
      // One write at a time; a failed heartbeat is logged, never fatal (the next one catches up).
      this.writing = this.writing
        .then(() => this.state.progress(this.progress()))
        .catch((err: Error) => this.logger.warn({ err }, 'could not record shard progress'));
    }, this.opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    this.timer.unref();
  }

  async stepTwoFinished(switchLockfiles: () => Promise<void>): Promise<void> {
    this.switched = await this.state.finishStepTwo(this.progress(), switchLockfiles);
    this.logger.info(
      { run_id: this.state.runId, switched_lockfiles: this.switched },
      this.switched
        ? 'all shards finished step two: lockfiles switched to the database'
        : 'step two finished; the lockfiles switch when the last shard finishes step two',
    );
  }

  private async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.writing;
  }

  async finished(): Promise<void> {
    await this.stop();
    await this.state.finish(this.progress());
  }

  async failed(message: string): Promise<void> {
    await this.stop();
    await this.state.fail(this.progress(), message);
  }
}
