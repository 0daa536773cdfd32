/**
 * Step three (spec §2.4, §1.7): every blob under `/docker/registry/v2/blobs` gets a `blobs` row when
 * it has none (octet-stream, the file size). Batches end on a blob-prefix boundary (`<alg>/<xx>`),
 * and each committed batch records its finished prefixes as checkpoints. Invalid blob paths are
 * reported and skipped (GitLab: fatal).
 */
import { Step } from '../db/import-rows.js';
import { BLOBS_ROOT } from '../registry/paths.js';
import { enumerateBlobs } from '../registry/blobs.js';
import { BlobRowBuffer } from './blob-rows.js';
import { recordSkip, type PipelineContext } from './pipeline.js';
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

export async function importBlobs(
  ctx: PipelineContext,
  opts: BlobStepOptions,
  checkpointed: ReadonlySet<string>,
  stepReport: StepReport,
): Promise<void> {
  let rows = new BlobRowBuffer();
  let counts = { blobs: 0, blobBytes: 0n };
  let finished: string[] = [];
  let current: string | null = null;
  let writing: Promise<void> = Promise.resolve();
  const found = new Set<string>();

  const flush = async (): Promise<void> => {
    if (finished.length === 0) return;
    const batch = {
      kind: 'blobs' as const,
      step: Step.commonBlobs,
      blobs: rows,
      checkpoints: finished,
      counts,
    };
    rows = new BlobRowBuffer();
    counts = { blobs: 0, blobBytes: 0n };
    finished = [];
    await writing;
    writing = ctx.writer.write(batch).then((ins) => ctx.report.addInserted(ins));
    writing.catch(() => undefined); // awaited by the next flush
  };

  try {
    for await (const entry of enumerateBlobs(ctx.reads.driver.walk(BLOBS_ROOT))) {
      const prefix = blobPrefix(entry.path);
      if (prefix !== current) {
        if (current !== null && !checkpointed.has(current) && inShard(current, opts.shard)) {
          finished.push(current);
          if (rows.length >= opts.batchRows) await flush();
        }
        current = prefix;
        if (inShard(prefix, opts.shard)) found.add(prefix);
        if (checkpointed.has(prefix) && inShard(prefix, opts.shard)) stepReport.checkpointed++;
      }
      if (!inShard(prefix, opts.shard) || checkpointed.has(prefix)) continue;
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
      counts.blobs++;
      counts.blobBytes += entry.size;
      rows.push({ digest: entry.digest, size: entry.size });
      ctx.onProgress?.(stepReport, found.size);
    }
    if (current !== null && !checkpointed.has(current) && inShard(current, opts.shard))
      finished.push(current);
    await flush();
    await writing;
  } catch (err) {
    // The batch being written commits or fails before the step reports its failure.
    await writing.catch(() => undefined);
    throw err;
  }
}
