/**
 * GCS backend on @google-cloud/storage v7. Keys: rootdirectory stripped of surrounding '/', plus one
 * '/' when non-empty, then the driver path without its leading '/' (spec §1.1). The SDK's retries are
 * off (autoRetry false): the shared RequestRunner retries, so each counted attempt is one HTTP request.
 * With a custom endpoint (emulators, tests) and no credentials, requests are sent without auth.
 */
import type { Readable } from 'node:stream';
import { Storage, type Bucket, type StorageOptions } from '@google-cloud/storage';
import type { Logger } from 'pino';
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
import { md5FromBase64 } from './content-md5.js';
import { ContentTooLargeError, PathNotFoundError, type StorageError } from './errors.js';
import {
  DEFAULT_WALK_TUNING,
  dirKeyOf,
  keyOf,
  pathOf,
  walkObjects,
  type ListPage,
  type ListQuery,
  type ObjectStore,
  ListingOrderState,
  type ObjectWalkTuning,
  listChildren,
} from './object-walk.js';
import { validatePath } from './paths.js';
import { isNetworkError, mapBounded, RequestRunner, silentLogger, type RetryPolicy } from './requests.js';
import { readCapped } from './streams.js';

export interface GcsDriverOptions {
  readonly bucket: string;
  readonly rootDirectory?: string;
  /** Path of a service-account JSON key. */
  readonly keyFile?: string;
  /** Inline service-account credentials (the `credentials` map). */
  readonly credentials?: Record<string, unknown>;
  /** Custom API endpoint, e.g. http://127.0.0.1:4443 for an emulator. */
  readonly endpoint?: string;
  readonly projectId?: string;
  readonly maxRetries?: number;
  readonly concurrency: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Overrides of the ranged-walk tuning (object-walk.ts). */
  readonly walkTuning?: Partial<ObjectWalkTuning>;
  readonly logger?: Logger;
}

interface GcsFailure {
  code?: number | string;
  response?: { status?: number };
}

function statusOf(err: unknown): number | undefined {
  const e = err as GcsFailure;
  if (typeof e?.code === 'number') return e.code;
  return e?.response?.status;
}

export function isTransientGcsError(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined && (status === 429 || status === 408 || status >= 500)) return true;
  return isNetworkError(err);
}

export function gcsKeyPrefix(rootDirectory: string | undefined): string {
  const root = (rootDirectory ?? '').replace(/^\/+|\/+$/g, '');
  return root === '' ? '' : `${root}/`;
}

interface RawObject {
  name?: string;
  size?: string | number;
  updated?: string;
  md5Hash?: string;
}

export class GcsDriver implements StorageDriver, ObjectStore {
  readonly name = 'gcs';
  readonly driver = 'gcs';
  readonly keyPrefix: string;
  readonly listingMd5 = true;
  readonly directoryWalk = false;
  readonly listingOrder: ListingOrderState;
  private readonly storage: Storage;
  private readonly bucket: Bucket;
  private readonly runner: RequestRunner;
  private readonly walkTuning: ObjectWalkTuning;

  constructor(opts: GcsDriverOptions) {
    this.keyPrefix = gcsKeyPrefix(opts.rootDirectory);
    const timeout = opts.retry?.attemptTimeoutMs ?? 60_000;
    const config: StorageOptions = {
      retryOptions: { autoRetry: false },
      timeout,
      projectId: opts.projectId,
    };
    if (opts.endpoint) {
      config.apiEndpoint = opts.endpoint;
      config.useAuthWithCustomEndpoint = Boolean(opts.keyFile || opts.credentials);
    }
    if (opts.keyFile) config.keyFilename = opts.keyFile;
    if (opts.credentials) config.credentials = opts.credentials as StorageOptions['credentials'];
    this.storage = new Storage(config);
    this.bucket = this.storage.bucket(opts.bucket);
    this.runner = new RequestRunner({
      driver: this.name,
      concurrency: opts.concurrency,
      retry: { maxAttempts: (opts.maxRetries ?? 5) + 1, ...opts.retry },
      logger: opts.logger,
      isTransient: isTransientGcsError,
      translate: (err, path) =>
        path !== undefined && statusOf(err) === 404
          ? new PathNotFoundError(path, this.name, { cause: err })
          : undefined,
    });
    this.listingOrder = new ListingOrderState((message) =>
      (opts.logger ?? silentLogger).warn({ driver: this.name }, message),
    );
    this.walkTuning = {
      ...DEFAULT_WALK_TUNING,
      rangeConcurrency: Math.min(DEFAULT_WALK_TUNING.rangeConcurrency, opts.concurrency),
      ...opts.walkTuning,
    };
  }

  requestCounts(): RequestCounts {
    return this.runner.requestCounts();
  }

  async close(): Promise<void> {
    // The SDK keeps no sockets open beyond its shared keep-alive agent.
  }

