/**
 * A small HTTP proxy in front of a storage server (radosgw, the GCS test server) for benchmarks and
 * tests: it adds a fixed delay to every request (object storage latency on a local machine), counts
 * requests and the most in flight at once, and may rewrite listing responses (a store that lists in
 * another order). Requests are forwarded unchanged, Host header included, so SigV4 signatures made
 * for the proxy's address still verify at the server.
 */
import { request as httpRequest, Agent, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyOptions {
  /** http://host:port of the server behind the proxy. */
  readonly target: string;
  /** Milliseconds added before each request is forwarded. */
  readonly delayMs?: number;
  /**
   * Rewrites a response body (only called for requests it claims with `wants`): e.g. reorder a
   * listing. Returns the new body.
   */
  readonly rewrite?: {
    wants(method: string, url: URL): boolean;
    body(url: URL, body: Buffer): Buffer;
  };
}

export interface StorageProxy {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  /** Requests received so far. */
  requests(): number;
  /** Requests whose URL matched `test` (e.g. listings). */
  count(test: (method: string, url: URL) => boolean): number;
  /** Most requests in flight at once. */
  maxInFlight(): number;
  /** Milliseconds added to each request from now on. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/** Starts a proxy on an ephemeral 127.0.0.1 port. */
export async function startStorageProxy(opts: ProxyOptions): Promise<StorageProxy> {
  const target = new URL(opts.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  let delayMs = opts.delayMs ?? 0;
  let inFlight = 0;
  let peak = 0;
  const seen: Array<{ method: string; url: string }> = [];

  const forward = (req: IncomingMessage, res: import('node:http').ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const rewrite = opts.rewrite?.wants(req.method ?? 'GET', url) ? opts.rewrite : undefined;
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (up) => {
        const done = (): void => {
          inFlight--;
        };
        if (rewrite === undefined || (up.statusCode ?? 500) >= 300) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          up.once('end', done);
          up.once('error', done);
          return;
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.once('end', () => {
          done();
          const body = rewrite.body(url, Buffer.concat(chunks));
          const headers: Record<string, string | string[] | undefined> = {
            ...up.headers,
            'content-length': String(body.length),
          };
          delete headers['transfer-encoding'];
          res.writeHead(up.statusCode ?? 200, headers);
          res.end(body);
        });
      },
    );
    upstream.once('error', () => {
      inFlight--;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };

  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? 'GET', url: req.url ?? '/' });
    inFlight++;
    if (inFlight > peak) peak = inFlight;
    if (delayMs > 0) setTimeout(() => forward(req, res), delayMs);
    else forward(req, res);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests: () => seen.length,
    count: (test) => seen.filter((r) => test(r.method, new URL(r.url, 'http://proxy'))).length,
    maxInFlight: () => peak,
    setDelay: (ms) => void (delayMs = ms),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        agent.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
