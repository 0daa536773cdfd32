/**
 * A small HTTP proxy in front of a storage server (radosgw, the GCS test server) for benchmarks and
 * tests: it adds a fixed delay to every request (object storage latency on a local machine), counts
 * requests and the most in flight at once, and may rewrite listing responses (a store that lists in
 * another order). Requests are forwarded unchanged, Host header included, so SigV4 signatures made
 * for the proxy's address still verify at the server.
 *
 * Without a rewrite the proxy relays bytes between sockets, one server connection per client
 * connection, and finds the requests in them with a framer (no HTTP parsing of responses, no
 * streams): a benchmark then measures the importer and the store, not the proxy. That mode counts a
 * request in flight until its response starts (clients send the next request on a connection only
 * after the previous response); the rewriting mode until the response ends.
 */
import {
  request as httpRequest,
  Agent,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  connect,
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import { RequestFramer } from './request-framer.js';

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

/** Requests seen, in flight and at most in flight, shared by both modes. */
class Counters {
  readonly seen: Array<{ method: string; url: string }> = [];
  inFlight = 0;
  peak = 0;

  started(method: string, url: string): void {
    this.seen.push({ method, url });
    this.inFlight++;
    if (this.inFlight > this.peak) this.peak = this.inFlight;
  }
}

/** Starts a proxy on an ephemeral 127.0.0.1 port. */
export async function startStorageProxy(opts: ProxyOptions): Promise<StorageProxy> {
  const counters = new Counters();
  const delay = { ms: opts.delayMs ?? 0 };
  const { server, stop } = opts.rewrite
    ? httpProxy(opts, counters, delay)
    : relayProxy(opts, counters, delay);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests: () => counters.seen.length,
    count: (test) => counters.seen.filter((r) => test(r.method, new URL(r.url, 'http://proxy'))).length,
    maxInFlight: () => counters.peak,
    setDelay: (ms) => void (delay.ms = ms),
    close: () =>
      new Promise<void>((resolve, reject) => {
        stop();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

interface ProxyServer {
  readonly server: TcpServer;
  /** Ends every connection, so that close() returns. */
  readonly stop: () => void;
}

/** Relays bytes; each chunk from a client is held `delay.ms` (in order) before it goes on. */
function relayProxy(opts: ProxyOptions, counters: Counters, delay: { ms: number }): ProxyServer {
  const target = new URL(opts.target);
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    const framer = new RequestFramer();
    // Requests of this connection sent on and not yet answered.
    let waiting = 0;
    const settle = (): void => {
      counters.inFlight -= waiting;
      waiting = 0;
    };
    // Chunks held back until due, in arrival order even when the delay changes; null ends the stream.
    const held: Array<{ chunk: Buffer | null; due: number }> = [];
    let timer: NodeJS.Timeout | undefined;
    const pass = (chunk: Buffer | null): void =>
      void (chunk === null ? upstream.end() : upstream.write(chunk));
    const release = (): void => {
      timer = undefined;
      const now = Date.now();
      while (held.length > 0 && held[0]!.due <= now) pass(held.shift()!.chunk);
      if (held.length > 0) timer = setTimeout(release, held[0]!.due - now);
    };
    const send = (chunk: Buffer | null): void => {
      if (delay.ms <= 0 && held.length === 0) return pass(chunk);
      const due = Math.max(Date.now() + delay.ms, held.at(-1)?.due ?? 0);
      held.push({ chunk, due });
      if (timer === undefined) timer = setTimeout(release, due - Date.now());
    };
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.once('close', () => {
        sockets.delete(s);
        settle();
        clearTimeout(timer);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      let heads;
      try {
        heads = framer.push(chunk);
      } catch {
        client.destroy();
        return;
      }
      for (const h of heads) {
        counters.started(h.method, h.target);
        waiting++;
      }
      send(chunk);
    });
    client.on('end', () => send(null));
    upstream.on('data', (chunk: Buffer) => {
      settle();
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
  });
  return { server, stop: () => sockets.forEach((s) => s.destroy()) };
}

/** Parses requests and responses with node:http, so that a response body can be rewritten. */
function httpProxy(opts: ProxyOptions, counters: Counters, delay: { ms: number }): ProxyServer {
  const target = new URL(opts.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
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
          counters.inFlight--;
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
      counters.inFlight--;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };

  const server: Server = createServer((req, res) => {
    counters.started(req.method ?? 'GET', req.url ?? '/');
    if (delay.ms > 0) setTimeout(() => forward(req, res), delay.ms);
    else forward(req, res);
  });
  server.keepAliveTimeout = 30_000;
  return {
    server,
    stop: () => {
      server.closeAllConnections();
      agent.destroy();
    },
  };
}
