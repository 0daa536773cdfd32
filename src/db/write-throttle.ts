/**
 * `--max-rows-per-second` (issue 14 §6): paces the import's writes for a PostgreSQL shared with
 * production. Each committed batch is charged with the rows it inserted; the next batch's
 * transaction does not begin before those rows' share of time has passed. Waiting happens outside
 * any transaction, so no lock is held while the import sleeps. Over a run the rate of inserted rows
 * is at most the limit, plus one batch (the first is not delayed); the CLI caps the batch size at five
 * seconds' rows so that stays small.
 */

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export class RowThrottle {
  /** When the next batch may begin (clock milliseconds). */
  private next = -Infinity;
  /** When the batch being written began: its share of time counts from there, writing included. */
  private started = -Infinity;

  constructor(
    readonly rowsPerSecond: number,
    private readonly clock: Clock = realClock,
  ) {
    if (!(rowsPerSecond > 0)) throw new RangeError('rowsPerSecond must be positive');
  }

  /** Waits until the rows charged so far have had their time. */
  async ready(): Promise<void> {
    const wait = this.next - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
    this.started = this.clock.now();
  }

  /** A batch inserted `rows` rows: the next one waits rows / rate seconds longer. */
  charge(rows: number): void {
    this.next = Math.max(this.started, this.next) + (rows * 1000) / this.rowsPerSecond;
  }
}

/** Rows a batch inserted, summed over the tables (what the throttle charges). */
export function insertedRows(inserted: Partial<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(inserted)) n += v ?? 0;
  return n;
}
