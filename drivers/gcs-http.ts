/**
 * The GCS JSON API calls the driver needs (objects.list, objects.get for metadata and `alt=media`,
 * a simple media upload, objects.delete), written directly on node:http(s) with a keep-alive agent.
 * Why: through @google-cloud/storage an import cost about 1.9 ms of CPU per request, 1.2 ms of it in
 * the SDK alone (its request pipeline, streams per download, retry and auth layers; measured with a
 * client that only reads from the GCS test server); these calls take about 0.2 ms.
 * Reference: https://cloud.google.com/storage/docs/json_api/v1/objects and
 * https://cloud.google.com/storage/docs/uploading-objects (uploadType=media).
 */
import { md5FromBase64 } from './content-md5.js';
import type { AttemptCancel } from './attempt.js';
import { hasScheme, KeepAliveClient } from './http-client.js';
import type { HttpResponse } from './http1.js';
import type { ListPage, ListQuery, ObjectEntry } from './object-walk.js';
import { isNetworkError } from './requests.js';

/** An error response of the JSON API, shaped as the SDK's ApiError: `code` is the HTTP status. */
export class GcsResponseError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** Google's `errors[0].reason` (notFound, rateLimitExceeded, forbidden...), when the body had one. */
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'GcsResponseError';
  }
}

/** No access token could be had (gcs-auth.ts); `transient` when the token service may answer later. */
export class GcsAuthError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'GcsAuthError';
  }
}

/** The HTTP status of a failure: GcsResponseError carries it as `code`, gaxios's errors in `response`. */
function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; response?: { status?: unknown } } | undefined;
  if (typeof e?.code === 'number') return e.code;
  return typeof e?.response?.status === 'number' ? e.response.status : undefined;
}

/** 429, 408, 5xx and broken connections are worth another attempt. */
export function isTransientGcsError(err: unknown): boolean {
  if (err instanceof GcsAuthError) return err.transient;
  const status = statusOf(err);
  if (status !== undefined && (status === 429 || status === 408 || status >= 500)) return true;
  return isNetworkError(err);
}

export function isGcsNotFound(err: unknown): boolean {
  return statusOf(err) === 404;
}

/** Google's error body `{ "error": { "code", "message", "errors": [{ "reason" }] } }`, or plain text. */
export function parseGcsError(status: number, body: string): GcsResponseError {
  let message = '';
  let reason: string | undefined;
  try {
    const e = (JSON.parse(body) as { error?: { message?: unknown; errors?: Array<{ reason?: unknown }> } })
      .error;
    if (typeof e?.message === 'string') message = e.message;
    if (typeof e?.errors?.[0]?.reason === 'string') reason = e.errors[0].reason;
  } catch {
    // Not JSON (media downloads answer errors in text): the text is the message.
    message = body.trim().slice(0, 300);
  }
  return new GcsResponseError(status, message || `HTTP ${status}`, reason);
}

/**
 * The API's base URL for the `endpoint` parameter, as the SDK forms it from apiEndpoint: https
 * unless a scheme is given, no trailing '/'. Without one, Google's endpoint.
 */
export function gcsBaseUrl(endpoint: string | undefined): string {
  if (endpoint === undefined || endpoint === '') return 'https://storage.googleapis.com';
  const withScheme = hasScheme(endpoint) ? endpoint : `https://${endpoint}`;
  return withScheme.replace(/\/+$/, '');
}

/** Path of one object's resource: bucket and name each one percent-encoded segment ('/' included). */
export function objectPath(bucket: string, key: string): string {
  return `/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(key)}`;
}

/** The listing fields walks use; everything else of the object resource is left out of the reply. */
export const LIST_FIELDS = 'items(name,size,updated,md5Hash),prefixes,nextPageToken';

/** objects.list path and query for one page. */
export function listPath(bucket: string, q: ListQuery & { readonly limit?: number }): string {
  let s = `/storage/v1/b/${encodeURIComponent(bucket)}/o?prefix=${encodeURIComponent(q.prefix)}`;
  if (q.delimiter) s += '&delimiter=%2F';
  if (q.token !== undefined) s += `&pageToken=${encodeURIComponent(q.token)}`;
  // startOffset is inclusive; walkObjects drops the key equal to startAfter.
  else if (q.startAfter !== undefined) s += `&startOffset=${encodeURIComponent(q.startAfter)}`;
  if (q.end !== undefined) s += `&endOffset=${encodeURIComponent(q.end)}`;
  return `${s}&maxResults=${q.limit ?? 1000}&fields=${encodeURIComponent(LIST_FIELDS)}`;
}

interface RawObject {
  name?: unknown;
  size?: unknown;
  updated?: unknown;
  md5Hash?: unknown;
}

/** One objects.list reply (sizes are int64 strings in the JSON API). */
export function parseListPage(body: string): ListPage {
  const page = JSON.parse(body) as { items?: RawObject[]; prefixes?: string[]; nextPageToken?: string };
  const items = page.items ?? [];
  const objects = new Array<ObjectEntry>(items.length);
  for (let i = 0; i < items.length; i++) {
    const o = items[i]!;
    objects[i] = {
      key: typeof o.name === 'string' ? o.name : '',
      size: Number(o.size ?? 0),
      modTime: typeof o.updated === 'string' ? new Date(o.updated) : undefined,
      md5: md5FromBase64(typeof o.md5Hash === 'string' ? o.md5Hash : undefined),
    };
  }
  return {
    objects,
    prefixes: page.prefixes ?? [],
    nextToken: page.nextPageToken || undefined,
  };
}

export interface GcsHttpOptions {
  /** gcsBaseUrl(endpoint) */
  readonly baseUrl: string;
  /** Sockets kept (http-client.ts): the driver's request concurrency. */
  readonly maxSockets: number;
  /**
   * Headers that authorize the next request (an OAuth2 bearer token, gcs-auth.ts), or undefined:
   * no auth (a custom endpoint without credentials).
   */
  readonly auth?: () => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>;
}

export interface GcsRequestExtra {
  readonly body?: Buffer;
  readonly range?: string;
}

export class GcsHttp {
  private readonly client: KeepAliveClient;
  /** Prefix of every request path (a base URL may carry one, e.g. a proxy's). */
  private readonly basePath: string;

  constructor(private readonly opts: GcsHttpOptions) {
    this.client = new KeepAliveClient({ endpoint: opts.baseUrl, maxSockets: opts.maxSockets });
    this.basePath = this.client.url.pathname.replace(/\/+$/, '');
  }

  destroy(): void {
    this.client.destroy();
  }

  /** Sends one request; resolves with a 2xx response once its headers are in (body unread). */
  async request(
    method: string,
    path: string,
    cancel: AttemptCancel,
    extra: GcsRequestExtra = {},
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = this.opts.auth ? { ...(await this.opts.auth()) } : {};
    if (extra.range) headers['range'] = extra.range;
    if (extra.body) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = String(extra.body.length);
    }
    return this.client.request(
      { method, path: this.basePath + path, headers, body: extra.body, cancel },
      failure,
    );
  }

  /** A request whose whole reply body is wanted (list pages, metadata). */
  async fetch(method: string, path: string, cancel: AttemptCancel, extra?: GcsRequestExtra): Promise<Buffer> {
    return (await this.request(method, path, cancel, extra)).read();
  }
}

const failure = (status: number, body: Buffer): Error => parseGcsError(status, body.toString('utf8'));
