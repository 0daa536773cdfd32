/**
 * Step three (spec §2.4, §1.7): every blob under `/docker/registry/v2/blobs` gets a `blobs` row when
 * it has none (octet-stream, the file size). Batches end on a blob-prefix boundary (`<alg>/<xx>`),
 * and each committed batch records its finished prefixes as checkpoints. Invalid blob paths are
 * reported and skipped (GitLab: fatal).
 */
import type { FileInfo } from '../../drivers/driver.js';
import { Step } from '../db/import-rows.js';
import { BLOBS_ROOT } from '../registry/paths.js';
import { enumerateBlobs } from '../registry/blobs.js';
import { Batcher } from './batcher.js';
import { BlobRowBuffer } from './blob-rows.js';
import { recordSkip, type PipelineContext } from './pipeline.js';
import { unreadableSkip } from './skips.js';
import type { StepReport } from './report.js';
import { inShard, type Shard } from './shard.js';

export interface BlobStepOptions {
  readonly strict: boolean;
  readonly batchRows: number;
  readonly shard: Shard | null;
}

/** `sha256/ab` for `/docker/registry/v2/blobs/sha256/ab/ab…/data`: the unit of checkpoints and shards. */
export function blobPrefix(path: string): string {
  const parts = path.slice(BLOBS_ROOT.length + 1).split('/');
  return parts.length >= 3 ? `${parts[0]}/${parts[1]}` : (parts[0] ?? '');
}

/** A batch of step three: packed rows, and the prefixes it finishes (its checkpoints). */
interface BlobBatch {
  readonly rows: BlobRowBuffer;
  readonly finished: string[];
  readonly counts: { blobs: number; blobBytes: bigint };
}

/** Step three's walk: every blob's `data` (and whatever else lies below the blobs root). */
export function blobWalk(ctx: PipelineContext, opts: BlobStepOptions): AsyncIterable<FileInfo> {
  return ctx.reads.driver.walk(BLOBS_ROOT, {
    onUnreadable: (path, reason) => recordSkip(ctx, opts.strict, unreadableSkip(path, reason)),
  });
}

export async function importBlobs(
  ctx: PipelineContext,
  opts: BlobStepOptions,
  checkpointed: ReadonlySet<string>,
  stepReport: StepReport,
  files: AsyncIterable<FileInfo> = blobWalk(ctx, opts),
): Promise<void> {
  const batcher = new Batcher<BlobBatch>({
    // Rows only: step three's rows are 40 bytes each.
    limits: { rows: opts.batchRows, bytes: Infinity },
    create: () => ({ rows: new BlobRowBuffer(), finished: [], counts: { blobs: 0, blobBytes: 0n } }),
    isEmpty: (b) => b.finished.length === 0,
    write: async (b) => {
      const ins = await ctx.writer.write({
        kind: 'blobs',
        step: Step.commonBlobs,
        blobs: b.rows,
        checkpoints: b.finished,
        counts: b.counts,
      });
      ctx.report.addInserted(ins);
    },
  });
  const mine = (prefix: string) => inShard(prefix, opts.shard) && !checkpointed.has(prefix);
  let current: string | null = null;
  const found = new Set<string>();

  try {
    for await (const entry of enumerateBlobs(files)) {
      const prefix = blobPrefix(entry.path);
      if (prefix !== current) {
        // Batches end on a prefix boundary, so each checkpoint covers whole prefixes.
        if (current !== null && mine(current)) {
          batcher.current.finished.push(current);
          if (batcher.ready) await batcher.flush();
        }
        current = prefix;
        if (inShard(prefix, opts.shard)) found.add(prefix);
        if (checkpointed.has(prefix) && inShard(prefix, opts.shard)) stepReport.checkpointed++;
      }
      if (!mine(prefix)) continue;
      if (entry.kind === 'invalid-path') {
        recordSkip(ctx, opts.strict, {
          reason: `blob-path-${entry.reason}`,
          path: entry.path,
          repository: '',
          message: entry.message,
          gitlabFatal: true,
        });
        continue;
      }
      stepReport.blobs++;
      stepReport.blobBytes += entry.size;
      const batch = batcher.current;
      batch.counts.blobs++;
      batch.counts.blobBytes += entry.size;
      batch.rows.push({ digest: entry.digest, size: entry.size });
      batcher.added(1);
      ctx.onProgress?.(stepReport, found.size);
    }
    if (current !== null && mine(current)) batcher.current.finished.push(current);
    await batcher.finish();
  } catch (err) {
    await batcher.settle();
    throw err;
  }
}
