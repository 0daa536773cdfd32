/**
 * A bounded pool that hands results back in the order jobs were added: at most `concurrency` jobs run
 * at once, and once `window` results are pending, adding waits for the oldest to be taken. Results
 * are taken in order even when later jobs finish first, so batches follow the walk (resume depends on
 * that: every path before the last checkpoint is done).
 */
import pLimit from 'p-limit';

const ignore = (): void => undefined;

export interface OrderedPoolOptions<T> {
  /** Jobs running at once. */
  readonly concurrency: number;
  /** Results pending (running or finished, not yet taken) before `run`/`add` wait. */
  readonly window: number;
  /** Consumes each result, in order; a rejection of the job rejects here, at its turn. */
  readonly take: (result: T) => Promise<void>;
  /** Called before waiting for the oldest result (e.g. to start work the oldest job waits on). */
  readonly beforeWait?: () => void;
}

export class OrderedPool<T> {
  private readonly pending: Promise<T>[] = [];
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(private readonly opts: OrderedPoolOptions<T>) {
    this.limit = pLimit(opts.concurrency);
  }

  /** Starts `job` when a slot is free; returns once the window has room for the next one. */
  async run(job: () => Promise<T>): Promise<void> {
    const p = this.limit(job);
    // Awaited in order by take; until then a failure must not count as an unhandled rejection.
    p.catch(ignore);
    this.pending.push(p);
    await this.makeRoom();
  }

  /** Queues a result known already (it takes its turn like any job's). */
  async add(result: T): Promise<void> {
    this.pending.push(Promise.resolve(result));
    await this.makeRoom();
  }

  /** Takes every pending result, in order. */
  async drain(): Promise<void> {
    while (this.pending.length > 0) await this.takeOldest();
  }

  /** After a failure: nothing left may reject unobserved. */
  abandon(): void {
    for (const p of this.pending) p.catch(ignore);
  }

  private async makeRoom(): Promise<void> {
    while (this.pending.length >= this.opts.window) {
      this.opts.beforeWait?.();
      await this.takeOldest();
    }
  }

  private async takeOldest(): Promise<void> {
    await this.opts.take(await this.pending.shift()!);
  }
}
