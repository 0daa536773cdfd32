/**
 * The one wrapper every object-store request goes through: a concurrency limit (with a floor and a
 * default), an optional request-rate cap, retries with exponential backoff and full jitter on transient
 * failures (bounded by attempts and by elapsed time, each retry logged), a per-attempt timeout, and
 * request counting by kind (into the driver's counts, base.ts). Backends disable their SDK's own
 * retries so that one attempt here is one HTTP request and the counts are real.
 */
import type { Logger } from 'pino';
import { AdaptiveLimit } from './adaptive-limit.js';
import { AttemptTimeoutError, AttemptTracker, type AttemptCancel } from './attempt.js';
import type { RequestCounts } from './driver.js';
import { backendFailure, StorageError, type StorageDriverError } from './errors.js';
import { silentLogger } from './silent-logger.js';

export type RequestKind = keyof RequestCounts;

export interface ConcurrencyBounds {
  readonly floor: number;
  readonly default: number;
}

/**
 * Object stores: at most this many requests in flight (the adaptive limit starts at 16 and grows while
 * latency holds). 256 as s5cmd's default workers: at 30 ms a request that is ~8,500 requests/s, above
 * S3's 5,500 GET/s per prefix, where SlowDown makes the limit back off. GCS's `maxconcurrency`
 * parameter, when set, and the import's `--storage-concurrency` cap it lower, never below the floor:
 * both refuse a smaller value (gcs-params.ts, src/cli/import.ts). Here, not in factory.ts, because the
 * parameter parsers that factory.ts imports need the floor.
 */
export const OBJECT_STORE_CONCURRENCY = { floor: 4, default: 256 } as const satisfies ConcurrencyBounds;

/** Requested concurrency, raised to the floor; the default when absent or not a positive integer. */
export function resolveConcurrency(requested: number | undefined, bounds: ConcurrencyBounds): number {
  if (requested === undefined || !Number.isInteger(requested) || requested <= 0) return bounds.default;
  return Math.max(bounds.floor, requested);
}

export interface RetryPolicy {
  /** Attempts including the first (S3 `maxretries` + 1). */
  readonly maxAttempts: number;
  /** No new attempt starts once this much time has passed since the first. */
  readonly maxElapsedMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Each attempt is aborted (and counted as transient) after this long. */
  readonly attemptTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  maxElapsedMs: 120_000,
  baseDelayMs: 100,
  maxDelayMs: 10_000,
  attemptTimeoutMs: 60_000,
};

export interface RequestRunnerOptions {
  readonly driver: string;
  readonly concurrency: number;
  /** The counts each attempt adds to (the driver's, BaseDriver `requests`); the runner's own when absent. */
  readonly counts?: RequestCounts;
  /** 0 or undefined: no rate cap. */
  readonly maxRequestsPerSecond?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly logger?: Logger;
  /** Backend-specific: is this error worth another attempt? */
  readonly isTransient: (err: unknown) => boolean;
  /** Backend-specific: turn a final, non-transient error into a typed one (PathNotFoundError...), or undefined. */
  readonly translate: (err: unknown, path: string | undefined) => StorageError | undefined;
}

