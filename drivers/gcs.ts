/**
 * GCS backend on @google-cloud/storage v7. Keys: rootdirectory stripped of surrounding '/', plus one
 * '/' when non-empty, then the driver path without its leading '/' (spec §1.1). The SDK's retries are
 * off (autoRetry false): the shared RequestRunner retries, so each counted attempt is one HTTP request.
 * With a custom endpoint (emulators, tests) and no credentials, requests are sent without auth.
 */
import type { Readable } from 'node:stream';
import { Storage, type Bucket, type StorageOptions } from '@google-cloud/storage';
import type { Logger } from 'pino';
import { md5FromBase64 } from './content-md5.js';
import type { ListPage, ListQuery, ObjectWalkTuning } from './object-walk.js';
import { ObjectStoreDriver, type GetResult, type HeadResult, type ObjectBackend } from './object-store.js';
import type { GcsParameters } from './gcs-params.js';
import { isNetworkError, type RetryPolicy } from './requests.js';

/** The parsed parameters (gcs-params.ts, where each is described) and what the factory adds. */
export interface GcsDriverOptions extends Omit<GcsParameters, 'maxConcurrency'> {
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

/** Waits for a download's first outcome, so a missing object fails in its request, not later. */
function started(stream: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
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
}

/** The GCS JSON-API calls ObjectStoreDriver plugs in: one SDK call each, the SDK's retries off. */
class GcsBackend implements ObjectBackend {
  readonly operations = {
    list: 'objects.list',
    head: 'objects.get',
    get: 'objects.get(media)',
    put: 'objects.insert',
    delete: 'objects.delete',
  } as const;

  constructor(private readonly bucket: Bucket) {}

  async listPage(q: ListQuery & { readonly limit?: number }): Promise<ListPage> {
    const query = {
      prefix: q.prefix,
      delimiter: q.delimiter ? '/' : undefined,
      pageToken: q.token,
      // startOffset is inclusive; walkObjects drops the key equal to startAfter.
      startOffset: q.token === undefined ? q.startAfter : undefined,
      endOffset: q.end,
      maxResults: q.limit ?? 1000,
      autoPaginate: false,
      fields: 'items(name,size,updated,md5Hash),prefixes,nextPageToken',
    };
    const [items, , response] = await this.bucket.getFiles(query);
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

  async head(key: string): Promise<HeadResult> {
    const [meta] = await this.bucket.file(key).getMetadata();
    return { size: Number(meta.size ?? 0), modTime: meta.updated ? new Date(meta.updated) : undefined };
  }

  async get(key: string, _signal: AbortSignal, offset?: number): Promise<GetResult> {
    const stream = this.bucket
      .file(key)
      .createReadStream(offset ? { start: offset, validation: false } : { validation: false });
    await started(stream);
    return { body: stream };
  }

  async put(key: string, content: Buffer): Promise<void> {
    await this.bucket.file(key).save(content, { resumable: false, validation: false });
  }

  async remove(key: string): Promise<void> {
    await this.bucket.file(key).delete();
  }

  isNotFound(err: unknown): boolean {
    return statusOf(err) === 404;
  }

  isTransient(err: unknown): boolean {
    return isTransientGcsError(err);
  }

  async close(): Promise<void> {
    // The SDK keeps no sockets open beyond its shared keep-alive agent.
  }
}

function storageOptions(opts: GcsDriverOptions): StorageOptions {
  const config: StorageOptions = {
    retryOptions: { autoRetry: false },
    timeout: opts.retry?.attemptTimeoutMs ?? 60_000,
    projectId: opts.projectId,
  };
  if (opts.endpoint) {
    config.apiEndpoint = opts.endpoint;
    config.useAuthWithCustomEndpoint = Boolean(opts.keyFile || opts.credentials);
  }
  if (opts.keyFile) config.keyFilename = opts.keyFile;
  if (opts.credentials) config.credentials = opts.credentials as StorageOptions['credentials'];
  return config;
}

export class GcsDriver extends ObjectStoreDriver {
  constructor(opts: GcsDriverOptions) {
    super({
      name: 'gcs',
      keyPrefix: gcsKeyPrefix(opts.rootDirectory),
      backend: new GcsBackend(new Storage(storageOptions(opts)).bucket(opts.bucket)),
      concurrency: opts.concurrency,
      maxRetries: opts.maxRetries,
      retry: opts.retry,
      walkTuning: opts.walkTuning,
      logger: opts.logger,
    });
  }
}
