/**
 * Batches for the writer, shared by all three steps: a batch fills until it holds `rows` rows or
 * `bytes` payload bytes, then goes to the writer (one transaction). One write is in flight at a time
 * while the next batch fills, so memory stays bounded by about two batches.
 */

const ignore = (): void => undefined;

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
    this.writing = this.opts.write(batch);
    this.writing.catch(ignore); // awaited by the next flush or by finish
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