export interface RequestSpec {
  readonly kind: RequestKind;
  /** Operation name for logs and errors, e.g. "ListObjectsV2". */
  readonly operation: string;
  readonly path?: string;
  readonly signal?: AbortSignal;
  /** Place in the queue for a slot (CallOptions.priority). */
  readonly priority?: number;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class RequestRunner {
  readonly driver: string;
  readonly concurrency: number;
  /** In-flight limit: adapts between 1 and `concurrency` (adaptive-limit.ts). */
  readonly limit: AdaptiveLimit;
  private readonly retry: RetryPolicy;
  private readonly logger: Logger;
  private readonly counts: RequestCounts;
  private readonly intervalMs: number;
  private readonly attempts: AttemptTracker;
  private nextSlot = 0;
  private retries = 0;

  constructor(private readonly opts: RequestRunnerOptions) {
    this.driver = opts.driver;
    this.concurrency = opts.concurrency;
    this.limit = new AdaptiveLimit({ max: opts.concurrency, min: Math.min(4, opts.concurrency) });
    this.counts = opts.counts ?? { list: 0, get: 0, stat: 0, put: 0, delete: 0 };
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.logger = opts.logger ?? silentLogger;
    const rps = opts.maxRequestsPerSecond ?? 0;
    this.intervalMs = rps > 0 ? 1000 / rps : 0;
    this.attempts = new AttemptTracker(this.retry.attemptTimeoutMs);
  }

  requestCounts(): RequestCounts {
    return { ...this.counts };
  }

  /** Retries made so far (attempts beyond the first), across all requests. */
  retryCount(): number {
    return this.retries;
  }

  /**
   * Runs `fn` (one HTTP request) under the limits, retrying transient failures. `fn` is told through
   * its AttemptCancel when the caller's signal aborts or the attempt times out (attempt.ts).
   */
  async run<T>(spec: RequestSpec, fn: (cancel: AttemptCancel) => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      spec.signal?.throwIfAborted();
      let result: T;
      try {
        result = await this.limit.run(() => this.attempt(spec, fn), spec.priority);
        return result;
      } catch (err) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        // Already typed by the backend (PathNotFoundError, ContentTooLargeError...): final as it is.
        if (err instanceof StorageError) throw err;
        const transient = err instanceof AttemptTimeoutError || this.opts.isTransient(err);
        if (!transient) {
          const typed = this.opts.translate(err, spec.path);
          if (typed) throw typed;
          throw this.finalError(spec, attempt, err, false);
        }
        if (isThrottle(err)) this.limit.throttled();
        const elapsed = Date.now() - started;
        const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        const delayMs = Math.round(Math.random() * ceiling);
        if (attempt >= this.retry.maxAttempts || elapsed + delayMs >= this.retry.maxElapsedMs) {
          this.logger.warn(
            {
              driver: this.driver,
              operation: spec.operation,
              path: spec.path,
              attempts: attempt,
              retries: attempt - 1,
              err: describe(err),
            },
            'storage request failed, giving up',
          );
          throw this.finalError(spec, attempt, err, true);
        }
        this.retries++;
        this.logger.warn(
          {
            driver: this.driver,
            operation: spec.operation,
            path: spec.path,
            attempt,
            retry: attempt,
            maxAttempts: this.retry.maxAttempts,
            delayMs,
            err: describe(err),
          },
          'transient storage error, retrying',
        );
        await sleep(delayMs, spec.signal);
      }
    }
  }

  private async attempt<T>(spec: RequestSpec, fn: (cancel: AttemptCancel) => Promise<T>): Promise<T> {
    if (this.intervalMs > 0) {
      const now = Date.now();
      const slot = Math.max(now, this.nextSlot);
      this.nextSlot = slot + this.intervalMs;
      if (slot > now) await sleep(slot - now, spec.signal);
    }
    this.counts[spec.kind]++;
    return this.attempts.run(spec.signal, fn);
  }

  private finalError(
    spec: RequestSpec,
    attempts: number,
    err: unknown,
    transient: boolean,
  ): StorageDriverError {
    return backendFailure(
      this.driver,
      { operation: spec.operation, path: spec.path, attempts, cause: err },
      transient,
    );
  }
}

/** The store asks for fewer requests: 503 (S3 SlowDown), 429 (GCS rateLimitExceeded), SlowDown. */
export function isThrottle(err: unknown): boolean {
  const d = describe(err);
  return d.status === 503 || d.status === 429 || d.code === 'SlowDown' || d.name === 'SlowDown';
}

/** A small, log-safe summary of an error (never the request, which may carry credentials). */
export function describe(err: unknown): {
  name: string;
  message: string;
  code?: string | number;
  status?: number;
} {
  if (err instanceof Error) {
    const e = err as Error & {
      code?: string | number;
      Code?: string;
      $metadata?: { httpStatusCode?: number };
    };
    const status = e.$metadata?.httpStatusCode ?? (typeof e.code === 'number' ? e.code : undefined);
    return { name: e.name, message: e.message, code: e.Code ?? e.code, status };
  }
  return { name: typeof err, message: String(err) };
}

/** Node network error codes that mean "the connection broke": worth another attempt. */
export const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Walks an error's cause chain looking for a transient network code or message. */
export function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const x = e as { code?: unknown; message?: unknown; cause?: unknown; name?: unknown };
    if (typeof x.code === 'string' && TRANSIENT_NETWORK_CODES.has(x.code)) return true;
    if (typeof x.message === 'string' && /socket hang up|ECONNRESET|premature close|aborted/i.test(x.message))
      return true;
    if (x.name === 'TimeoutError') return true;
    e = x.cause;
  }
  return false;
}

/** Runs `fn` over `items` with at most `concurrency` in flight, keeping order; never unbounded. */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
  return results;
}
