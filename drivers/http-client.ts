/**
 * The HTTP layer under the hand-written object-store calls (s3-http.ts, gcs-http.ts): one keep-alive
 * agent per endpoint with a socket for every request the driver may have in flight, one request at a
 * time sent on it, and whole bodies read into one Buffer. Each store says how its error bodies read.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AttemptCancel } from './attempt.js';
import { readAll } from './streams.js';

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
export function download(res: IncomingMessage): { body: IncomingMessage; size?: number } {
  const length = res.headers['content-length'];
  return length === undefined ? { body: res } : { body: res, size: Number(length) };
}

/** Turns a response other than 2xx, with its body, into the store's error. */
export type FailureReader = (status: number, body: Buffer) => Error;

export class KeepAliveClient {
  readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(opts: KeepAliveOptions) {
    this.url = new URL(opts.endpoint);
    const secure = this.url.protocol === 'https:';
    this.agent = secure
      ? new HttpsAgent({ keepAlive: true, maxSockets: opts.maxSockets, rejectUnauthorized: !opts.skipVerify })
      : new HttpAgent({ keepAlive: true, maxSockets: opts.maxSockets });
    this.send = (secure ? httpsRequest : httpRequest) as typeof httpRequest;
  }

  destroy(): void {
    this.agent.destroy();
  }

  /** Sends one request; resolves with a 2xx response once its headers are in (body unread). */
  request(r: OutgoingRequest, failure: FailureReader): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.send(
        {
          protocol: this.url.protocol,
          hostname: r.hostname ?? this.url.hostname,
          port: this.url.port,
          method: r.method,
          path: r.path,
          headers: r.headers,
          agent: this.agent,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(res);
          readAll(res).then((body) => reject(failure(status, body)), reject);
        },
      );
      req.once('error', reject);
      r.cancel.onCancel((reason) => req.destroy(reason));
      req.end(r.body);
    });
  }
}
