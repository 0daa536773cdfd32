/**
 * The one object-store driver (S3, GCS): everything the StorageDriver contract asks of an object
 * store, written once over a handful of backend calls (list a page, head, get, put, delete). Each
 * call is one HTTP request, sent through the RequestRunner (limits, retries, and counting each
 * attempt into the driver's counts); walks are object-walk.ts's. A backend translates nothing but
 * "not found" and transient failures (`isNotFound`, `isTransient`); the checks every method repeats
 * (path, abort, the driver name on errors) are BaseDriver's (base.ts).
 */
import { addAbortSignal, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { AttemptCancel } from './attempt.js';
import { BaseDriver } from './base.js';
import type {
  CallOptions,
  ContentResult,
  FileInfo,
  GetContentOptions,
  ListEntry,
  StatInfo,
  WalkOptions,
} from './driver.js';
import { ContentTooLargeError, PathNotFoundError } from './errors.js';
import {
  DEFAULT_WALK_TUNING,
  dirKeyOf,
  keyOf,
  listChildren,
  ListingOrderState,
  pathOf,
  walkObjects,
  type ListPage,
  type ListQuery,
  type ObjectStore,
  type ObjectWalkTuning,
} from './object-walk.js';
import { mapBounded, RequestRunner, type RetryPolicy } from './requests.js';
import { silentLogger } from './silent-logger.js';
import type { ResponseBody } from './streams.js';

/** What a backend says about one object without its content. */
export interface HeadResult {
  readonly size: number;
  readonly modTime?: Date;
}

/** A started download: the body, and its length when the response said it. */
export interface GetResult {
  readonly body: ResponseBody;
  readonly size?: number;
}

/** The calls an object store plugs into ObjectStoreDriver; each sends exactly one HTTP request. */
export interface ObjectBackend {
  /** Operation names for logs and errors, e.g. { list: 'ListObjectsV2', ... }. */
  readonly operations: Readonly<Record<'list' | 'head' | 'get' | 'put' | 'delete', string>>;
  listPage(query: ListQuery & { readonly limit?: number }, cancel: AttemptCancel): Promise<ListPage>;
  head(key: string, cancel: AttemptCancel): Promise<HeadResult>;
  get(key: string, cancel: AttemptCancel, offset?: number): Promise<GetResult>;
  put(key: string, content: Buffer, cancel: AttemptCancel): Promise<void>;
  remove(key: string, cancel: AttemptCancel): Promise<void>;
  /** Is this failure "no such object"? (S3 NoSuchKey/404, GCS 404) */
  isNotFound(err: unknown): boolean;
  /** Is this failure worth another attempt? (5xx, 429, SlowDown, broken connections) */
  isTransient(err: unknown): boolean;
  close(): Promise<void>;
}

export interface ObjectStoreDriverOptions {
  readonly name: string;
  readonly keyPrefix: string;
  readonly backend: ObjectBackend;
  readonly concurrency: number;
  /** 0 or undefined: no rate cap. */
  readonly maxRequestsPerSecond?: number;
  /** Retries after the first attempt; default 5 (spec §4.5). */
  readonly maxRetries?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly walkTuning?: Partial<ObjectWalkTuning>;
  readonly logger?: Logger;
}

/** Requests are counted where they are sent, by the RequestRunner: every attempt, retries included. */
export class ObjectStoreDriver extends BaseDriver implements ObjectStore {
  readonly driver: string;
  readonly keyPrefix: string;
  readonly listingMd5 = true;
  readonly directoryWalk = false;
  readonly listingOrder: ListingOrderState;
  protected readonly backend: ObjectBackend;
  protected readonly runner: RequestRunner;
  private readonly walkTuning: ObjectWalkTuning;

  constructor(opts: ObjectStoreDriverOptions) {
    super(opts.name, 'backend');
    this.driver = opts.name;
    this.keyPrefix = opts.keyPrefix;
    this.backend = opts.backend;
    const logger = opts.logger ?? silentLogger;
    this.runner = new RequestRunner({
      driver: opts.name,
      concurrency: opts.concurrency,
      counts: this.requests,
      maxRequestsPerSecond: opts.maxRequestsPerSecond,
      retry: { maxAttempts: (opts.maxRetries ?? 5) + 1, ...opts.retry },
      logger,
      isTransient: (err) => this.backend.isTransient(err),
      translate: (err, path) =>
        path !== undefined && this.backend.isNotFound(err)
          ? new PathNotFoundError(path, this.name, { cause: err })
          : undefined,
    });
    this.listingOrder = new ListingOrderState((message) => logger.warn({ driver: this.name }, message));
    this.walkTuning = {
      ...DEFAULT_WALK_TUNING,
      rangeConcurrency: Math.min(DEFAULT_WALK_TUNING.rangeConcurrency, opts.concurrency),
      ...opts.walkTuning,
    };
  }

  async close(): Promise<void> {
    await this.backend.close();
  }

  listPage(q: ListQuery & { readonly limit?: number }): Promise<ListPage> {
    return this.runner.run(
      {
        kind: 'list',
        operation: this.backend.operations.list,
        path: pathOf(this, q.prefix),
        signal: q.signal,
      },
      (cancel) => this.backend.listPage(q, cancel),
    );
  }

  protected async statChecked(path: string, options?: CallOptions): Promise<StatInfo> {
    if (path !== '/') {
      try {
        const head = await this.runner.run(
          {
            kind: 'stat',
            operation: this.backend.operations.head,
            path,
            signal: options?.signal,
            priority: options?.priority,
          },
          (cancel) => this.backend.head(keyOf(this, path), cancel),
        );
        return { path, isDir: false, size: head.size, modTime: head.modTime };
      } catch (err) {
        if (!(err instanceof PathNotFoundError)) throw err;
      }
    }
    // A directory is a prefix with at least one object below it.
    const probe = await this.runner.run(
      { kind: 'list', operation: this.backend.operations.list, path, signal: options?.signal },
      (cancel) => this.backend.listPage({ prefix: dirKeyOf(this, path), delimiter: false, limit: 1 }, cancel),
    );
    if (probe.objects.length === 0 && probe.prefixes.length === 0)
      throw new PathNotFoundError(path, this.name);
    return { path, isDir: true, size: 0 };
  }

  protected listChecked(path: string, options?: CallOptions): Promise<ListEntry[]> {
    return listChildren(this, path, this.name, options?.signal);
  }

  protected walkChecked(prefix: string, options: WalkOptions): AsyncIterable<FileInfo> {
    return walkObjects(this, prefix, options, this.walkTuning);
  }

  protected readChecked(path: string, options: GetContentOptions): Promise<Buffer> {
    return this.runner.run(
      {
        kind: 'get',
        operation: this.backend.operations.get,
        path,
        signal: options.signal,
        priority: options.priority,
      },
      async (cancel) => {
        const { body, size } = await this.backend.get(keyOf(this, path), cancel);
        if (size !== undefined && size > options.maxBytes) {
          body.destroy();
          throw new ContentTooLargeError(path, this.name, options.maxBytes, size);
        }
        return body.read(options.maxBytes, () => new ContentTooLargeError(path, this.name, options.maxBytes));
      },
    );
  }

  protected readManyChecked(paths: readonly string[], options: GetContentOptions): Promise<ContentResult[]> {
    return mapBounded(paths, this.runner.concurrency, async (path): Promise<ContentResult> => {
      try {
        return { path, content: await this.readChecked(path, options) };
      } catch (error) {
        options.signal?.throwIfAborted();
        return { path, error: this.failure(error, 'getContent', path) as Error };
      }
    });
  }

  protected async readerChecked(path: string, options: CallOptions & { offset?: number }): Promise<Readable> {
    const { body } = await this.runner.run(
      { kind: 'get', operation: this.backend.operations.get, path, signal: options.signal },
      (cancel) => this.backend.get(keyOf(this, path), cancel, options.offset || undefined),
    );
    // The attempt ends once the headers are in; the caller's signal still cuts the body short.
    const stream = body.stream();
    return options.signal ? addAbortSignal(options.signal, stream) : stream;
  }

  protected async putChecked(path: string, content: Buffer, options?: CallOptions): Promise<void> {
    await this.runner.run(
      { kind: 'put', operation: this.backend.operations.put, path, signal: options?.signal },
      (cancel) => this.backend.put(keyOf(this, path), content, cancel),
    );
  }

  protected async deleteChecked(path: string, options?: CallOptions): Promise<void> {
    try {
      await this.runner.run(
        { kind: 'delete', operation: this.backend.operations.delete, path, signal: options?.signal },
        (cancel) => this.backend.remove(keyOf(this, path), cancel),
      );
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
  }
}
