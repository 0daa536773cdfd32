/**
 * The wrapper every driver method goes through, after distribution's storagedriver `base`: each
 * method of the StorageDriver contract checks the path (InvalidPathError naming the driver) and the
 * caller's signal, counts the request, then delegates to the backend's protected `…Checked` method,
 * which sees only checked paths; a failure the backend left untyped leaves with the driver's name
 * (StorageDriverError, the original as `cause`), as the backends' typed errors (PathNotFoundError…)
 * carry it. FilesystemDriver and ObjectStoreDriver (S3, GCS) extend it.
 *
 * A subclass rather than a wrapping object, so that a driver stays one object: `new FilesystemDriver`
 * is the checked driver, and the object store's `listPage` (object-walk.ts) reaches its own runner.
 *
 * A walk's errors are the backend's own, not wrapped here: the walk runs the caller's `prune` and
 * `onUnreadable`, whose errors (a strict import's) must reach the caller as thrown, and wrapping each
 * step of a 240,000-file walk would cost a promise per file.
 */
import type { Readable } from 'node:stream';
import type {
  CallOptions,
  ContentResult,
  FileInfo,
  GetContentOptions,
  ListEntry,
  RequestCounts,
  StatInfo,
  StorageDriver,
  WalkOptions,
} from './driver.js';
import { backendFailure, InvalidPathError, StorageError } from './errors.js';
import { validatePath } from './paths.js';

/**
 * Who counts the requests. `calls`: every call passed on is one request of its kind (the filesystem:
 * no retries, no probes), counted here; the backend counts only what a call does not show, the
 * directories a walk reads. `backend`: the backend counts each request it sends into `requests`
 * (object stores: their RequestRunner counts every attempt, retries included, and a stat's probe).
 */
export type Counting = 'calls' | 'backend';

export abstract class BaseDriver implements StorageDriver {
  abstract readonly listingMd5: boolean;
  abstract readonly directoryWalk: boolean;
  /** Requests sent so far, by kind: what `requestCounts()` reports and the import's storageRequests. */
  protected readonly requests: RequestCounts = { list: 0, get: 0, stat: 0, put: 0, delete: 0 };
  private readonly countsCalls: boolean;

  protected constructor(
    readonly name: string,
    counting: Counting,
  ) {
    this.countsCalls = counting === 'calls';
  }

  requestCounts(): RequestCounts {
    return { ...this.requests };
  }

  abstract close(): Promise<void>;

  async stat(path: string, options?: CallOptions): Promise<StatInfo> {
    this.check(path, options);
    if (this.countsCalls) this.requests.stat++;
    try {
      return await this.statChecked(path, options);
    } catch (err) {
      throw this.failure(err, 'stat', path, options?.signal);
    }
  }

  async list(path: string, options?: CallOptions): Promise<ListEntry[]> {
    this.check(path, options);
    if (this.countsCalls) this.requests.list++;
    try {
      return await this.listChecked(path, options);
    } catch (err) {
      throw this.failure(err, 'list', path, options?.signal);
    }
  }

  walk(prefix: string, options: WalkOptions = {}): AsyncIterable<FileInfo> {
    this.check(prefix, options);
    return this.walkChecked(prefix, options);
  }

  async getContent(path: string, options: GetContentOptions): Promise<Buffer> {
    this.check(path, options);
    if (this.countsCalls) this.requests.get++;
    try {
      return await this.readChecked(path, options);
    } catch (err) {
      throw this.failure(err, 'getContent', path, options.signal);
    }
  }

  /** Invalid paths come back as their InvalidPathError; the backend reads the others in one call. */
  async getContents(paths: readonly string[], options: GetContentOptions): Promise<ContentResult[]> {
    options.signal?.throwIfAborted();
    const invalid = this.invalidAmong(paths);
    const valid = invalid ? paths.filter((_, i) => invalid[i] === undefined) : paths;
    if (this.countsCalls) this.requests.get += valid.length;
    let read: ContentResult[];
    try {
      read = await this.readManyChecked(valid, options);
    } catch (err) {
      throw this.failure(err, 'getContents', undefined, options.signal);
    }
    if (!invalid) return read;
    let next = 0;
    return paths.map((path, i): ContentResult => {
      const error = invalid[i];
      return error ? { path, error } : read[next++]!;
    });
  }

  async reader(path: string, options: CallOptions & { offset?: number } = {}): Promise<Readable> {
    this.check(path, options);
    if (this.countsCalls) this.requests.get++;
    try {
      return await this.readerChecked(path, options);
    } catch (err) {
      throw this.failure(err, 'reader', path, options.signal);
    }
  }

  async putContent(path: string, content: Buffer, options?: CallOptions): Promise<void> {
    this.check(path, options);
    if (path === '/') throw new InvalidPathError(path, this.name, 'cannot write the root');
    if (this.countsCalls) this.requests.put++;
    try {
      await this.putChecked(path, content, options);
    } catch (err) {
      throw this.failure(err, 'putContent', path, options?.signal);
    }
  }

  async delete(path: string, options?: CallOptions): Promise<void> {
    this.check(path, options);
    if (this.countsCalls) this.requests.delete++;
    try {
      await this.deleteChecked(path, options);
    } catch (err) {
      throw this.failure(err, 'delete', path, options?.signal);
    }
  }

  protected abstract statChecked(path: string, options?: CallOptions): Promise<StatInfo>;
  protected abstract listChecked(path: string, options?: CallOptions): Promise<ListEntry[]>;
  protected abstract walkChecked(prefix: string, options: WalkOptions): AsyncIterable<FileInfo>;
  protected abstract readChecked(path: string, options: GetContentOptions): Promise<Buffer>;
  /** Results in the order of `paths`; a path's own failure is its result's `error`. */
  protected abstract readManyChecked(
    paths: readonly string[],
    options: GetContentOptions,
  ): Promise<ContentResult[]>;
  protected abstract readerChecked(
    path: string,
    options: CallOptions & { offset?: number },
  ): Promise<Readable>;
  protected abstract putChecked(path: string, content: Buffer, options?: CallOptions): Promise<void>;
  protected abstract deleteChecked(path: string, options?: CallOptions): Promise<void>;

  /**
   * `err` as the caller gets it: typed storage errors and anything thrown once the caller's signal
   * has aborted pass as they are; anything else becomes a StorageDriverError naming the driver.
   */
  protected failure(
    err: unknown,
    operation: string,
    path: string | undefined,
    signal?: AbortSignal,
  ): unknown {
    if (err instanceof StorageError || signal?.aborted) return err;
    return backendFailure(this.name, { operation, path, attempts: 1, cause: err });
  }

  private check(path: string, options: CallOptions | undefined): void {
    validatePath(path, this.name);
    options?.signal?.throwIfAborted();
  }

  /** Each invalid path's InvalidPathError by index, or undefined when all are valid (the usual case). */
  private invalidAmong(paths: readonly string[]): Array<InvalidPathError | undefined> | undefined {
    let invalid: Array<InvalidPathError | undefined> | undefined;
    for (let i = 0; i < paths.length; i++) {
      try {
        validatePath(paths[i]!, this.name);
      } catch (err) {
        if (!(err instanceof InvalidPathError)) throw err;
        (invalid ??= new Array<InvalidPathError | undefined>(paths.length))[i] = err;
      }
    }
    return invalid;
  }
}
