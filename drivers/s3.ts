/**
 * S3 backend (`s3`, `s3aws`, `s3_v2`) on @aws-sdk/client-s3. Keys: rootdirectory with trailing '/'
 * trimmed, then the driver path, leading '/' trimmed (spec §1.1). The SDK's own retries are off
 * (maxAttempts 1): the shared RequestRunner retries, so each counted attempt is one HTTP request.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
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
import { md5FromETag } from './content-md5.js';
import type { ListPage, ListQuery, ObjectWalkTuning } from './object-walk.js';
import { parseListResult, readAll, S3Http } from './s3-http.js';
import { ObjectStoreDriver, type GetResult, type HeadResult, type ObjectBackend } from './object-store.js';
import { isNetworkError, type RetryPolicy } from './requests.js';

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

/** The S3 calls ObjectStoreDriver plugs in: one SDK command each, the SDK's own retries off. */
class S3Backend implements ObjectBackend {
  readonly operations = {
    list: 'ListObjectsV2',
    head: 'HeadObject',
    get: 'GetObject',
    put: 'PutObject',
    delete: 'DeleteObject',
  } as const;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async listPage(q: ListQuery & { readonly limit?: number }, signal: AbortSignal): Promise<ListPage> {
    const out = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: q.prefix,
        Delimiter: q.delimiter ? '/' : undefined,
        ContinuationToken: q.token,
        StartAfter: q.token === undefined ? q.startAfter : undefined,
        MaxKeys: q.limit ?? 1000,
      }),
      { abortSignal: signal },
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

  async head(key: string, signal: AbortSignal): Promise<HeadResult> {
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), {
      abortSignal: signal,
    });
    return { size: Number(head.ContentLength ?? 0), modTime: head.LastModified };
  }

  async get(key: string, signal: AbortSignal, offset?: number): Promise<GetResult> {
    const out = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: offset ? `bytes=${offset}-` : undefined }),
      { abortSignal: signal },
    );
    const body = (out.Body as Readable | undefined) ?? Readable.from([]);
    return out.ContentLength === undefined ? { body } : { body, size: Number(out.ContentLength) };
  }

  async put(key: string, content: Buffer, signal: AbortSignal): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: content }), {
      abortSignal: signal,
    });
  }

  async remove(key: string, signal: AbortSignal): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), {
      abortSignal: signal,
    });
  }

  isNotFound(err: unknown): boolean {
    return isNotFound(err);
  }

  isTransient(err: unknown): boolean {
    return isTransientS3Error(err);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** S3 client options: keep-alive sockets up to the concurrency, checksums only where required. */
function clientConfig(opts: S3DriverOptions): S3ClientConfig {
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
  if (opts.regionEndpoint) config.endpoint = endpointUrl(opts.regionEndpoint, opts.secure ?? true);
  if (opts.accessKey && opts.secretKey) {
    config.credentials = {
      accessKeyId: opts.accessKey,
      secretAccessKey: opts.secretKey,
      sessionToken: opts.sessionToken || undefined,
    };
  }
  return config;
}

/** The same five calls on S3Http (s3-http.ts): signed by hand, for static keys. */
class HttpS3Backend implements ObjectBackend {
  readonly operations = {
    list: 'ListObjectsV2',
    head: 'HeadObject',
    get: 'GetObject',
    put: 'PutObject',
    delete: 'DeleteObject',
  } as const;

  constructor(private readonly http: S3Http) {}

  async listPage(q: ListQuery & { readonly limit?: number }, signal: AbortSignal): Promise<ListPage> {
    const query: Array<[string, string]> = [
      ['list-type', '2'],
      ['prefix', q.prefix],
      ['max-keys', String(q.limit ?? 1000)],
    ];
    if (q.delimiter) query.push(['delimiter', '/']);
    if (q.token !== undefined) query.push(['continuation-token', q.token]);
    else if (q.startAfter !== undefined) query.push(['start-after', q.startAfter]);
    const res = await this.http.request('GET', undefined, query, signal);
    const out = parseListResult((await readAll(res)).toString('utf8'));
    return {
      objects: out.Contents.map((o) => ({
        key: o.Key,
        size: o.Size,
        modTime: o.LastModified,
        md5: md5FromETag(o.ETag),
      })),
      prefixes: out.CommonPrefixes,
      nextToken: out.IsTruncated ? out.NextContinuationToken : undefined,
    };
  }

  async head(key: string, signal: AbortSignal): Promise<HeadResult> {
    const res = await this.http.request('HEAD', key, [], signal);
    res.resume();
    const modified = res.headers['last-modified'];
    return {
      size: Number(res.headers['content-length'] ?? 0),
      ...(modified ? { modTime: new Date(modified) } : {}),
    };
  }

  async get(key: string, signal: AbortSignal, offset?: number): Promise<GetResult> {
    const res = await this.http.request('GET', key, [], signal, offset ? { range: `bytes=${offset}-` } : {});
    const length = res.headers['content-length'];
    return length === undefined ? { body: res } : { body: res, size: Number(length) };
  }

  async put(key: string, content: Buffer, signal: AbortSignal): Promise<void> {
    (await this.http.request('PUT', key, [], signal, { body: content })).resume();
  }

  async remove(key: string, signal: AbortSignal): Promise<void> {
    (await this.http.request('DELETE', key, [], signal)).resume();
  }

  isNotFound(err: unknown): boolean {
    return isNotFound(err);
  }

  isTransient(err: unknown): boolean {
    return isTransientS3Error(err);
  }

  async close(): Promise<void> {
    this.http.destroy();
  }
}

function backendFor(opts: S3DriverOptions): ObjectBackend {
  if (!opts.accessKey || !opts.secretKey) return new S3Backend(new S3Client(clientConfig(opts)), opts.bucket);
  const secure = opts.secure ?? true;
  return new HttpS3Backend(
    new S3Http({
      endpoint: opts.regionEndpoint
        ? endpointUrl(opts.regionEndpoint, secure)
        : `https://s3.${opts.region}.amazonaws.com`,
      region: opts.region,
      bucket: opts.bucket,
      pathStyle: opts.pathStyle ?? opts.regionEndpoint !== undefined,
      accessKey: opts.accessKey,
      secretKey: opts.secretKey,
      sessionToken: opts.sessionToken || undefined,
      maxSockets: opts.concurrency,
      skipVerify: opts.skipVerify,
    }),
  );
}

export class S3Driver extends ObjectStoreDriver {
  declare readonly name: 's3aws' | 's3_v2';

  constructor(opts: S3DriverOptions) {
    super({
      name: opts.name,
      keyPrefix: s3KeyPrefix(opts.rootDirectory),
      backend: backendFor(opts),
      concurrency: opts.concurrency,
      maxRequestsPerSecond: opts.maxRequestsPerSecond ?? 350,
      maxRetries: opts.maxRetries,
      retry: opts.retry,
      walkTuning: opts.walkTuning,
      logger: opts.logger,
    });
  }
}
