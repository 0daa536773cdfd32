/**
 * The import run (spec §2.1): steps 1 -> 2 -> 3 as selected, each resumable from its checkpoints,
 * lockfiles after step two (§1.8), one import_statistics row per real run (§2.14), row counts
 * (§2.13). A dry run shares one rolled-back transaction and persists nothing (issue 5 §2).
 */
import type { Database } from '../db/open.js';
import type { StorageDriver } from '../../drivers/driver.js';
import type { ImportEvents } from '../db/import-events.js';
import { ImportWriter } from '../db/import-writer.js';
import { RowThrottle } from '../db/write-throttle.js';
import { silentLogger, type Logger } from '../log.js';
import { LOCKFILE_CONTENT, lockfilePath } from '../registry/paths.js';
import type { FileInfo } from '../../drivers/driver.js';
import type { ResumeState } from '../db/import-writer.js';
import { blobWalk, importBlobs } from './blobs-step.js';
import {
  importRepositories,
  recordSkip,
  repositoryWalk,
  type PipelineContext,
  type PipelineOptions,
} from './pipeline.js';
import { WalkAhead } from './walk-ahead.js';
import { Report, type StepReport } from './report.js';
import { unreadableSkip } from './skips.js';
import type { RunCoordinator } from './shard-run.js';
import { StorageReads } from './storage-reads.js';
import { filterScope } from './repository-filter.js';
import { Step } from '../db/import-rows.js';

export interface ImportOptions extends PipelineOptions {
  /** Steps to run, in order; no step flag means all three. */
  readonly steps: readonly Step[];
  readonly dryRun: boolean;
  readonly importStatistics: boolean;
  readonly rowCount: boolean;
  /** Continue from the checkpoints of an interrupted run of the same steps and shard. */
  readonly resume: boolean;
  /** Write GC queue rows set-based where provably equivalent (false: GitLab's row triggers). */
  readonly setBasedGc?: boolean;
  /** `--max-rows-per-second` (issue 14 §6); undefined: unthrottled. */
  readonly maxRowsPerSecond?: number;
}

export interface ImportDeps {
  readonly pool: Database['pool'];
  readonly driver: StorageDriver;
  readonly logger?: Logger;
  readonly onProgress?: (step: StepReport, found: number) => void;
  readonly signal?: AbortSignal;
  /** A shard's run (issue 13): it decides when the lockfiles switch. Absent: this process is the run. */
  readonly run?: RunCoordinator;
  /** Told when the import reaches a point of interest (tests only, see ImportEvents). */
  readonly events?: ImportEvents;
}

/** A failed run, with what it did before failing (the CLI still prints and writes the report). */
export class ImportFailure extends Error {
  constructor(
    message: string,
    readonly report: Report,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ImportFailure';
  }
}

const STEP_ERROR_PREFIX: Record<Step, string> = {
  [Step.preImport]: 'pre importing all repositories',
  [Step.allRepositories]: 'importing all repositories',
  [Step.commonBlobs]: 'importing blobs',
};

/** Which run a checkpoint belongs to: the selected steps and the shard. */
export function checkpointScope(
  steps: readonly Step[],
  opts: Pick<ImportOptions, 'shard' | 'repositories'>,
): string {
  const shard = opts.shard ? `${opts.shard.index}/${opts.shard.count}` : 'all';
  return `steps=${steps.join('')} shard=${shard}${filterScope(opts.repositories)}`;
}

