/**
 * The next step's storage walk, started before that step: once a step has read storage to the end,
 * what is left of it is writing its last batches (PostgreSQL's work), and the next step's walk, which
 * needs nothing from those batches, can list meanwhile. From an object store at 30 ms a request the
 * walks are chains of page requests (0.4 s for step two's walk of the 3,000-tag tree, 0.3 s for step
 * three's), so starting each behind the previous step's writes takes them off the import's wall time.
 * (Object stores only, see run.ts.)
 *
 * At most `maxItems` entries are held ahead of the step that takes them (twice that while the step
 * works through a handful just taken), so memory stays bounded whatever the tree. The step consumes the same iterable it would have walked itself; an error of the
 * walk reaches it where it reaches that entry. A walk nobody takes (the run failed first) is stopped.
 */

/** Entries of the next step's walk held at most, ahead of the step (about 300 bytes each). */
export const WALK_AHEAD_ITEMS = 16_384;

export class WalkAhead<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private started = false;
  private taken = false;
  private done = false;
  private stopped = false;
  private failure: { readonly error: unknown } | undefined;
  /** Wakes the consumer waiting for an entry; wakes the pump waiting for room. */
  private wakeConsumer: (() => void) | undefined;
  private wakePump: (() => void) | undefined;

  /** `open` is called once, at start: it may read what the walk depends on (a resume point). */
  constructor(
    private readonly open: () => Promise<AsyncIterable<T>>,
    private readonly maxItems = WALK_AHEAD_ITEMS,
  ) {}

  /** Starts listing now (idempotent); the step that takes the walk later finds what was listed. */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.pump();
  }

  /** Nobody will take the walk: list no further. */
  stop(): void {
    this.stopped = true;
    this.buffer.length = 0;
    this.wake('pump');
  }

  private async pump(): Promise<void> {
    try {
      for await (const item of await this.open()) {
        if (this.stopped) break;
        this.buffer.push(item);
        this.wake('consumer');
        while (this.buffer.length >= this.maxItems && !this.stopped)
          await new Promise<void>((resolve) => (this.wakePump = resolve));
        if (this.stopped) break;
      }
    } catch (error) {
      this.failure = { error };
    }
    this.done = true;
    this.wake('consumer');
  }

  private wake(who: 'consumer' | 'pump'): void {
    const wake = who === 'consumer' ? this.wakeConsumer : this.wakePump;
    if (who === 'consumer') this.wakeConsumer = undefined;
    else this.wakePump = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    if (this.taken) throw new Error('a walk started ahead can be taken once');
    this.taken = true;
    this.start();
    try {
      for (;;) {
        if (this.buffer.length > 0) {
          // Entries go in arrival order; shifting a large array is linear, so take it in one go.
          const items = this.buffer.splice(0);
          this.wake('pump');
          yield* items;
          continue;
        }
        if (this.failure) throw this.failure.error;
        if (this.done) return;
        await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      }
    } finally {
      // The step stopped early (an error, or it found what it needed): the walk stops too.
      if (!this.done) this.stop();
    }
  }
}