  async listPage(q: ListQuery): Promise<ListPage> {
    const query = {
      prefix: q.prefix,
      delimiter: q.delimiter ? '/' : undefined,
      pageToken: q.token,
      // startOffset is inclusive; walkObjects drops the key equal to startAfter.
      startOffset: q.token === undefined ? q.startAfter : undefined,
      endOffset: q.end,
      maxResults: 1000,
      autoPaginate: false,
      fields: 'items(name,size,updated,md5Hash),prefixes,nextPageToken',
    };
    const [items, , response] = await this.runner.run(
      { kind: 'list', operation: 'objects.list', path: pathOf(this, q.prefix), signal: q.signal },
      () => this.bucket.getFiles(query),
    );
    const resp = (response ?? {}) as { prefixes?: string[]; nextPageToken?: string };
    return {
      objects: (items as unknown as RawObject[]).map((o) => ({
        key: o.name ?? '',
        size: Number(o.size ?? 0),
        modTime: o.updated ? new Date(o.updated) : undefined,
        md5: md5FromBase64(o.md5Hash),
      })),
      prefixes: resp.prefixes ?? [],
      nextToken: resp.nextPageToken || undefined,
    };
  }

  async stat(path: string, options?: CallOptions): Promise<StatInfo> {
    validatePath(path, this.name);
    if (path !== '/') {
      try {
        const [meta] = await this.runner.run(
          { kind: 'stat', operation: 'objects.get', path, signal: options?.signal },
          () => this.bucket.file(keyOf(this, path)).getMetadata(),
        );
        return {
          path,
          isDir: false,
          size: Number(meta.size ?? 0),
          modTime: meta.updated ? new Date(meta.updated) : undefined,
        };
      } catch (err) {
        if (!(err instanceof PathNotFoundError)) throw err;
      }
    }
    const [items] = await this.runner.run(
      { kind: 'list', operation: 'objects.list', path, signal: options?.signal },
      () =>
        this.bucket.getFiles({
          prefix: dirKeyOf(this, path),
          maxResults: 1,
          autoPaginate: false,
          fields: 'items(name),nextPageToken',
        }),
    );
    if (items.length === 0) throw new PathNotFoundError(path, this.name);
    return { path, isDir: true, size: 0 };
  }

  async list(path: string, options?: CallOptions): Promise<ListEntry[]> {
    validatePath(path, this.name);
    return listChildren(this, path, this.name, options?.signal);
  }

  walk(prefix: string, options: WalkOptions = {}): AsyncIterable<FileInfo> {
    validatePath(prefix, this.name);
    return walkObjects(this, prefix, options, this.walkTuning);
  }

  async getContent(path: string, options: GetContentOptions): Promise<Buffer> {
    validatePath(path, this.name);
    return this.runner.run(
      { kind: 'get', operation: 'objects.get(media)', path, signal: options.signal },
      async () => {
        const stream = this.bucket.file(keyOf(this, path)).createReadStream({ validation: false });
        return readCapped(
          stream,
          options.maxBytes,
          () => new ContentTooLargeError(path, this.name, options.maxBytes),
        );
      },
    );
  }

  async getContents(paths: readonly string[], options: GetContentOptions): Promise<ContentResult[]> {
    return mapBounded(paths, this.runner.concurrency, async (path): Promise<ContentResult> => {
      try {
        return { path, content: await this.getContent(path, options) };
      } catch (error) {
        options.signal?.throwIfAborted();
        return { path, error: error as StorageError };
      }
    });
  }

  async reader(path: string, options: CallOptions & { offset?: number } = {}): Promise<Readable> {
    validatePath(path, this.name);
    return this.runner.run(
      { kind: 'get', operation: 'objects.get(media)', path, signal: options.signal },
      async () => {
        const stream = this.bucket
          .file(keyOf(this, path))
          .createReadStream(
            options.offset ? { start: options.offset, validation: false } : { validation: false },
          );
        // Start the request and wait for its first outcome, so a missing object fails here, not later.
        await new Promise<void>((resolve, reject) => {
          const onReadable = (): void => {
            cleanup();
            resolve();
          };
          const onError = (err: Error): void => {
            cleanup();
            reject(err);
          };
          const cleanup = (): void => {
            stream.off('readable', onReadable);
            stream.off('end', onReadable);
            stream.off('error', onError);
          };
          stream.on('readable', onReadable);
          stream.on('end', onReadable);
          stream.on('error', onError);
        });
        return stream;
      },
    );
  }

  async putContent(path: string, content: Buffer, options?: CallOptions): Promise<void> {
    validatePath(path, this.name);
    await this.runner.run({ kind: 'put', operation: 'objects.insert', path, signal: options?.signal }, () =>
      this.bucket.file(keyOf(this, path)).save(content, { resumable: false, validation: false }),
    );
  }

  async delete(path: string, options?: CallOptions): Promise<void> {
    validatePath(path, this.name);
    try {
      await this.runner.run(
        { kind: 'delete', operation: 'objects.delete', path, signal: options?.signal },
        () => this.bucket.file(keyOf(this, path)).delete(),
      );
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
  }
}
