/**
 * Progress of `background-migrate run` on stderr: one line redrawn in place on a terminal, a plain
 * line every few seconds otherwise (logs, CI). Failed attempts always get their own line.
 */
import type { BbmProgressEvent, SyncRunResult } from '../bbm/sync.js';

export interface ProgressWriter {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface ProgressReporter {
  onProgress(event: BbmProgressEvent): void;
  /** Clears the live line (TTY) and stops. */
  end(): void;
}

function describe(totals: SyncRunResult, current: string | undefined, pending: number): string {
  const parts = [
    `background migrations: ${totals.finished} finished${pending > 0 ? ` of ${pending} pending` : ''}`,
    `${totals.jobs} job(s)`,
    `${totals.rows.toLocaleString('en-US')} row(s) updated`,
  ];
  if (current !== undefined) parts.push(`now: ${current}`);
  return parts.join(', ');
}

/**
 * `pending` is the number of migrations not yet finished when the run started (0 if unknown).
 * `intervalMs` spaces the plain lines when `out` is not a terminal.
 */
export function createProgressReporter(
  out: ProgressWriter,
  opts: { pending: number; intervalMs?: number; now?: () => number },
): ProgressReporter {
  const tty = out.isTTY === true;
  const now = opts.now ?? Date.now;
  const interval = opts.intervalMs ?? (tty ? 100 : 10_000);
  let totals: SyncRunResult = { finished: 0, jobs: 0, rows: 0 };
  let current: string | undefined;
  let last = -Infinity;
  let drawn = false;

  const draw = (force: boolean): void => {
    const t = now();
    if (!force && t - last < interval) return;
    last = t;
    const line = describe(totals, current, opts.pending);
    if (tty) {
      out.write(`\r\x1b[2K${line}`);
      drawn = true;
    } else {
      out.write(`${line}\n`);
    }
  };

  const clear = (): void => {
    if (tty && drawn) out.write('\r\x1b[2K');
    drawn = false;
  };

  return {
    onProgress(event): void {
      switch (event.kind) {
        case 'job-started':
          current = `${event.migration} job ${event.job.id}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`;
          draw(false);
          break;
        case 'job-attempt-failed':
          clear();
          out.write(
            `background migration ${event.migration}: job ${event.job.id} attempt ${event.attempt}/` +
              `${event.maxAttempts} failed: ${event.error.message}\n`,
          );
          draw(true);
          break;
        case 'job-finished':
          totals = event.totals;
          draw(false);
          break;
        case 'migration-finished':
          totals = event.totals;
          draw(false);
          break;
      }
    },
    end(): void {
      clear();
    },
  };
}
