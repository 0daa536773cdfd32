/**
 * How one storage request attempt is abandoned: the caller's signal aborts, or the attempt runs past
 * its timeout. An import makes thousands of requests a second; giving each attempt its own
 * AbortController, an `AbortSignal.any` of it and the caller's, a timer and a `Promise.race` cost
 * more CPU than the HTTP request itself in a profile. Here the attempts in flight are tracked in one
 * set: one listener per caller signal and one coarse timer per runner abandon them, and a backend is
 * told through a callback. An AbortSignal is made only for a backend that must have one (the AWS SDK).
 */

/** What a backend gets with each attempt to cut its request short when the attempt is abandoned. */
export interface AttemptCancel {
  /** Calls `cb` once with the reason when the attempt is abandoned; at once if it already was. */
  onCancel(cb: (reason: Error) => void): void;
  /** An AbortSignal that aborts with the attempt, made on first use (for APIs that take one). */
  readonly signal: AbortSignal;
}

export class AttemptTimeoutError extends Error {
  constructor(ms: number) {
    super(`request timed out after ${ms} ms`);
    this.name = 'AttemptTimeoutError';
  }
}

class Attempt implements AttemptCancel {
  private reason: Error | undefined;
  private hooks: Array<(reason: Error) => void> | undefined;
  private controller: AbortController | undefined;

  constructor(
    readonly caller: AbortSignal | undefined,
    readonly deadline: number,
  ) {}

  get cancelled(): Error | undefined {
    return this.reason;
  }

  onCancel(cb: (reason: Error) => void): void {
    if (this.reason !== undefined) cb(this.reason);
    else (this.hooks ??= []).push(cb);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const c = new AbortController();
      this.controller = c;
      this.onCancel((reason) => c.abort(reason));
    }
    return this.controller.signal;
  }

  cancel(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    const hooks = this.hooks;
    this.hooks = undefined;
    for (const h of hooks ?? []) h(reason);
  }
}

/** The attempts in flight of one runner, abandoned on their caller's abort or their deadline. */
export class AttemptTracker {
  private readonly active = new Set<Attempt>();
  private readonly watched = new WeakSet<AbortSignal>();
  private timer: NodeJS.Timeout | undefined;
  /** How often deadlines are checked: a quarter of the timeout, at most once a second. */
  private readonly tickMs: number;

  constructor(private readonly timeoutMs: number) {
    this.tickMs = Math.max(1, Math.min(1000, Math.floor(timeoutMs / 4)));
  }

  /**
   * Runs `fn` as one attempt. When the attempt is abandoned `fn` is told (it must then settle
   * promptly, as the backends do by destroying their request); a timeout comes back as
   * AttemptTimeoutError whatever `fn` rejected with, a caller's abort as the caller's reason.
   */
  async run<T>(caller: AbortSignal | undefined, fn: (cancel: AttemptCancel) => Promise<T>): Promise<T> {
    caller?.throwIfAborted();
    const attempt = new Attempt(caller, performance.now() + this.timeoutMs);
    this.add(attempt);
    try {
      return await fn(attempt);
    } catch (err) {
      throw attempt.cancelled ?? err;
    } finally {
      this.remove(attempt);
    }
  }

  private add(attempt: Attempt): void {
    this.active.add(attempt);
    const caller = attempt.caller;
    if (caller !== undefined && !this.watched.has(caller)) {
      this.watched.add(caller);
      caller.addEventListener('abort', () => this.cancelFor(caller), { once: true });
    }
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.expire(), this.tickMs);
      this.timer.unref();
    }
  }

  private remove(attempt: Attempt): void {
    this.active.delete(attempt);
    if (this.active.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private cancelFor(caller: AbortSignal): void {
    const reason = caller.reason instanceof Error ? caller.reason : new Error(String(caller.reason));
    for (const a of this.active) if (a.caller === caller) a.cancel(reason);
  }

  private expire(): void {
    const now = performance.now();
    for (const a of this.active) if (a.deadline <= now) a.cancel(new AttemptTimeoutError(this.timeoutMs));
  }
}
