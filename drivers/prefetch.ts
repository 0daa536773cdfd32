/**
 * Pulls from an async iterable ahead of its consumer, at most `depth` items buffered (twice that
 * while the consumer works through the items it just took: it takes the whole buffer at once, so a
 * deep buffer costs no shifting). An error of the source reaches the consumer after the items before
 * it. Used for an object walk's key ranges (object-walk.ts) and for a step's walk started before the
 * step (src/importer/walk-ahead.ts).
 */
export class Prefetch<T> {
  private readonly buffer: T[] = [];
  private done = false;
  private failure: { readonly error: unknown } | undefined;
  private waiter: (() => void) | undefined;
  private space: (() => void) | undefined;
  private cancelled = false;

  constructor(
    source: AsyncIterable<T>,
    private readonly depth: number,
  ) {
    void this.pump(source);
  }

  private async pump(source: AsyncIterable<T>): Promise<void> {
    try {
      for await (const item of source) {
        if (this.cancelled) break;
        this.buffer.push(item);
        this.wake();
        while (this.buffer.length >= this.depth && !this.cancelled)
          await new Promise<void>((r) => (this.space = r));
        if (this.cancelled) break;
      }
    } catch (error) {
      this.failure = { error };
    }
    this.done = true;
    this.wake();
  }

  /** The consumer stopped: pull no further (the source is returned at its next item). Harmless once done. */
  cancel(): void {
    this.cancelled = true;
    this.buffer.length = 0;
    const s = this.space;
    this.space = undefined;
    s?.();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *items(): AsyncGenerator<T> {
    for (;;) {
      if (this.buffer.length > 0) {
        const taken = this.buffer.splice(0);
        const s = this.space;
        this.space = undefined;
        s?.();
        yield* taken;
        continue;
      }
      if (this.failure) throw this.failure.error;
      if (this.done) return;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
}
