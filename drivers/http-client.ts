/**
 * The HTTP layer under the hand-written object-store calls (s3-http.ts, gcs-http.ts): keep-alive
 * connections per endpoint (http1.ts), a socket for every request the driver may have in flight,
 * one request at a time on each. A response other than 2xx becomes the store's error, read from
 * its body by the store's own FailureReader.
 */
import type { AttemptCancel } from './attempt.js';
import { Http1Client, type HttpResponse } from './http1.js';
import type { GetResult } from './object-store.js';

export interface KeepAliveOptions {
  /** http(s)://host[:port][/base] */
  readonly endpoint: string;
  /** Sockets kept per host: the driver's request concurrency, so the adaptive limit never waits on one. */
  readonly maxSockets: number;
  /** Accept any TLS certificate (S3 `skipverify`). */
  readonly skipVerify?: boolean;
}

export interface OutgoingRequest {
  readonly method: string;
  /** Path and query, already encoded. */
  readonly path: string;
  readonly headers: Record<string, string>;
  /** Another host name than the endpoint's (S3 virtual-hosted buckets). */
  readonly hostname?: string;
  readonly body?: Buffer;
  /** Destroys the request (and its response) when the attempt is abandoned. */
  readonly cancel: AttemptCancel;
}

/** Does an endpoint name its scheme (`http://`, `https://`...)? Without one, each store picks its own. */
export function hasScheme(endpoint: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint);
}

/** A 2xx response as a download: its body, and its size when the server said it (Content-Length). */
export function download(res: HttpResponse): GetResult {
  const length = res.headers['content-length'];
  return length === undefined ? { body: res } : { body: res, size: Number(length) };
}

/** Turns a response other than 2xx, with its body, into the store's error. */
export type FailureReader = (status: number, body: Buffer) => Error;

/** Error bodies are short XML or JSON; past this much only the status is kept. */
const ERROR_BODY_BYTES = 1 << 20;

class ErrorBodyTooLarge extends Error {}

export class KeepAliveClient {
  readonly url: URL;
  private readonly http: Http1Client;

  constructor(opts: KeepAliveOptions) {
    this.url = new URL(opts.endpoint);
    this.http = new Http1Client({ url: this.url, maxSockets: opts.maxSockets, skipVerify: opts.skipVerify });
  }

  destroy(): void {
    this.http.destroy();
  }

  /** Sends one request; resolves with a 2xx response once its head is in (body unread). */
  async request(r: OutgoingRequest, failure: FailureReader): Promise<HttpResponse> {
    const res = await this.http.request(r);
    if (res.status >= 200 && res.status < 300) return res;
    let body: Buffer;
    try {
      body = await res.read(ERROR_BODY_BYTES, () => new ErrorBodyTooLarge());
    } catch (err) {
      if (!(err instanceof ErrorBodyTooLarge)) throw err;
      body = Buffer.alloc(0);
    }
    throw failure(res.status, body);
  }
}
