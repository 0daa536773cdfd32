/**
 * Batches for the writer, shared by all three steps: a batch fills until it holds `rows` rows or
 * `bytes` payload bytes, then goes to the writer (one transaction). One write is in flight at a time
 * while the next batch fills, so memory stays bounded by about two batches.
 *
 * A batch also goes early, once it holds a tenth of `rows`, when the writer has nothing to do: the
 * database then writes while storage is read instead of after it, and what is left to write when
 * the reading ends is what came in during the last write, not up to a whole batch (the 3,000-tag
 * tree from GCS at 30 ms read in two batches of 20,000 and 10,000 rows, and waited 1.1 s for the
 * second after its last read).
 */

const ignore = (): void => undefined;

/** Rows from which a batch is written early, while the writer is idle: a tenth of a full one. */
export function eagerRows(rows: number): number {
  return Math.max(1, Math.ceil(rows / 10));
}

export interface BatchLimits {
  readonly rows: number;
  readonly bytes: number;
}

export interface BatcherOptions<B> {
  readonly limits: BatchLimits;
  /** A new, empty batch. */
  readonly create: () => B;
  /** Whether a batch holds nothing to write (no checkpoint either). */
  readonly isEmpty: (batch: B) => boolean;
  readonly write: (batch: B) => Promise<void>;
}

export class Batcher<B> {
  private batch: B;
  private rows = 0;
  private bytes = 0;
  private writing: Promise<void> = Promise.resolve();
  private writerIdle = true;

  constructor(private readonly opts: BatcherOptions<B>) {
    this.batch = opts.create();
  }

  /** The batch being filled. */
  get current(): B {
    return this.batch;
  }

  /** Counts what the caller just added to `current`. */
  added(rows: number, bytes = 0): void {
    this.rows += rows;
    this.bytes += bytes;
  }

  get full(): boolean {
    return this.rows >= this.opts.limits.rows || this.bytes >= this.opts.limits.bytes;
  }

  /** Whether to flush now: full, or worth a transaction while the writer waits for work. */
  get ready(): boolean {
    return this.full || (this.writerIdle && this.rows >= eagerRows(this.opts.limits.rows));
  }

  /**
   * Hands the current batch to the writer once the previous write has finished (a failed previous
   * write rejects here), and starts a new batch. Returns when the write has started.
   */
  async flush(): Promise<void> {
    if (this.opts.isEmpty(this.batch)) return;
    const batch = this.batch;
    this.batch = this.opts.create();
    this.rows = 0;
    this.bytes = 0;
    await this.writing;
    this.writerIdle = false;
    const writing = this.opts.write(batch);
    this.writing = writing;
    const idle = (): void => {
      if (this.writing === writing) this.writerIdle = true;
    };
    writing.then(idle, idle); // a failure is awaited by the next flush or by finish
  }

  /** Writes what is left and waits for the last write. */
  async finish(): Promise<void> {
    await this.flush();
    await this.writing;
  }

  /**
   * After a failure: the write in flight still commits or fails before the step reports, since the
   * caller may count checkpoints, write statistics or close the pool next.
   */
  async settle(): Promise<void> {
    await this.writing.catch(ignore);
  }
}
