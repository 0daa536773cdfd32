/**
 * S3 driver (`s3`, `s3aws`, `s3_v2`): the object-store driver over one of two backends, hand-signed
 * calls on node:http (s3-http.ts) when the config gives static keys, the AWS SDK (s3-sdk.ts) when
 * not. Keys: rootdirectory with trailing '/' trimmed, then the driver path, leading '/' trimmed
 * (spec §1.1). Neither backend retries: the shared RequestRunner does, so each counted attempt is
 * one HTTP request.
 */
import type { Logger } from 'pino';
import type { AttemptCancel } from './attempt.js';
import { md5FromETag } from './content-md5.js';
import type { ListPage, ListQuery, ObjectWalkTuning } from './object-walk.js';
import { download, hasScheme } from './http-client.js';
import { parseListResult, S3Http } from './s3-http.js';
import { ObjectStoreDriver, type GetResult, type HeadResult, type ObjectBackend } from './object-store.js';
import { isNetworkError, type RetryPolicy } from './requests.js';
import type { S3Parameters } from './s3-params.js';

/** The parsed parameters (s3-params.ts, where each is described) and what the factory adds. */
export interface S3DriverOptions extends S3Parameters {
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

export function isNotFound(err: unknown): boolean {
  const e = err as S3Failure;
  return (
    e?.name === 'NoSuchKey' || e?.name === 'NotFound' || (statusOf(err) === 404 && e?.name !== 'NoSuchBucket')
  );
}

/** `host[:port]` or a full URL; a bare host gets https unless `secure` is false. */
export function endpointUrl(regionEndpoint: string, secure: boolean): string {
  return hasScheme(regionEndpoint) ? regionEndpoint : `${secure ? 'https' : 'http'}://${regionEndpoint}`;
}

export function s3KeyPrefix(rootDirectory: string | undefined): string {
  const root = (rootDirectory ?? '').replace(/\/+$/, '');
  return `${root}/`.replace(/^\/+/, '');
}

/** The same five calls on S3Http (s3-http.ts): signed by hand, for static keys. */
/** S3's error rules, the same whichever client sends the request (node:http here, the SDK in s3-sdk.ts). */
export abstract class S3ErrorRules {
  isNotFound(err: unknown): boolean {
    return isNotFound(err);
  }

  isTransient(err: unknown): boolean {
    return isTransientS3Error(err);
  }
}

class HttpS3Backend extends S3ErrorRules implements ObjectBackend {
  readonly operations = {
    list: 'ListObjectsV2',
    head: 'HeadObject',
    get: 'GetObject',
    put: 'PutObject',
    delete: 'DeleteObject',
  } as const;

  constructor(private readonly http: S3Http) {
    super();
  }

  async listPage(q: ListQuery & { readonly limit?: number }, cancel: AttemptCancel): Promise<ListPage> {
    const query: Array<[string, string]> = [
      ['list-type', '2'],
      ['prefix', q.prefix],
      ['max-keys', String(q.limit ?? 1000)],
    ];
    if (q.delimiter) query.push(['delimiter', '/']);
    if (q.token !== undefined) query.push(['continuation-token', q.token]);
    else if (q.startAfter !== undefined) query.push(['start-after', q.startAfter]);
    const res = await this.http.request('GET', undefined, query, cancel);
    const out = parseListResult((await res.read()).toString('utf8'));
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

  async head(key: string, cancel: AttemptCancel): Promise<HeadResult> {
    const res = await this.http.request('HEAD', key, [], cancel);
    res.discard();
    const modified = res.headers['last-modified'];
    return {
      size: Number(res.headers['content-length'] ?? 0),
      ...(modified ? { modTime: new Date(modified) } : {}),
    };
  }

  async get(key: string, cancel: AttemptCancel, offset?: number): Promise<GetResult> {
    const res = await this.http.request('GET', key, [], cancel, offset ? { range: `bytes=${offset}-` } : {});
    return download(res);
  }

  async put(key: string, content: Buffer, cancel: AttemptCancel): Promise<void> {
    (await this.http.request('PUT', key, [], cancel, { body: content })).discard();
  }

  async remove(key: string, cancel: AttemptCancel): Promise<void> {
    (await this.http.request('DELETE', key, [], cancel)).discard();
  }

  async close(): Promise<void> {
    this.http.destroy();
  }
}

/** Whether the options carry static keys, so the hand-signed calls can be used (no SDK needed). */
export function hasStaticKeys(opts: S3DriverOptions): boolean {
  return Boolean(opts.accessKey && opts.secretKey);
}

function httpBackend(opts: S3DriverOptions): ObjectBackend {
  if (!opts.accessKey || !opts.secretKey) {
    throw new Error(
      'S3 without static keys needs the SDK backend (drivers/s3-sdk.ts); build it with createDriver',
    );
  }
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

  /** `backend`: the SDK's (s3-sdk.ts) when there are no static keys; by default the hand-signed one. */
  constructor(opts: S3DriverOptions, backend?: ObjectBackend) {
    super({
      name: opts.name,
      keyPrefix: s3KeyPrefix(opts.rootDirectory),
      backend: backend ?? httpBackend(opts),
      concurrency: opts.concurrency,
      maxRequestsPerSecond: opts.maxRequestsPerSecond ?? 350,
      maxRetries: opts.maxRetries,
      retry: opts.retry,
      walkTuning: opts.walkTuning,
      logger: opts.logger,
    });
  }
}
