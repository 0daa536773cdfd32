/**
 * S3 on the AWS SDK: the backend used when the config gives no static keys, so that the SDK's
 * credential chain (environment, shared files, instance and task roles, SSO) applies. Loaded only
 * then (the SDK adds ~25 MB resident and ~2 ms of CPU per request, drivers/s3-http.ts).
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
import type { AttemptCancel } from './attempt.js';
import { md5FromETag } from './content-md5.js';
import type { ListPage, ListQuery } from './object-walk.js';
import type { GetResult, HeadResult, ObjectBackend } from './object-store.js';
import { endpointUrl, S3ErrorRules, type S3DriverOptions } from './s3.js';
import { streamBody } from './streams.js';

/** The S3 calls ObjectStoreDriver plugs in: one SDK command each, the SDK's own retries off. */
export class S3Backend extends S3ErrorRules implements ObjectBackend {
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
  ) {
    super();
  }

  async listPage(q: ListQuery & { readonly limit?: number }, cancel: AttemptCancel): Promise<ListPage> {
    const out = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: q.prefix,
        Delimiter: q.delimiter ? '/' : undefined,
        ContinuationToken: q.token,
        StartAfter: q.token === undefined ? q.startAfter : undefined,
        MaxKeys: q.limit ?? 1000,
      }),
      { abortSignal: cancel.signal },
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

  async head(key: string, cancel: AttemptCancel): Promise<HeadResult> {
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), {
      abortSignal: cancel.signal,
    });
    return { size: Number(head.ContentLength ?? 0), modTime: head.LastModified };
  }

  async get(key: string, cancel: AttemptCancel, offset?: number): Promise<GetResult> {
    const out = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: offset ? `bytes=${offset}-` : undefined }),
      { abortSignal: cancel.signal },
    );
    const body = streamBody((out.Body as Readable | undefined) ?? Readable.from([]));
    return out.ContentLength === undefined ? { body } : { body, size: Number(out.ContentLength) };
  }

  async put(key: string, content: Buffer, cancel: AttemptCancel): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: content }), {
      abortSignal: cancel.signal,
    });
  }

  async remove(key: string, cancel: AttemptCancel): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), {
      abortSignal: cancel.signal,
    });
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

/** The SDK backend for `opts`. */
export function sdkBackend(opts: S3DriverOptions): ObjectBackend {
  return new S3Backend(new S3Client(clientConfig(opts)), opts.bucket);
}
