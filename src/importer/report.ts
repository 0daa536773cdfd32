/**
 * What a run reports: rows inserted per table, skips by reason (with up to 20 example paths each),
 * storage requests by kind, time per step, and the import_statistics counters (spec §2.14).
 */
import type { RequestCounts } from '../../drivers/driver.js';
import type { Inserted, TableName } from '../db/import-writer.js';
import type { Step } from '../db/import-rows.js';
import type { SkipRecord } from './types.js';

export const MAX_EXAMPLES = 20;

export interface StepReport {
  step: Step;
  startedAt: Date;
  finishedAt?: Date;
  error?: string;
  /** True when an interrupted run had already finished this step (resume). */
  resumed?: boolean;
  repositories: number;
  tags: number;
  manifests: number;
  blobs: number;
  blobBytes: bigint;
  /** Repositories (or blob prefixes) skipped because a checkpoint says they are done. */
  checkpointed: number;
}

export interface SkipSummary {
  count: number;
  gitlabFatal: boolean;
  examples: { path: string; repository?: string; digest?: string; tag?: string; message: string }[];
}

export class Report {
  readonly inserted: Partial<Record<TableName, number>> = {};
  readonly skips = new Map<string, SkipSummary>();
  readonly warnings = new Map<string, SkipSummary>();
  readonly steps: StepReport[] = [];
  requests?: RequestCounts;
  /** How GC queue rows were written: set-based, or by GitLab's row triggers. */
  gcTracking?: 'set-based' | 'triggers';
  startedAt = new Date();
  finishedAt?: Date;
  rowCount?: Record<string, string>;

  addInserted(ins: Inserted): void {
    for (const [k, v] of Object.entries(ins) as [TableName, number][])
      this.inserted[k] = (this.inserted[k] ?? 0) + v;
  }

  addSkip(s: SkipRecord, into: Map<string, SkipSummary> = this.skips): void {
    let sum = into.get(s.reason);
    if (!sum) {
      sum = { count: 0, gitlabFatal: s.gitlabFatal, examples: [] };
      into.set(s.reason, sum);
    }
    sum.count++;
    if (sum.examples.length < MAX_EXAMPLES) {
      const ex: SkipSummary['examples'][number] = { path: s.path, message: s.message };
      if (s.repository) ex.repository = s.repository;
      if (s.digest) ex.digest = s.digest;
      if (s.tag !== undefined) ex.tag = s.tag;
      sum.examples.push(ex);
    }
  }

  startStep(step: Step): StepReport {
    const r: StepReport = {
      step,
      startedAt: new Date(),
      repositories: 0,
      tags: 0,
      manifests: 0,
      blobs: 0,
      blobBytes: 0n,
      checkpointed: 0,
    };
    this.steps.push(r);
    return r;
  }

  toJSON(): unknown {
    const obj = (m: Map<string, SkipSummary>) =>
      Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
    return {
      startedAt: this.startedAt.toISOString(),
      finishedAt: this.finishedAt?.toISOString(),
      rowsInserted: this.inserted,
      skips: obj(this.skips),
      warnings: obj(this.warnings),
      storageRequests: this.requests,
      gcTracking: this.gcTracking,
      steps: this.steps.map((s) => ({
        ...s,
        blobBytes: s.blobBytes.toString(),
        startedAt: s.startedAt.toISOString(),
        finishedAt: s.finishedAt?.toISOString(),
        seconds: s.finishedAt ? (s.finishedAt.getTime() - s.startedAt.getTime()) / 1000 : undefined,
      })),
      rowCount: this.rowCount,
    };
  }
}
