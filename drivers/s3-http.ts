/**
 * The five S3 calls the driver needs (ListObjectsV2, HeadObject, GetObject, PutObject, DeleteObject)
 * written directly on node:http with Signature Version 4, used when the config gives static keys.
 * Why: a profile of an S3 import showed about 3 ms of CPU per request in the AWS SDK (its middleware
 * stack, XML building, GC), more than the import's own work; these calls cost a fraction of that.
 * Without static keys the SDK's credential chain (environment, instance roles...) is needed, so the
 * SDK backend stays in use there (s3.ts). Checked against Ceph radosgw by the driver tests.
 */
import { createHash, createHmac } from 'node:crypto';
import type { AttemptCancel } from './attempt.js';
import { KeepAliveClient } from './http-client.js';
import type { HttpResponse } from './http1.js';

export interface S3HttpOptions {
  /** http(s)://host[:port] */
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  /** Bucket in the path (true) or in the host name (false). */
  readonly pathStyle: boolean;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly sessionToken?: string;
  readonly maxSockets: number;
  readonly skipVerify?: boolean;
}

/** An S3 error response, shaped as the AWS SDK shapes them (name = Code, $metadata.httpStatusCode). */
export class S3ResponseError extends Error {
  readonly Code: string;
  readonly $metadata: { readonly httpStatusCode: number };
  constructor(status: number, code: string, message: string) {
    super(message || code);
    this.name = code;
    this.Code = code;
    this.$metadata = { httpStatusCode: status };
  }
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Strings SigV4 encoding leaves as they are (RFC 3986 unreserved characters, '/' in keys). */
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const UNRESERVED_OR_SLASH = /^[A-Za-z0-9\-._~/]*$/;

/** RFC 3986 encoding as SigV4 wants it; '/' kept in object keys. */
export function uriEncode(s: string, keepSlash: boolean): string {
  // Registry keys and query values nearly always need no escape: one test instead of three passes.
  if ((keepSlash ? UNRESERVED_OR_SLASH : UNRESERVED).test(s)) return s;
  const e = encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return keepSlash ? e.replace(/%2F/g, '/') : e;
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function xmlDecode(s: string): string {
  if (!s.includes('&')) return s;
  // Every listed ETag is a quoted hex string ("&quot;<md5>&quot;"): one concatenation, no regex.
  if (s.startsWith('&quot;') && s.endsWith('&quot;') && s.indexOf('&', 6) === s.length - 6)
    return `"${s.slice(6, -6)}"`;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e[0] === '#')
      return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? m;
  });
}

/** An element's open and close tags, made once rather than per lookup. */
interface Tag {
  readonly open: string;
  readonly close: string;
}
const tagOf = (name: string): Tag => ({ open: `<${name}>`, close: `</${name}>` });
const KEY = tagOf('Key');
const SIZE = tagOf('Size');
const LAST_MODIFIED = tagOf('LastModified');
const ETAG = tagOf('ETag');
const PREFIX = tagOf('Prefix');
const NEXT_TOKEN = tagOf('NextContinuationToken');
const IS_TRUNCATED = tagOf('IsTruncated');
const CODE = tagOf('Code');
const MESSAGE = tagOf('Message');

function tag(xml: string, t: Tag): string | undefined {
  const open = xml.indexOf(t.open);
  if (open < 0) return undefined;
  const start = open + t.open.length;
  const end = xml.indexOf(t.close, start);
  return end < 0 ? undefined : xmlDecode(xml.slice(start, end));
}

function* blocks(xml: string, name: string): Generator<string> {
  const open = `<${name}>`;
  const close = `</${name}>`;
  for (let i = xml.indexOf(open); i >= 0; i = xml.indexOf(open, i)) {
    const end = xml.indexOf(close, i);
    if (end < 0) return;
    yield xml.slice(i + open.length, end);
    i = end + close.length;
  }
}

export interface ListedObject {
  readonly Key: string;
  readonly Size: number;
  readonly LastModified?: Date;
  readonly ETag?: string;
}

export interface ListResult {
  readonly Contents: ListedObject[];
  readonly CommonPrefixes: string[];
  readonly IsTruncated: boolean;
  readonly NextContinuationToken?: string;
}

