/**
 * Work functions by `job_signature_name` (spec §5.2) and the registry the runner looks them up in.
 * Tests and future migrations add functions through `WorkRegistry.register`.
 */
import type { Logger } from 'pino';
import type { BbmJob, BbmMigration } from './model.js';
import type { BbmTarget, BbmWorkDb } from './store.js';

export interface WorkContext {
  readonly db: BbmWorkDb;
  readonly migration: BbmMigration;
  /** Serial strategy: the key range `min..max`; NULL strategy: both bounds are 0. */
  readonly job: BbmJob;
  /** The migration's table and column, checked against the catalog. */
  readonly target: BbmTarget;
  /** Fires when the runner is interrupted or the per-job timeout expires. */
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/** Processes one job; resolves with the number of rows it changed (for progress) when it knows it. */
export type WorkFunction = (ctx: WorkContext) => Promise<number | void>;

export class WorkRegistry {
  private readonly functions = new Map<string, WorkFunction>();

  /** Adds a work function; a name can be registered once. */
  register(name: string, fn: WorkFunction): this {
    if (name.length === 0) throw new Error('a work function needs a non-empty name');
    if (this.functions.has(name)) throw new Error(`work function ${name} is already registered`);
    this.functions.set(name, fn);
    return this;
  }

  get(name: string): WorkFunction | undefined {
    return this.functions.get(name);
  }

  names(): string[] {
    return [...this.functions.keys()].sort();
  }
}

/** spec §5.2: copies `media_type_id` into the new bigint column over one id range. */
export const copyManifestMediaTypeIDToNewBigIntColumn: WorkFunction = (ctx) =>
  ctx.db.copyManifestMediaTypeId(ctx.job.minValue, ctx.job.maxValue, {
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });

/** spec §5.2: gives up to `batch_size` blobs of one partition whose id is NULL an id from `blobs_id_seq`. */
export const populateBlobsIDColumn: WorkFunction = (ctx) =>
  ctx.db.populateBlobsId(ctx.target, ctx.migration.batchSize, {
    timeoutMs: ctx.timeoutMs,
    signal: ctx.signal,
  });

/** A registry holding the work functions the schema's migration rows name (GitLab's `AllWork()`). */
export function createWorkRegistry(): WorkRegistry {
  return new WorkRegistry()
    .register('copyManifestMediaTypeIDToNewBigIntColumn', copyManifestMediaTypeIDToNewBigIntColumn)
    .register('populateBlobsIDColumn', populateBlobsIDColumn);
}
