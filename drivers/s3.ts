/**
 * S3 backend (`s3`, `s3aws`, `s3_v2`) on @aws-sdk/client-s3. Keys: rootdirectory with trailing '/'
 * trimmed, then the driver path, leading '/' trimmed (spec §1.1). The SDK's own retries are off
 * (maxAttempts 1): the shared RequestRunner retries, so each counted attempt is one HTTP request.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
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
import { md5FromETag } from './content-md5.js';
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

export interface S3DriverOptions {
  /** `s3aws` (config keys s3 and s3aws) or `s3_v2` (spec §2.14). */
  readonly name: 's3aws' | 's3_v2';
  readonly bucket: string;
  readonly region: string;
  readonly regionEndpoint?: string;
  readonly rootDirectory?: string;
  readonly accessKey?: string;
  readonly secretKey?: string;
  readonly sessionToken?: string;
  /** Defaults to true when regionEndpoint is set. */
  readonly pathStyle?: boolean;
  /** false: plain http to the endpoint. Default true. */
  readonly secure?: boolean;
  readonly skipVerify?: boolean;
  /** Default 350 (spec §4.5); 0 = no cap. */
  readonly maxRequestsPerSecond?: number;
  /** Retries after the first attempt; default 5 (spec §4.5). */
  readonly maxRetries?: number;
  readonly concurrency: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Overrides of the ranged-walk tuning (object-walk.ts). */
  readonly walkTuning?: Partial<ObjectWalkTuning>;
  readonly logger?: Logger;
}

const TRANSIENT_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'RequestLimitExceeded',
  'TooManyRequestsException',
]);

interface S3Failure {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  const e = err as S3Failure;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

export function isTransientS3Error(err: unknown): boolean {
  const e = err as S3Failure;
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (TRANSIENT_CODES.has(e?.name ?? '') || TRANSIENT_CODES.has(e?.Code ?? '')) return true;
  return isNetworkError(err);
}

function isNotFound(err: unknown): boolean {
  const e = err as S3Failure;
  return (
    e?.name === 'NoSuchKey' || e?.name === 'NotFound' || (statusOf(err) === 404 && e?.name !== 'NoSuchBucket')
  );
}

/** `host[:port]` or a full URL; a bare host gets https unless `secure` is false. */
export function endpointUrl(regionEndpoint: string, secure: boolean): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(regionEndpoint)
    ? regionEndpoint
    : `${secure ? 'https' : 'http'}://${regionEndpoint}`;
}

export function s3KeyPrefix(rootDirectory: string | undefined): string {
  const root = (rootDirectory ?? '').replace(/\/+$/, '');
  return `${root}/`.replace(/^\/+/, '');
}

export class S3Driver implements StorageDriver, ObjectStore {
  readonly name: 's3aws' | 's3_v2';
  readonly driver: string;
  readonly keyPrefix: string;
  readonly listingMd5 = true;
  readonly directoryWalk = false;
  readonly listingOrder: ListingOrderState;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly runner: RequestRunner;
  private readonly walkTuning: ObjectWalkTuning;

