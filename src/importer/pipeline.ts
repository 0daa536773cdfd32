/**
 * Steps one and two (spec §2.2, §2.3): one walk of the repositories root, grouped per repository,
 * `--concurrency` repositories read at once behind a bounded queue, rows built per repository, and
 * batches of repositories written in enumeration order, each batch in one transaction with its
 * checkpoints. At most one batch is being written while the next one fills, so memory stays bounded.
 */
import type { FileInfo } from '../../drivers/driver.js';
import type { Logger } from '../log.js';
import type { ImportWriter, RepositoryState } from '../db/import-writer.js';
import { REPOSITORIES_ROOT } from '../registry/paths.js';
import {
  groupRepositories,
  pruneRepositoryWalk,
  pruneRepositoryWalkAndLayers,
  type Repository,
  type RepositoryProblem,
  type InvalidRepository,
} from '../registry/repositories.js';
import { Batcher } from './batcher.js';
import { OrderedPool } from './ordered-pool.js';
import { StateLoader } from './state-loader.js';
import { IMPORT_DEFAULTS } from './defaults.js';
import { readRepository } from './read-repository.js';
import { filterWalkRoot, inRepositoryFilter, type RepositoryFilter } from './repository-filter.js';
import type { Report, StepReport } from './report.js';
import { buildRepositoryRows } from './rows.js';
import { inShard, pruneOtherShards, type Shard } from './shard.js';
import { SKIP_REASONS, unreadableSkip } from './skips.js';
import type { StorageReads } from './storage-reads.js';
import { Step, type RepositoryRows, type RepositoryStep } from '../db/import-rows.js';
import type { SkipRecord, StepCounts } from './types.js';

export interface PipelineOptions {
  readonly dynamicMediaTypes: boolean;
  readonly referrers: boolean;
  readonly strict: boolean;
  readonly concurrency: number;
  readonly tagConcurrency: number;
  /** Rows per batch (one transaction); payload bytes are capped separately. */
  readonly batchRows: number;
  readonly shard: Shard | null;
  /** Step one skips repositories pre-imported after this instant (spec §2.15); null disables. */
  readonly skipRecentCutoff: Date | null;
  readonly now: Date;
  /** `--repository`, `--repository-prefix` (issue 14 §3): only these repositories; null: all. */
  readonly repositories?: RepositoryFilter | null;
  /** `--dangling-manifests` (issue 14 §4): also every untagged revision, with its layers and references. */
  readonly danglingManifests?: boolean;
  /** `--tag-timestamps storage` (issue 14 §5): tags' times from their current link's last-modified time. */
  readonly tagTimestamps?: 'import' | 'storage';
}

export interface PipelineContext {
  readonly reads: StorageReads;
  readonly writer: ImportWriter;
  readonly logger: Logger;
  readonly report: Report;
  readonly onProgress?: (step: StepReport, found: number) => void;
}

/** A skip that GitLab makes fatal fails the run under `--strict`. */
export function recordSkip(ctx: PipelineContext, strict: boolean, s: SkipRecord): void {
  ctx.report.addSkip(s);
  ctx.logger.warn(
    { reason: s.reason, path: s.path, repository: s.repository, digest: s.digest, tag: s.tag },
    s.message,
  );
  if (strict && s.gitlabFatal) {
    throw new Error(`${s.message} (${s.path}); --strict stops on what GitLab's importer treats as fatal`);
  }
}

/** A path the walk found but could not use: logged, and listed with the report's warnings. */
function recordProblem(ctx: PipelineContext, repository: string, p: RepositoryProblem): void {
  ctx.report.addSkip(
    { reason: p.reason, path: p.path, repository, message: p.message, gitlabFatal: false },
    ctx.report.warnings,
  );
  ctx.logger.warn({ path: p.path, reason: p.reason, repository }, p.message);
}

function rowCount(r: RepositoryRows): { rows: number; bytes: number } {
  let bytes = 0;
  for (const m of r.manifests) bytes += m.payload.length + (m.configPayload?.length ?? 0);
  const rows =
    1 +
    r.blobs.length +
    r.repositoryBlobs.length +
    r.manifests.length +
    r.layers.length +
    r.references.length +
    (r.tags?.length ?? 0);
  return { rows, bytes };
}

/**
 * Where a resumed walk may start: just past the own files (`_layers`, `_manifests`) of the repository
 * checkpointed last. Every path before it belongs to a repository the walk meets earlier, all of them
 * checkpointed (batches commit in walk order); nested repositories sort after it ('/' < '0' < '_' <
 * 'a'), except names starting with a digit or uppercase letter, which sort before `_layers` and so
 * were met before it. Past `<repo>/_manifests/…` comes `<repo>/_manifests0`.
 */
