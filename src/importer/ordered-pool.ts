/**
 * A bounded pool that hands results back in the order jobs were added: at most `concurrency` jobs run
 * at once, each result is taken as soon as it and every earlier one have finished, and once `window`
 * results are pending, adding waits until the oldest is taken. Results are taken in order even when
 * later jobs finish first, so batches follow the walk (resume depends on that: every path before the
 * last checkpoint is done).
 *
 * Taking as soon as possible, not only when the window is full, lets the first batch reach the
 * database while storage is still being read: from GCS at 30 ms the window of 128 repositories had
 * held the first write back until 40 % of the 3,000-tag tree was read.
 */
import pLimit from 'p-limit';

const ignore = (): void => undefined;

export interface OrderedPoolOptions<T> {
  /** Jobs running at once. */
  readonly concurrency: number;
  /** Results pending (running or finished, not yet taken) before `run`/`add` wait. */
  readonly window: number;
  /**
   * Consumes each result, in order, one at a time. A rejection of a job or of `take` stops the
   * taking, and rejects the next `run`, `add` or `drain`.
   */
  readonly take: (result: T) => Promise<void>;
  /** Called before waiting for room (e.g. to start work the oldest job waits on). */
  readonly beforeWait?: () => void;
}

export class OrderedPool<T> {
  private readonly pending: Promise<T>[] = [];
  private readonly limit: ReturnType<typeof pLimit>;
  /** The loop taking results, while there are any to take. */
  private taking: Promise<void> | null = null;
  private failure: { readonly error: unknown } | null = null;
  /** Wakes an adder waiting for room (or for a failure). */
  private wakeAdder: (() => void) | undefined;

  constructor(private readonly opts: OrderedPoolOptions<T>) {
    this.limit = pLimit(opts.concurrency);
  }

  /** Starts `job` when a slot is free; returns once the window has room for the next one. */
  async run(job: () => Promise<T>): Promise<void> {
    this.throwIfFailed();
    const p = this.limit(job);
    // Awaited in order by the taker; until then a failure must not count as an unhandled rejection.
    p.catch(ignore);
    this.pending.push(p);
    this.startTaking();
    await this.makeRoom();
  }

  /** Queues a result known already (it takes its turn like any job's). */
  async add(result: T): Promise<void> {
    this.throwIfFailed();
    this.pending.push(Promise.resolve(result));
    this.startTaking();
    await this.makeRoom();
  }

  /** Waits until every pending result is taken. */
  async drain(): Promise<void> {
    while (this.taking !== null) await this.taking;
    this.throwIfFailed();
  }

  /** After a failure: nothing left may reject unobserved. */
  abandon(): void {
    for (const p of this.pending) p.catch(ignore);
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure.error;
  }

  private startTaking(): void {
    if (this.taking === null && this.failure === null) this.taking = this.takeAll();
  }

  private async takeAll(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const result = await this.pending[0]!;
        this.pending.shift();
        this.wake();
        await this.opts.take(result);
      }
    } catch (err) {
      this.failure = { error: err };
      this.wake();
    }
    // No await between the emptiness check above and this: a result added later starts a new loop.
    this.taking = null;
  }

  private wake(): void {
    const wake = this.wakeAdder;
    this.wakeAdder = undefined;
    wake?.();
  }

  private async makeRoom(): Promise<void> {
    while (this.pending.length >= this.opts.window) {
      this.opts.beforeWait?.();
      await new Promise<void>((resolve) => (this.wakeAdder = resolve));
      this.throwIfFailed();
    }
  }
}