  constructor(opts: S3DriverOptions) {
    this.name = opts.name;
    this.driver = opts.name;
    this.bucket = opts.bucket;
    this.keyPrefix = s3KeyPrefix(opts.rootDirectory);
    const secure = opts.secure ?? true;
    const agentOptions = { keepAlive: true, maxSockets: opts.concurrency };
    const config: S3ClientConfig = {
      region: opts.region,
      maxAttempts: 1,
      forcePathStyle: opts.pathStyle ?? opts.regionEndpoint !== undefined,
      // Checksums only where the API requires them: S3-compatible servers vary in support.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent({ ...agentOptions, rejectUnauthorized: !opts.skipVerify }),
        connectionTimeout: 10_000,
      },
    };
    if (opts.regionEndpoint) config.endpoint = endpointUrl(opts.regionEndpoint, secure);
    if (opts.accessKey && opts.secretKey) {
      config.credentials = {
        accessKeyId: opts.accessKey,
        secretAccessKey: opts.secretKey,
        sessionToken: opts.sessionToken || undefined,
      };
    }
    this.client = new S3Client(config);
    this.runner = new RequestRunner({
      driver: opts.name,
      concurrency: opts.concurrency,
      maxRequestsPerSecond: opts.maxRequestsPerSecond ?? 350,
      retry: { maxAttempts: (opts.maxRetries ?? 5) + 1, ...opts.retry },
      logger: opts.logger,
      isTransient: isTransientS3Error,
      translate: (err, path) =>
        path !== undefined && isNotFound(err)
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
    this.client.destroy();
  }

  async listPage(q: ListQuery): Promise<ListPage> {
    const out = await this.runner.run(
      { kind: 'list', operation: 'ListObjectsV2', path: pathOf(this, q.prefix), signal: q.signal },
      (signal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: q.prefix,
            Delimiter: q.delimiter ? '/' : undefined,
            ContinuationToken: q.token,
            StartAfter: q.token === undefined ? q.startAfter : undefined,
            MaxKeys: 1000,
          }),
          { abortSignal: signal },
        ),
    );
    return {
      objects: (out.Contents ?? []).map((o) => ({
        key: o.Key ?? '',
        size: Number(o.Size ?? 0),
        modTime: o.LastModified,
        md5: md5FromETag(o.ETag),
      })),
      prefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix ?? '').filter((p) => p !== ''),
      nextToken: out.IsTruncated ? out.NextContinuationToken : undefined,
    };
  }

  async stat(path: string, options?: CallOptions): Promise<StatInfo> {
    validatePath(path, this.name);
    if (path !== '/') {
      try {
        const head = await this.runner.run(
          { kind: 'stat', operation: 'HeadObject', path, signal: options?.signal },
          (signal) =>
            this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: keyOf(this, path) }), {
              abortSignal: signal,
            }),
        );
        return { path, isDir: false, size: Number(head.ContentLength ?? 0), modTime: head.LastModified };
      } catch (err) {
        if (!(err instanceof PathNotFoundError)) throw err;
      }
    }
    const probe = await this.runner.run(
      { kind: 'list', operation: 'ListObjectsV2', path, signal: options?.signal },
      (signal) =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dirKeyOf(this, path), MaxKeys: 1 }),
          {
            abortSignal: signal,
          },
        ),
    );
    if ((probe.KeyCount ?? probe.Contents?.length ?? 0) === 0) throw new PathNotFoundError(path, this.name);
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
      { kind: 'get', operation: 'GetObject', path, signal: options.signal },
      async (signal) => {
        const out = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: keyOf(this, path) }),
          {
            abortSignal: signal,
          },
        );
        const body = out.Body as Readable | undefined;
        const size = out.ContentLength === undefined ? undefined : Number(out.ContentLength);
        if (size !== undefined && size > options.maxBytes) {
          body?.destroy();
          throw new ContentTooLargeError(path, this.name, options.maxBytes, size);
        }
        if (!body) return Buffer.alloc(0);
        return readCapped(
          body,
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
    const out = await this.runner.run(
      { kind: 'get', operation: 'GetObject', path, signal: options.signal },
      (signal) =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: keyOf(this, path),
            Range: options.offset ? `bytes=${options.offset}-` : undefined,
          }),
          { abortSignal: signal },
        ),
    );
    return out.Body as Readable;
  }

  async putContent(path: string, content: Buffer, options?: CallOptions): Promise<void> {
    validatePath(path, this.name);
    await this.runner.run({ kind: 'put', operation: 'PutObject', path, signal: options?.signal }, (signal) =>
      this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: keyOf(this, path), Body: content }), {
        abortSignal: signal,
      }),
    );
  }

  async delete(path: string, options?: CallOptions): Promise<void> {
    validatePath(path, this.name);
    try {
      await this.runner.run(
        { kind: 'delete', operation: 'DeleteObject', path, signal: options?.signal },
        (signal) =>
          this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: keyOf(this, path) }), {
            abortSignal: signal,
          }),
      );
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
  }
}