export function resumeWalkAfter(lastRepository: string): string {
  return `${REPOSITORIES_ROOT}/${lastRepository}/_manifests0`;
}

/** One repository's outcome, taken in walk order: its rows (null: none to write) and its counts. */
interface Done {
  readonly name: string;
  readonly rows: RepositoryRows | null;
  readonly counts: StepCounts;
}

/** A batch of repositories being filled: rows, checkpoints (every repository taken), counters. */
interface RepositoryBatch {
  readonly repositories: RepositoryRows[];
  readonly checkpoints: string[];
  readonly counts: StepCounts;
}

const noCounts = (): StepCounts => ({ repositories: 0, tags: 0, manifests: 0 });

/**
 * Step two on a filesystem leaves `_layers` out of the walk (one directory per layer link, and most
 * manifests are in the database already): a repository lists it when a layer check needs it. Object
 * stores list every key under the root in pages anyway; pruning would cost requests there.
 */
function layersListedLater(ctx: PipelineContext, step: RepositoryStep): boolean {
  return step === Step.allRepositories && ctx.reads.driver.directoryWalk;
}

/** The walk a repository step reads: the repositories root (or the filter's), pruned, resumed. */
export function repositoryWalk(
  ctx: PipelineContext,
  step: RepositoryStep,
  opts: PipelineOptions,
  lastCheckpoint: string | null,
): AsyncIterable<FileInfo> {
  // A resumed run does not walk again what the interrupted one finished (the driver may still yield
  // some of it: `startAfter` is a hint, and checkpointed repositories are skipped anyway).
  const prune = layersListedLater(ctx, step) ? pruneRepositoryWalkAndLayers : pruneRepositoryWalk;
  return ctx.reads.driver.walk(filterWalkRoot(opts.repositories), {
    prune:
      opts.shard && ctx.reads.driver.directoryWalk
        ? pruneOtherShards(prune, REPOSITORIES_ROOT, opts.shard)
        : prune,
    emptyDirectories: true,
    onUnreadable: (path, reason) => recordSkip(ctx, opts.strict, unreadableSkip(path, reason)),
    ...(lastCheckpoint !== null ? { startAfter: resumeWalkAfter(lastCheckpoint) } : {}),
  });
}

/** What a step reads, when its caller prepared it, and whom to tell once storage is read. */
export interface StepWalk {
  /** The step's walk, started early (walk-ahead.ts); absent: the step starts its own. */
  readonly files?: AsyncIterable<FileInfo>;
  /** Storage is read to the end; only the last batches' writes are left. */
  readonly readingDone?: () => void;
}

export async function importRepositories(
  ctx: PipelineContext,
  step: RepositoryStep,
  opts: PipelineOptions,
  checkpointed: ReadonlySet<string>,
  stepReport: StepReport,
  lastCheckpoint: string | null = null,
  walk: StepWalk = {},
): Promise<void> {
  const knownMediaTypes = await ctx.writer.mediaTypes();
  const layersLater = layersListedLater(ctx, step);
  const files = walk.files ?? repositoryWalk(ctx, step, opts, lastCheckpoint);
  // The interrupted run found and finished these; the walk may not meet them again.
  let found = checkpointed.size;
  stepReport.checkpointed = checkpointed.size;

  const batcher = new Batcher<RepositoryBatch>({
    limits: { rows: opts.batchRows, bytes: IMPORT_DEFAULTS.batchBytes },
    create: () => ({ repositories: [], checkpoints: [], counts: noCounts() }),
    isEmpty: (b) => b.checkpoints.length === 0,
    write: async (b) => {
      ctx.report.addInserted(await ctx.writer.write({ kind: 'repositories', step, ...b }));
    },
  });
  const states = new StateLoader<RepositoryState>(
    (names) => ctx.writer.repositoryState(names),
    IMPORT_DEFAULTS.stateChunk,
  );
  const pool = new OrderedPool<Done>({
    concurrency: opts.concurrency,
    window: opts.concurrency * 2,
    // A job waiting for its state must not wait for a chunk that only fills later.
    beforeWait: () => states.flush(),
    take: async (done) => {
      addToBatch(batcher, stepReport, done);
      if (batcher.ready) await batcher.flush();
      ctx.onProgress?.(stepReport, found);
    },
  });

  try {
    for await (const entry of groupRepositories(files, { layersListed: !layersLater })) {
      if (!inShard(entry.name, opts.shard)) continue;
      if (!inRepositoryFilter(entry.name, opts.repositories)) continue;
      if (checkpointed.has(entry.name)) continue;
      found++;
      if (entry.kind === 'invalid-name') {
        await pool.add(invalidRepository(ctx, step, opts, entry));
        continue;
      }
      for (const p of entry.problems) recordProblem(ctx, entry.name, p);
      const state = states.get(entry.name);
      // Requests go in walk order (the order batches are written in): earlier repositories first.
      const priority = found;
      await pool.run(async () =>
        importRepository(ctx, step, opts, knownMediaTypes, entry, await state, priority),
      );
    }
    states.flush();
    await pool.drain();
    walk.readingDone?.();
    await batcher.finish();
  } catch (err) {
    pool.abandon();
    await batcher.settle();
    throw err;
  }
}

