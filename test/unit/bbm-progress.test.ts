import { describe, expect, it } from 'vitest';
import { createProgressReporter } from '../../src/cli/bbm-progress.js';
import type { BbmJob } from '../../src/bbm/model.js';

const job: BbmJob = {
  id: 7n,
  migrationId: 1n,
  minValue: 1n,
  maxValue: 10000n,
  status: 1,
  failureErrorCode: null,
  attempts: 0,
};

function sink(isTTY: boolean): { out: { write(s: string): void; isTTY: boolean }; text: () => string } {
  const chunks: string[] = [];
  return { out: { write: (s: string) => void chunks.push(s), isTTY }, text: () => chunks.join('') };
}

describe('run progress on stderr', () => {
  it('redraws one line in place on a terminal and clears it at the end', () => {
    const s = sink(true);
    let t = 0;
    const p = createProgressReporter(s.out, { pending: 65, now: () => t });
    p.onProgress({ kind: 'job-started', migration: 'copy_x', job, attempt: 1 });
    t = 500;
    p.onProgress({
      kind: 'job-finished',
      migration: 'copy_x',
      job,
      rows: 10000,
      totals: { finished: 1, jobs: 1, rows: 10000 },
    });
    p.end();
    expect(s.text()).toBe(
      '\r\x1b[2Kbackground migrations: 0 finished of 65 pending, 0 job(s), 0 row(s) updated, now: copy_x job 7' +
        '\r\x1b[2Kbackground migrations: 1 finished of 65 pending, 1 job(s), 10,000 row(s) updated, now: copy_x job 7' +
        '\r\x1b[2K',
    );
  });

  it('prints a plain line at most once per interval when not a terminal, and every failed attempt', () => {
    const s = sink(false);
    let t = 0;
    const p = createProgressReporter(s.out, { pending: 2, intervalMs: 10_000, now: () => t });
    p.onProgress({ kind: 'job-started', migration: 'm', job, attempt: 1 });
    t = 5_000;
    p.onProgress({ kind: 'migration-finished', migration: 'm', totals: { finished: 1, jobs: 3, rows: 5 } });
    p.onProgress({
      kind: 'job-attempt-failed',
      migration: 'm',
      job,
      attempt: 1,
      maxAttempts: 2,
      error: new Error('boom'),
    });
    p.end();
    expect(s.text().split('\n')).toEqual([
      'background migrations: 0 finished of 2 pending, 0 job(s), 0 row(s) updated, now: m job 7',
      'background migration m: job 7 attempt 1/2 failed: boom',
      'background migrations: 1 finished of 2 pending, 3 job(s), 5 row(s) updated, now: m job 7',
      '',
    ]);
  });
});