/** Parses a ListObjectsV2 response body. */
export function parseListResult(xml: string): ListResult {
  const contents: ListedObject[] = [];
  for (const b of blocks(xml, 'Contents')) {
    const modified = tag(b, LAST_MODIFIED);
    const etag = tag(b, ETAG);
    const entry: { -readonly [K in keyof ListedObject]: ListedObject[K] } = {
      Key: tag(b, KEY) ?? '',
      Size: Number(tag(b, SIZE) ?? 0),
    };
    if (modified) entry.LastModified = new Date(modified);
    if (etag !== undefined) entry.ETag = etag;
    contents.push(entry);
  }
  const prefixes: string[] = [];
  for (const b of blocks(xml, 'CommonPrefixes')) {
    const p = tag(b, PREFIX);
    if (p) prefixes.push(p);
  }
  const next = tag(xml, NEXT_TOKEN);
  return {
    Contents: contents,
    CommonPrefixes: prefixes,
    IsTruncated: tag(xml, IS_TRUNCATED) === 'true',
    ...(next ? { NextContinuationToken: next } : {}),
  };
}

export class S3Http {
  private readonly client: KeepAliveClient;
  private readonly host: string;
  private readonly hostname: string;
  private readonly basePath: string;
  private signingDay = '';
  private signingKey: Buffer = Buffer.alloc(0);
  private dateSecond = NaN;
  private dateText = '';

  constructor(private readonly opts: S3HttpOptions) {
    this.client = new KeepAliveClient(opts);
    const url = this.client.url;
    this.host = opts.pathStyle ? url.host : `${opts.bucket}.${url.host}`;
    this.hostname = opts.pathStyle ? url.hostname : `${opts.bucket}.${url.hostname}`;
    this.basePath = opts.pathStyle ? `/${uriEncode(opts.bucket, false)}` : '';
  }

  destroy(): void {
    this.client.destroy();
  }

  /** The request time as SigV4 writes it (YYYYMMDD'T'HHMMSS'Z'), formatted once a second. */
  private amzDate(): string {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateText = new Date(second * 1000).toISOString().replace(/[-:]|\.\d{3}/g, '');
    }
    return this.dateText;
  }

  private key(day: string): Buffer {
    if (day !== this.signingDay) {
      const h = (k: string | Buffer, d: string): Buffer => createHmac('sha256', k).update(d).digest();
      this.signingKey = h(h(h(h(`AWS4${this.opts.secretKey}`, day), this.opts.region), 's3'), 'aws4_request');
      this.signingDay = day;
    }
    return this.signingKey;
  }

  /** Sends one signed request; resolves with the response once its headers are in (body unread). */
  request(
    method: string,
    key: string | undefined,
    query: ReadonlyArray<readonly [string, string]>,
    cancel: AttemptCancel,
    extra: { body?: Buffer; range?: string } = {},
  ): Promise<HttpResponse> {
    const path =
      this.basePath + (key === undefined ? (this.basePath === '' ? '/' : '') : `/${uriEncode(key, true)}`);
    const canonicalQuery = query
      .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const amzDate = this.amzDate();
    const day = amzDate.slice(0, 8);
    const payloadHash = extra.body ? createHash('sha256').update(extra.body).digest('hex') : EMPTY_SHA256;
    const headers: Record<string, string> = {
      host: this.host,
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': amzDate,
    };
    if (this.opts.sessionToken) headers['x-amz-security-token'] = this.opts.sessionToken;
    if (extra.range) headers['range'] = extra.range;
    const names = Object.keys(headers).sort();
    const canonical = [
      method,
      path,
      canonicalQuery,
      names.map((n) => `${n}:${headers[n]!.trim()}\n`).join(''),
      names.join(';'),
      payloadHash,
    ].join('\n');
    const scope = `${day}/${this.opts.region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', this.key(day)).update(toSign).digest('hex');
    headers['authorization'] =
      `AWS4-HMAC-SHA256 Credential=${this.opts.accessKey}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
    if (extra.body) headers['content-length'] = String(extra.body.length);
    return this.client.request(
      {
        method,
        hostname: this.hostname,
        path: canonicalQuery ? `${path}?${canonicalQuery}` : path,
        headers,
        body: extra.body,
        cancel,
      },
      failure,
    );
  }
}

/** An S3 error body (XML with Code and Message) as the SDK would have thrown it. */
function failure(status: number, body: Buffer): Error {
  const xml = body.toString('utf8');
  const code = tag(xml, CODE) ?? (status === 404 ? 'NotFound' : `Http${status}`);
  return new S3ResponseError(status, code, tag(xml, MESSAGE) ?? `HTTP ${status}`);
}
