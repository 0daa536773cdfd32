/**
 * What `regdb database import` prints: a progress line on stderr when it is a terminal, and the
 * summary tables on stdout (rows per table, skips by reason, storage requests by kind, time per step).
 */
import type { Report, StepReport } from '../importer/report.js';
import { renderTable } from './table.js';

const STEP_NAMES = {
  1: 'step one: import manifests',
  2: 'step two: import tags',
  3: 'step three: import blobs',
} as const;

export function summary(report: Report): string {
  const parts: string[] = [];
  const inserted = Object.entries(report.inserted).sort(([a], [b]) => (a < b ? -1 : 1));
  parts.push(
    renderTable(
      ['table', 'rows'],
      inserted.map(([t, n]) => [t, String(n)]),
    ),
  );
  if (report.skips.size > 0) {
    const rows = [...report.skips].sort(([a], [b]) => (a < b ? -1 : 1));
    parts.push(
      renderTable(
        ['skipped', 'count', 'fatal in gitlab'],
        rows.map(([r, s]) => [r, String(s.count), s.gitlabFatal ? 'yes' : 'no']),
      ),
    );
  }
  if (report.warnings.size > 0) {
    parts.push(
      renderTable(
        ['warning', 'count'],
        [...report.warnings].map(([r, s]) => [r, String(s.count)]),
      ),
    );
  }
  if (report.requests) {
    parts.push(
      renderTable(
        ['storage requests', 'count'],
        Object.entries(report.requests).map(([k, v]) => [k, String(v)]),
      ),
    );
  }
  parts.push(
    renderTable(
      ['step', 'seconds', 'repositories', 'tags', 'manifests', 'blobs'],
      report.steps.map((s) => [
        STEP_NAMES[s.step] + (s.resumed ? ' (done before resume)' : ''),
        s.finishedAt ? ((s.finishedAt.getTime() - s.startedAt.getTime()) / 1000).toFixed(1) : '-',
        String(s.repositories),
        String(s.tags),
        String(s.manifests),
        String(s.blobs),
      ]),
    ),
  );
  return parts.join('');
}

/** What one progress line says. */
export interface ProgressFigures {
  readonly step: StepReport['step'];
  /** Repositories met (steps one and two) or blob prefixes finished (step three). */
  readonly done: number;
  readonly total?: number;
  readonly unit: 'repositories' | 'blob prefixes';
  /** tags/s (steps one and two) or blobs/s (step three), over this run. */
  readonly rate: number;
  readonly rateUnit: 'tags/s' | 'blobs/s';
  readonly elapsedS: number;
  readonly etaS?: number;
}

/**
 * Pure: the figures of a progress line. `found` is what the import reports: repositories met by the
 * walk (checkpointed ones included), or blob prefixes met, the last of which is still being read.
 * `startDone` is `done` at the first report of this run (a resumed run's earlier work is not in the
 * rate). The ETA is the remaining share at this run's pace; it needs a total and some progress.
 */
export function progressFigures(
  step: StepReport,
  found: number,
  total: number | undefined,
  startDone: number,
  nowMs: number,
): ProgressFigures {
  const elapsedS = Math.max((nowMs - step.startedAt.getTime()) / 1000, 0.001);
  const blobs = step.step === 3;
  const done = Math.min(blobs ? Math.max(found - 1, 0) : found, total ?? Infinity);
  const rate = (blobs ? step.blobs : step.tags) / elapsedS;
  const progressed = done - startDone;
  const etaS = total !== undefined && progressed > 0 ? ((total - done) * elapsedS) / progressed : undefined;
  return {
    step: step.step,
    done,
    ...(total !== undefined ? { total } : {}),
    unit: blobs ? 'blob prefixes' : 'repositories',
    rate,
    rateUnit: blobs ? 'blobs/s' : 'tags/s',
    elapsedS,
    ...(etaS !== undefined ? { etaS } : {}),
  };
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Pure: e.g. `step one: import manifests: 42% (88 of 210 repositories), 467.9 tags/s, 4s elapsed, ETA 6s`. */
export function formatProgress(f: ProgressFigures): string {
  const amount =
    f.total !== undefined
      ? `${f.total > 0 ? Math.floor((100 * f.done) / f.total) : 100}% (${f.done} of ${f.total} ${f.unit})`
      : `${f.done} ${f.unit}`;
  return (
    `${STEP_NAMES[f.step]}: ${amount}, ${f.rate.toFixed(1)} ${f.rateUnit}, ${duration(f.elapsedS)} elapsed` +
    (f.etaS !== undefined ? `, ETA ${duration(f.etaS)}` : '')
  );
}

/** Totals per step, from countWork (src/importer/work-count.ts). */
export interface ProgressTotals {
  readonly repositories?: number;
  readonly blobPrefixes?: number;
}

/**
 * Progress on stderr: on a terminal one line rewritten in place (at most 5 times a second); otherwise
 * one plain line per `intervalMs` (default 10 s), so a log collector sees the import move.
 */
export class Progress {
  private last = 0;
  private totals: ProgressTotals = {};
  private readonly startDone = new Map<number, number>();
  private lastLine = '';

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly tty: boolean,
    private readonly intervalMs: number,
  ) {}

  setTotals(totals: ProgressTotals): void {
    this.totals = totals;
  }

  update(step: StepReport, found: number): void {
    const now = Date.now();
    const total = step.step === 3 ? this.totals.blobPrefixes : this.totals.repositories;
    if (!this.startDone.has(step.step)) {
      this.startDone.set(step.step, step.step === 3 ? Math.max(found - 1, 0) : found);
      if (!this.tty) this.last = now;
    }
    if (now - this.last < (this.tty ? 200 : this.intervalMs)) return;
    this.last = now;
    const line = formatProgress(progressFigures(step, found, total, this.startDone.get(step.step)!, now));
    this.lastLine = line;
    this.stream.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  done(): void {
    if (this.tty && this.lastLine !== '') this.stream.write('\r\x1b[K');
  }
}

/** The import's progress on stderr; REGDB_PROGRESS_INTERVAL (seconds) sets the non-terminal interval. */
export function createImportProgress(
  stream: NodeJS.WriteStream,
  env: NodeJS.ProcessEnv = process.env,
): Progress {
  const seconds = Number(env.REGDB_PROGRESS_INTERVAL);
  const intervalMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000;
  return new Progress(stream, stream.isTTY === true, intervalMs);
}