/** Adds a taken repository to the batch; counted with its checkpoint, so a resumed run reports totals. */
function addToBatch(batcher: Batcher<RepositoryBatch>, stepReport: StepReport, done: Done): void {
  const batch = batcher.current;
  batch.checkpoints.push(done.name);
  for (const k of ['repositories', 'tags', 'manifests'] as const) {
    stepReport[k] += done.counts[k];
    batch.counts[k] += done.counts[k];
  }
  if (done.rows !== null) {
    batch.repositories.push(done.rows);
    const size = rowCount(done.rows);
    batcher.added(size.rows, size.bytes);
  }
}

/** An invalid repository name: skipped, checkpointed and counted like any other (GitLab counts every one in step two). */
function invalidRepository(
  ctx: PipelineContext,
  step: RepositoryStep,
  opts: PipelineOptions,
  entry: InvalidRepository,
): Done {
  recordSkip(ctx, opts.strict, {
    reason: 'repository-name-invalid',
    path: entry.path,
    repository: entry.name,
    message: `parsing repository name: ${entry.message}`,
    gitlabFatal: SKIP_REASONS['repository-name-invalid'].fatal,
  });
  return {
    name: entry.name,
    rows: null,
    counts: { ...noCounts(), repositories: step === Step.allRepositories ? 1 : 0 },
  };
}

/** One repository: skip it when pre-imported recently, else read it from storage and build its rows. */
async function importRepository(
  ctx: PipelineContext,
  step: RepositoryStep,
  opts: PipelineOptions,
  knownMediaTypes: ReadonlySet<string>,
  repo: Repository,
  state: RepositoryState | undefined,
  priority: number,
): Promise<Done> {
  // The repository and step go in each line's fields, as recordProblem does, not in a pino child:
  // a child with redaction costs ~40 KB of garbage per repository and step, logging or not.
  if (
    step === Step.preImport &&
    opts.skipRecentCutoff &&
    state?.lastPublishedAt &&
    state.lastPublishedAt > opts.skipRecentCutoff
  ) {
    ctx.logger.info(
      {
        step,
        repository: repo.name,
        skip_cutoff_date: opts.skipRecentCutoff.toISOString(),
        last_preimport_date: state.lastPublishedAt.toISOString(),
      },
      'skipping repository pre import: last pre imported after skip cutoff date',
    );
    return { name: repo.name, rows: null, counts: noCounts() };
  }
  const facts = await readRepository(
    ctx.reads,
    { repository: repo, existingManifests: state?.manifests ?? new Set<string>() },
    {
      step,
      referrers: opts.referrers,
      dangling: opts.danglingManifests ?? false,
      tagTimes: opts.tagTimestamps === 'storage',
      tagConcurrency: opts.tagConcurrency,
      readConcurrency: ctx.reads.driver.directoryWalk
        ? IMPORT_DEFAULTS.readConcurrency
        : IMPORT_DEFAULTS.objectStoreReadConcurrency,
      listingMd5: ctx.reads.driver.listingMd5,
      priority,
    },
  );
  for (const p of facts.problems ?? []) recordProblem(ctx, repo.name, p);
  for (const w of facts.warnings ?? []) {
    ctx.report.addSkip(w, ctx.report.warnings);
    ctx.logger.warn({ step, repository: repo.name, path: w.path, digest: w.digest, tag: w.tag }, w.message);
  }
  const result = buildRepositoryRows(facts, { ...opts, step, knownMediaTypes });
  for (const s of result.skips) recordSkip(ctx, opts.strict, s);
  if (!result.ok) {
    return {
      name: repo.name,
      rows: null,
      counts: { ...noCounts(), repositories: result.countsAsRepository ? 1 : 0 },
    };
  }
  return { name: repo.name, rows: result.rows, counts: result.rows.counts };
}