export async function runImport(deps: ImportDeps, opts: ImportOptions): Promise<Report> {
  const logger = deps.logger ?? silentLogger;
  const report = new Report();
  const writer = await ImportWriter.open(deps.pool, {
    dryRun: opts.dryRun,
    dynamicMediaTypes: opts.dynamicMediaTypes,
    scope: checkpointScope(opts.steps, opts),
    logger,
    setBasedGc: opts.setBasedGc ?? true,
    ...(opts.maxRowsPerSecond ? { throttle: new RowThrottle(opts.maxRowsPerSecond) } : {}),
    events: deps.events,
  });
  report.gcTracking = writer.gc.mode;
  const ctx: PipelineContext = {
    reads: new StorageReads(deps.driver, deps.signal, (path, reason) =>
      recordSkip(ctx, opts.strict, unreadableSkip(path, reason)),
    ),
    writer,
    logger,
    report,
    onProgress: deps.onProgress,
  };
  logger.info(
    {
      pre_import: opts.steps.includes(Step.preImport),
      repository_import: opts.steps.includes(Step.allRepositories),
      common_blobs: opts.steps.includes(Step.commonBlobs),
      dry_run: opts.dryRun,
    },
    'starting metadata import',
  );
  let failure: Error | undefined;
  // The next step's walk, started once a step has read storage to the end (walk-ahead.ts).
  let ahead: StepAhead | undefined;
  try {
    await deps.run?.start(report);
    if (!opts.resume) await writer.clearScope();
    for (const [i, step] of opts.steps.entries()) {
      const sr = report.startStep(step);
      const early = ahead?.step === step ? ahead : undefined;
      ahead = undefined;
      try {
        const state = await (early?.state ?? writer.resumeState(step));
        // An interrupted run's counts carry over, so the statistics match an uninterrupted run.
        sr.repositories = state.counts.repositories;
        sr.tags = state.counts.tags;
        sr.manifests = state.counts.manifests;
        sr.blobs = state.counts.blobs;
        sr.blobBytes = state.counts.blobBytes;
        if (state.finished) {
          sr.resumed = true;
          logger.info({ step }, 'step already completed by the interrupted run being resumed');
        } else {
          await writer.startStep(step);
          if (step === Step.commonBlobs) await importBlobs(ctx, opts, state.done, sr, early?.files);
          else
            await importRepositories(ctx, step, opts, state.done, sr, state.last, {
              files: early?.files,
              readingDone: () => (ahead = walkAhead(ctx, opts, writer, opts.steps[i + 1])),
            });
          await writer.finishStep(step);
          logger.debug({ step, database_seconds: writer.takeTimings() }, 'database time by statement');
          await deps.events?.reached('step-finished', step);
        }
        // Some repositories only (issue 14 §3): the registry is not on the database yet.
        if (step === Step.allRepositories && !opts.dryRun && !opts.repositories) {
          if (deps.run) await deps.run.stepTwoFinished(() => switchOrRestore(deps.driver));
          else await lockDatabase(deps.driver);
        }
      } catch (err) {
        sr.error = (err as Error).message;
        if (step === Step.allRepositories && !opts.dryRun && !opts.repositories && !deps.run) {
          await restoreLockfiles(deps.driver).catch((lockErr: Error) => {
            sr.error = `${sr.error}: could not restore lockfiles: ${lockErr.message}`;
          });
        }
        throw new Error(`${STEP_ERROR_PREFIX[step]}: ${sr.error}`, { cause: err });
      } finally {
        // A walk started for this step and not taken to its end (the step failed first) stops here.
        early?.files.stop();
        sr.finishedAt = new Date();
      }
    }
    await writer.clearScope();
    if (opts.rowCount) {
      const counts = await writer.countRows().catch((err: Error) => {
        logger.error({ err }, 'counting table rows');
        return undefined;
      });
      if (counts)
        report.rowCount = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v.toString()]));
    }
    await deps.run?.finished();
  } catch (err) {
    failure = err as Error;
    ahead?.files.stop();
    await deps.run?.failed(failure.message).catch((runErr: Error) => {
      logger.error({ err: runErr }, 'could not record the failed shard in regdb_import.shards');
    });
  } finally {
    await writer.close();
    report.finishedAt = new Date();
    report.requests = deps.driver.requestCounts();
  }
  if (opts.importStatistics && !opts.dryRun) {
    await writer.insertStatistics(statisticsValues(report, deps.driver.name)).catch((err: Error) => {
      logger.error({ err }, 'failed to commit import statistics to the database');
    });
  }
  if (failure) throw new ImportFailure(failure.message, report, { cause: failure });
  const seconds = (report.finishedAt!.getTime() - report.startedAt.getTime()) / 1000;
  logger.info({ duration_s: seconds, ...(report.rowCount ?? {}) }, 'metadata import complete');
  return report;
}

/** A step's resume state and walk, started before the step. */
interface StepAhead {
  readonly step: Step;
  readonly state: Promise<ResumeState>;
  readonly files: WalkAhead<FileInfo>;
}

async function* nothing(): AsyncGenerator<FileInfo> {}

/**
 * Starts the walk of `step` (if any) now; a step the interrupted run finished walks nothing. Object
 * stores only: a filesystem walk waits on no round trips, and walking ahead there only held more in
 * memory (default corpus: 30.5-30.6 s and 161-163 MB peak RSS without, 30.9-34.0 s and 230-233 MB
 * with).
 */
function walkAhead(
  ctx: PipelineContext,
  opts: ImportOptions,
  writer: ImportWriter,
  step: Step | undefined,
): StepAhead | undefined {
  if (step === undefined || ctx.reads.driver.directoryWalk) return undefined;
  const state = writer.resumeState(step);
  // Awaited by the step; until then a failure must not count as an unhandled rejection.
  state.catch(() => undefined);
  const files = new WalkAhead(async () => {
    const s = await state;
    if (s.finished) return nothing();
    return step === Step.commonBlobs ? blobWalk(ctx, opts) : repositoryWalk(ctx, step, opts, s.last);
  });
  files.start();
  return { step, state, files };
}

/** Step two succeeded: the registry now runs on the database (spec §1.8). */
async function lockDatabase(driver: StorageDriver): Promise<void> {
  await driver.delete(lockfilePath('filesystem-in-use'));
  await driver.putContent(lockfilePath('database-in-use'), Buffer.from(LOCKFILE_CONTENT));
}

/** A shard's switch: on failure the lockfiles go back before the error propagates. */
async function switchOrRestore(driver: StorageDriver): Promise<void> {
  try {
    await lockDatabase(driver);
  } catch (err) {
    await restoreLockfiles(driver).catch(() => undefined);
    throw err;
  }
}

async function restoreLockfiles(driver: StorageDriver): Promise<void> {
  await driver.delete(lockfilePath('database-in-use'));
  await driver.putContent(lockfilePath('filesystem-in-use'), Buffer.from(LOCKFILE_CONTENT));
}

/** Column values of the import_statistics row, in INSERT_STATISTICS order (spec §2.14). */
function statisticsValues(report: Report, driverName: string): unknown[] {
  const s = (n: Step) => report.steps.find((x) => x.step === n);
  const one = s(Step.preImport);
  const two = s(Step.allRepositories);
  const three = s(Step.commonBlobs);
  const counts = two ?? one;
  const cols = (x: StepReport | undefined) => [
    x !== undefined,
    x?.startedAt ?? null,
    x?.finishedAt ?? null,
    x?.error ?? null,
  ];
  return [
    report.startedAt,
    report.finishedAt ?? new Date(),
    ...cols(one),
    ...cols(two),
    ...cols(three),
    counts?.repositories ?? 0,
    counts?.tags ?? 0,
    counts?.manifests ?? 0,
    three?.blobs ?? 0,
    (three?.blobBytes ?? 0n).toString(),
    driverName,
  ];
}
