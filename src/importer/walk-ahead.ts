/**
 * The next step's storage walk, started before that step: once a step has read storage to the end,
 * what is left of it is writing its last batches (PostgreSQL's work), and the next step's walk, which
 * needs nothing from those batches, can list meanwhile. From an object store at 30 ms a request the
 * walks are chains of page requests (0.4 s for step two's walk of the 3,000-tag tree, 0.3 s for step
 * three's), so starting each behind the previous step's writes takes them off the import's wall time.
 * (Object stores only, see run.ts.)
 *
 * At most `maxItems` entries are held ahead of the step that takes them (drivers/prefetch.ts), so
 * memory stays bounded whatever the tree. The step consumes the same iterable it would have walked
 * itself; an error of the walk reaches it where it reaches that entry. A walk nobody takes (the run
 * failed first) is stopped, and so is one the step stops taking early.
 */
import { Prefetch } from '../../drivers/prefetch.js';

/** Entries of the next step's walk held at most, ahead of the step (about 300 bytes each). */
export const WALK_AHEAD_ITEMS = 16_384;

export class WalkAhead<T> implements AsyncIterable<T> {
  private prefetch: Prefetch<T> | undefined;
  private taken = false;

  /** `open` is called once, at start: it may read what the walk depends on (a resume point). */
  constructor(
    private readonly open: () => Promise<AsyncIterable<T>>,
    private readonly maxItems = WALK_AHEAD_ITEMS,
  ) {}

  /** Starts listing now (idempotent); the step that takes the walk later finds what was listed. */
  start(): void {
    if (this.prefetch) return;
    const open = this.open;
    async function* opened(): AsyncGenerator<T> {
      yield* await open();
    }
    this.prefetch = new Prefetch(opened(), this.maxItems);
  }

  /** Nobody will take the walk: list no further. */
  stop(): void {
    this.prefetch?.cancel();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    if (this.taken) throw new Error('a walk started ahead can be taken once');
    this.taken = true;
    this.start();
    const prefetch = this.prefetch!;
    try {
      yield* prefetch.items();
    } finally {
      // The step stopped early (an error, or it found what it needed): the walk stops too.
      prefetch.cancel();
    }
  }
}
