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

/** A one-line progress display on a terminal: step, done of found, tags/s, elapsed, ETA. */
export class Progress {
  private last = 0;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(step: StepReport, found: number): void {
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    const elapsed = (now - step.startedAt.getTime()) / 1000;
    const done = step.step === 3 ? step.blobs : step.repositories + step.checkpointed;
    const unit = step.step === 3 ? 'blobs' : 'repositories';
    const rate =
      step.step === 3 ? step.blobs / Math.max(elapsed, 0.001) : step.tags / Math.max(elapsed, 0.001);
    const eta = step.step !== 3 && done > 0 && found > done ? ((found - done) * elapsed) / done : 0;
    const line =
      `${STEP_NAMES[step.step]}: ${done}${step.step === 3 ? '' : ` of ${found} found`} ${unit}, ` +
      `${rate.toFixed(1)} ${step.step === 3 ? 'blobs' : 'tags'}/s, ${elapsed.toFixed(0)}s elapsed` +
      (eta > 0 ? `, ETA ${eta.toFixed(0)}s` : '');
    this.stream.write(`\r\x1b[K${line}`);
  }

  done(): void {
    this.stream.write('\r\x1b[K');
  }
}
