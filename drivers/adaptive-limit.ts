/**
 * How many storage requests may be in flight, adapted to the store: it starts low, grows while the
 * latency of completed requests holds near the best seen (the store keeps up), halves when the store
 * says it is overloaded (503 SlowDown, 429), and never exceeds the cap (the `--concurrency` flag or
 * the driver's default). Object stores scale with parallel requests (S3 sustains 5,500 GET/s per
 * prefix; s5cmd runs 256 workers), a fixed small pool leaves a latency-bound import idle, and a
 * fixed large one hammers a store that is already throttling.
 *
 * Requests waiting for a slot go lowest priority number first, in arrival order among equals. The
 * importer numbers each repository's requests by its place in the walk: its batches are written in
 * that order, so with the slots shared first come first served, every repository of the window
 * finished at about the same time and the writer waited (from GCS at 30 ms the first rows reached it
 * after 2 s, the database then wrote 34,000 rows after the last read); served in walk order they
 * finish, and are written, one after another while the reading goes on.
 */
import { PriorityQueue } from './priority-queue.js';

export interface AdaptiveLimitOptions {
  /** Never more in flight than this. */
  readonly max: number;
  /** Never fewer allowed than this (after back-off). */
  readonly min?: number;
  /** Allowed at the start; default min(max, 16). */
  readonly initial?: number;
  /** Latency may rise to this multiple of the best window seen and still count as holding. */
  readonly tolerance?: number;
  readonly now?: () => number;
}

export class AdaptiveLimit {
  readonly max: number;
  readonly min: number;
  private allowed: number;
  private active = 0;
  private peak = 0;
  private readonly waiting = new PriorityQueue<() => void>();
  private readonly tolerance: number;
  private readonly now: () => number;
  /** Completions and summed latency of the current window (one window = `allowed` completions). */
  private done = 0;
  private latencySum = 0;
  private best = Infinity;

  constructor(opts: AdaptiveLimitOptions) {
    this.max = Math.max(1, opts.max);
    this.min = Math.min(this.max, Math.max(1, opts.min ?? 1));
    this.allowed = Math.min(this.max, Math.max(this.min, opts.initial ?? 16));
    this.tolerance = opts.tolerance ?? 2;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Requests allowed in flight now. */
  get limit(): number {
    return this.allowed;
  }

  /** Most requests that were in flight at once. */
  get maxInFlight(): number {
    return this.peak;
  }

  /** Runs `fn` once a slot is free; waiting requests of a lower `priority` number go first. */
  async run<T>(fn: () => Promise<T>, priority = 0): Promise<T> {
    // A woken waiter is handed its slot by wakeUp (counted there), so none is given twice.
    if (this.active < this.allowed) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve, priority));
    if (this.active > this.peak) this.peak = this.active;
    const started = this.now();
    try {
      const result = await fn();
      this.completed(this.now() - started);
      return result;
    } finally {
      this.active--;
      this.wakeUp();
    }
  }

  /** The store said it is overloaded: halve what is allowed (the caller waits with jitter). */
  throttled(): void {
    this.allowed = Math.max(this.min, Math.floor(this.allowed / 2));
    this.done = 0;
    this.latencySum = 0;
  }

  private completed(ms: number): void {
    this.done++;
    this.latencySum += ms;
    if (this.done < this.allowed) return;
    const mean = this.latencySum / this.done;
    this.done = 0;
    this.latencySum = 0;
    // A millisecond of slack: at sub-millisecond latencies any noise would otherwise count as a rise.
    if (mean <= this.best * this.tolerance + 1) {
      this.allowed = Math.min(this.max, this.allowed + Math.max(1, Math.floor(this.allowed / 4)));
      this.wakeUp();
    }
    this.best = Math.min(this.best, mean);
  }

  private wakeUp(): void {
    while (this.active < this.allowed && this.waiting.size > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }
}
