/**
 * Steps one and two (spec §2.2, §2.3): one walk of the repositories root, grouped per repository,
 * `--concurrency` repositories read at once behind a bounded queue, rows built per repository, and
 * batches of repositories written in enumeration order, each batch in one transaction with its
 * checkpoints. At most one batch is being written while the next one fills, so memory stays bounded.
 */
import pLimit from 'p-limit';
import type { Logger } from '../log.js';
import type { ImportWriter, RepositoryState } from '../db/import-writer.js';
import { topLevelNamespace } from '../registry/names.js';
import { REPOSITORIES_ROOT } from '../registry/paths.js';
import {
  groupRepositories,
  pruneRepositoryWalk,
  pruneRepositoryWalkAndLayers,
  type Repository,
} from '../registry/repositories.js';
import { IMPORT_DEFAULTS } from './defaults.js';
import { readRepository } from './read-repository.js';
import type { Report, StepReport } from './report.js';
import { buildRepositoryRows } from './rows.js';
import { inShard, type Shard } from './shard.js';
import { SKIP_REASONS } from './skips.js';
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

export async function importRepositories(
  ctx: PipelineContext,
  step: RepositoryStep,
  opts: PipelineOptions,
  checkpointed: ReadonlySet<string>,
  stepReport: StepReport,
  lastCheckpoint: string | null = null,
): Promise<void> {
  const knownMediaTypes = await ctx.writer.mediaTypes();
  // Step two on a filesystem leaves `_layers` out of the walk (one directory per layer link, and
  // most manifests are in the database already): a repository lists it when a layer check needs it.
  // Object stores list every key under the root in pages anyway; pruning would cost requests there.
  const layersLater = step === Step.allRepositories && ctx.reads.driver.directoryWalk;
  // A resumed run does not walk again what the interrupted one finished (the driver may still yield
  // some of it: `startAfter` is a hint, and checkpointed repositories are skipped below anyway).
  const files = ctx.reads.driver.walk(REPOSITORIES_ROOT, {
    prune: layersLater ? pruneRepositoryWalkAndLayers : pruneRepositoryWalk,
    emptyDirectories: true,
    ...(lastCheckpoint !== null ? { startAfter: resumeWalkAfter(lastCheckpoint) } : {}),
  });
  const limit = pLimit(opts.concurrency);
  type Done = { name: string; rows: RepositoryRows | null; counts: StepCounts };
  const queue: Promise<Done>[] = [];
  const none: StepCounts = { repositories: 0, tags: 0, manifests: 0 };
  // The interrupted run found and finished these; the walk may not meet them again.
  let found = checkpointed.size;
  stepReport.checkpointed = checkpointed.size;
  let batch: RepositoryRows[] = [];
  let batchKeys: string[] = [];
  let batchSize = { rows: 0, bytes: 0 };
  let batchCounts: StepCounts = { ...none };
  let writing: Promise<void> = Promise.resolve();

  const flush = async (): Promise<void> => {
    if (batchKeys.length === 0) return;
    const repositories = batch;
    const checkpoints = batchKeys;
    const counts = batchCounts;
    batch = [];
    batchKeys = [];
    batchSize = { rows: 0, bytes: 0 };
    batchCounts = { ...none };
    await writing;
    writing = ctx.writer
      .write({ kind: 'repositories', step, repositories, checkpoints, counts })
      .then((ins) => {
        ctx.report.addInserted(ins);
      });
    writing.catch(() => undefined); // awaited by the next flush
  };

  // What the database holds for the repositories: one query per chunk of repositories, not per one.
  type State = RepositoryState | undefined;
  let chunk: { name: string; resolve: (s: State) => void; reject: (e: unknown) => void }[] = [];
  const flushState = (): void => {
    if (chunk.length === 0) return;
    const c = chunk;
    chunk = [];
    ctx.writer.repositoryState(c.map((x) => x.name)).then(
      (m) => c.forEach((x) => x.resolve(m.get(x.name))),
      (err: unknown) => c.forEach((x) => x.reject(err)),
    );
  };
  const stateOf = (name: string): Promise<State> => {
    const p = new Promise<State>((resolve, reject) => chunk.push({ name, resolve, reject }));
    p.catch(() => undefined);
    if (chunk.length >= IMPORT_DEFAULTS.stateChunk) flushState();
    return p;
  };

  const processOne = async (repo: Repository, statePromise: Promise<State>): Promise<Done> => {
    const log = ctx.logger.child({ step, repository: repo.name });
    const state = await statePromise;
    if (
      step === Step.preImport &&
      opts.skipRecentCutoff &&
      state?.lastPublishedAt &&
      state.lastPublishedAt > opts.skipRecentCutoff
    ) {
      log.info(
        {
          skip_cutoff_date: opts.skipRecentCutoff.toISOString(),
          last_preimport_date: state.lastPublishedAt.toISOString(),
        },
        'skipping repository pre import: last pre imported after skip cutoff date',
      );
      return { name: repo.name, rows: null, counts: none };
    }
    const existingManifests = state?.manifests ?? new Set<string>();
    const facts = await readRepository(
      ctx.reads,
      { repository: repo, existingManifests },
      {
        step,
        referrers: opts.referrers,
        tagConcurrency: opts.tagConcurrency,
        readConcurrency: IMPORT_DEFAULTS.readConcurrency,
        listingMd5: ctx.reads.driver.listingMd5,
      },
    );
    for (const p of facts.problems ?? []) log.warn({ path: p.path, reason: p.reason }, p.message);
    for (const w of facts.warnings ?? []) {
      ctx.report.addSkip(w, ctx.report.warnings);
      log.warn({ path: w.path, digest: w.digest, tag: w.tag }, w.message);
    }
    const result = buildRepositoryRows(facts, { ...opts, step, knownMediaTypes });
    for (const s of result.skips) recordSkip(ctx, opts.strict, s);
    if (!result.ok) {
      return {
        name: repo.name,
        rows: null,
        counts: { ...none, repositories: result.countsAsRepository ? 1 : 0 },
      };
    }
    return { name: repo.name, rows: result.rows, counts: result.rows.counts };
  };

  const take = async (): Promise<void> => {
    const done = await queue.shift()!;
    batchKeys.push(done.name);
    // Counted with the batch's checkpoints, so a resumed run reports an uninterrupted run's totals.
    for (const k of ['repositories', 'tags', 'manifests'] as const) {
      stepReport[k] += done.counts[k];
      batchCounts[k] += done.counts[k];
    }
    if (done.rows !== null) {
      const r = done.rows;
      batch.push(r);
      const size = rowCount(r);
      batchSize = { rows: batchSize.rows + size.rows, bytes: batchSize.bytes + size.bytes };
    }
    if (batchSize.rows >= opts.batchRows || batchSize.bytes >= IMPORT_DEFAULTS.batchBytes) await flush();
    ctx.onProgress?.(stepReport, found);
  };

  try {
    await walkAndQueue();
    while (queue.length > 0) await take();
    await flush();
    await writing;
  } catch (err) {
    // Nothing may be left rejecting unobserved once the step fails.
    for (const q of queue) q.catch(() => undefined);
    // A batch being written still commits or fails before the step reports its failure: the caller
    // may count checkpoints, write statistics or close the pool next.
    await writing.catch(() => undefined);
    throw err;
  }

  async function walkAndQueue(): Promise<void> {
    for await (const entry of groupRepositories(files, { layersListed: !layersLater })) {
      if (!inShard(topLevelNamespace(entry.name), opts.shard)) continue;
      if (checkpointed.has(entry.name)) continue;
      found++;
      if (entry.kind === 'invalid-name') {
        recordSkip(ctx, opts.strict, {
          reason: 'repository-name-invalid',
          path: entry.path,
          repository: entry.name,
          message: `parsing repository name: ${entry.message}`,
          gitlabFatal: SKIP_REASONS['repository-name-invalid'].fatal,
        });
        // Checkpointed and counted like any other repository (GitLab counts every one in step two).
        queue.push(
          Promise.resolve({
            name: entry.name,
            rows: null,
            counts: { ...none, repositories: step === Step.allRepositories ? 1 : 0 },
          }),
        );
        while (queue.length >= opts.concurrency * 2) {
          flushState();
          await take();
        }
        continue;
      }
      for (const p of entry.problems) ctx.logger.warn({ path: p.path, reason: p.reason }, p.message);
      const state = stateOf(entry.name);
      const job = limit(() => processOne(entry, state));
      // Awaited in order by take(); until then a failure must not count as an unhandled rejection.
      job.catch(() => undefined);
      queue.push(job);
      while (queue.length >= opts.concurrency * 2) {
        // A job waiting for its state must not wait for a chunk that only fills later.
        flushState();
        await take();
      }
    }
    flushState();
  }
}
