/**
 * A small HTTP/1.1 client for the object-store backends (s3-http.ts, gcs-http.ts, through
 * http-client.ts): keep-alive connections per host, one request at a time on each, responses parsed
 * here. node:http spends ~180 µs of CPU on a request on the project's 2-core machine where this
 * spends ~60 (node:http makes a ClientRequest, an IncomingMessage and their streams per request,
 * and its agent's bookkeeping): at thousands of requests a second, a fifth of an import's main
 * thread (figures in README, "Benchmarks").
 *
 * What it speaks: a request line, headers and an optional Content-Length body; responses framed by
 * Content-Length, by chunked transfer coding or by the end of the connection; 1xx interim responses
 * skipped; no body after HEAD, 204 and 304; `Connection: close` and HTTP/1.0 honoured. No pipelining,
 * redirects, compression or proxies: the stores' APIs as called here need none, and node:http's
 * agent, used before, did none of them either.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { AttemptCancel } from './attempt.js';
import { collectCapped, type BodySink, type ResponseBody } from './streams.js';

/** A response head larger than this is refused (S3 and GCS send a few hundred bytes). */
const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line or trailer line longer than this is refused. */
const MAX_LINE_BYTES = 8 * 1024;
/** Body bytes held for a response nobody reads yet, before the connection is paused. */
const UNCLAIMED_BYTES = 1 << 20;

/** An HTTP protocol violation by the server (not worth a retry on the same terms). */
export class HttpProtocolError extends Error {
  readonly code = 'ERR_HTTP_PROTOCOL';
  constructor(message: string) {
    super(message);
    this.name = 'HttpProtocolError';
  }
}

/** The connection ended before the whole response came: the same words and code as node:http. */
function hangUp(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

export interface Http1Request {
  readonly method: string;
  /** Path and query, already encoded. */
  readonly path: string;
  /** Lower-case names. `host` is added unless given; `content-length` too when a body is sent. */
  readonly headers: Readonly<Record<string, string>>;
  /** Another host name than the endpoint's (S3 virtual-hosted buckets); same port and scheme. */
  readonly hostname?: string;
  readonly body?: Buffer;
  /** Destroys the connection (and fails the response) when the attempt is abandoned. */
  readonly cancel?: AttemptCancel;
}

/** How the body after a head is delimited. */
type Framing = 'none' | 'length' | 'chunked' | 'close';

export class HttpResponse implements ResponseBody {
  private sink: BodySink | undefined;
  /** Body bytes that came before anyone asked for them. */
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private ended = false;
  private error: Error | undefined;

  constructor(
    readonly status: number,
    /** Lower-case names; repeated fields joined with ", ". */
    readonly headers: Readonly<Record<string, string>>,
    private readonly conn: Connection,
  ) {}

  read(
    maxBytes = Infinity,
    tooLarge: () => Error = () => new Error('response body too large'),
  ): Promise<Buffer> {
    const { sink, done } = collectCapped(maxBytes, tooLarge, () =>
      this.conn.abandon(this, new Error('response body over its cap')),
    );
    this.attach(sink);
    return done;
  }

  stream(): Readable {
    const conn = this.conn;
    let finished = false;
    const readable = new Readable({
      read: () => conn.resumeFor(this),
      destroy: (err, cb) => {
        // Destroyed by its reader before the end: the rest of the body is not wanted.
        if (!finished) conn.abandon(this, err ?? new Error('response body stream destroyed'));
        cb(err);
      },
    });
    this.attach({
      data: (chunk) => {
        if (!readable.push(chunk)) conn.pauseFor(this);
      },
      end: () => {
        finished = true;
        readable.push(null);
      },
      fail: (err) => {
        finished = true;
        readable.destroy(err);
      },
    });
    return readable;
  }

  discard(): void {
    this.attach({ data: () => undefined, end: () => undefined, fail: () => undefined });
  }

  destroy(): void {
    this.conn.abandon(this, new Error('response destroyed by its reader'));
  }

  /** From the connection: a piece of the body. */
  push(chunk: Buffer): void {
    if (this.sink !== undefined) return this.sink.data(chunk);
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > UNCLAIMED_BYTES) this.conn.pauseFor(this);
  }

  /** From the connection: the body is complete. */
  end(): void {
    this.ended = true;
    this.sink?.end();
  }

  /** From the connection: the body cannot be completed. */
  fail(err: Error): void {
    if (this.ended || this.error !== undefined) return;
    this.error = err;
    this.sink?.fail(err);
  }

  private attach(sink: BodySink): void {
    if (this.sink !== undefined) throw new Error('a response body is read only once');
    this.sink = sink;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const chunk of early) sink.data(chunk);
    if (this.error !== undefined) sink.fail(this.error);
    else if (this.ended) sink.end();
    this.conn.resumeFor(this);
  }
}

/** One request on a connection: until its head arrives, a pending promise; then its response. */
interface Exchange {
  resolve(res: HttpResponse): void;
  reject(err: Error): void;
  response: HttpResponse | undefined;
}

/** Parses "HTTP/1.1 200 OK\r\nname: value\r\n…" (without the blank line). */
export function parseHead(text: string): {
  version: string;
  status: number;
  headers: Record<string, string>;
} {
  const lines = text.split('\r\n');
  const m = /^HTTP\/(1\.[01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m)
    throw new HttpProtocolError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]?.slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || line.charCodeAt(0) === 32 || line.charCodeAt(0) === 9)
      throw new HttpProtocolError(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const had = headers[name];
    headers[name] = had === undefined ? value : `${had}, ${value}`;
  }
  return { version: m[1]!, status: Number(m[2]), headers };
}

/** How a response's body is delimited, and whether the connection may carry another request. */
export function framingOf(
  method: string,
  version: string,
  status: number,
  headers: Readonly<Record<string, string>>,
): { framing: Framing; length: number; keepAlive: boolean } {
  const connection = headers['connection'] ?? '';
  let keepAlive =
    version === '1.1' ? !/(^|,)\s*close\s*(,|$)/i.test(connection) : /keep-alive/i.test(connection);
  if (method === 'HEAD' || status === 204 || status === 304) return { framing: 'none', length: 0, keepAlive };
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    if (/(^|,)\s*chunked\s*$/i.test(te)) return { framing: 'chunked', length: 0, keepAlive };
    return { framing: 'close', length: 0, keepAlive: false };
  }
  const cl = headers['content-length'];
  if (cl !== undefined) {
    // Repeated identical values (joined above) are allowed; differing ones are not.
    const values = new Set(cl.split(',').map((v) => v.trim()));
    const only = [...values][0]!;
    if (values.size !== 1 || !/^\d{1,15}$/.test(only))
      throw new HttpProtocolError(`invalid Content-Length: ${JSON.stringify(cl.slice(0, 80))}`);
    const length = Number(only);
    return { framing: length === 0 ? 'none' : 'length', length, keepAlive };
  }
  keepAlive = false;
  return { framing: 'close', length: 0, keepAlive };
}

/** Parse states after the head. */
const enum State {
  Idle,
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  Close,
}

class Connection {
  private state = State.Idle;
  private exchange: Exchange | undefined;
  /** Bytes received and not yet parsed (a partial head or line). */
  private pending: Buffer | undefined;
  private left = 0;
  private keepAlive = false;
  private method = 'GET';
  private closed = false;

  constructor(
    readonly socket: Socket,
    private readonly pool: HostPool,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: Error) => this.onClosed(err));
    socket.on('close', () => this.onClosed(hangUp()));
  }

  send(request: Http1Request, head: string, exchange: Exchange): void {
    this.exchange = exchange;
    this.state = State.Head;
    this.method = request.method;
    this.socket.ref();
    if (request.body !== undefined && request.body.length > 0) {
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(request.body);
      this.socket.uncork();
    } else {
      this.socket.write(head, 'latin1');
    }
  }

  /** Stops reading while `res` (still this connection's) has no room for more of its body. */
  pauseFor(res: HttpResponse): void {
    if (this.exchange?.response === res) this.socket.pause();
  }

  resumeFor(res: HttpResponse): void {
    if (this.exchange?.response === res) this.socket.resume();
  }

  /** `res`'s reader gave up on it: drop the connection, if it is still carrying that body. */
  abandon(res: HttpResponse, err: Error): void {
    if (this.exchange?.response === res) this.destroy(err);
  }

  /** An attempt was abandoned: drop the connection, if it is still carrying that exchange. */
  cancel(exchange: Exchange, err: Error): void {
    if (this.exchange === exchange) this.destroy(err);
  }

  /** Drops the connection; what is in flight on it fails with `err`. */
  destroy(err: Error): void {
    this.fail(err);
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.pool.remove(this);
  }

  private onData(chunk: Buffer): void {
    if (this.exchange === undefined) {
      // Nothing was asked: a server speaking out of turn cannot be trusted with the next request.
      this.destroy(new HttpProtocolError('data from the server with no request in flight'));
      return;
    }
    try {
      this.parse(chunk);
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  private parse(input: Buffer): void {
    let buf = this.pending === undefined ? input : Buffer.concat([this.pending, input]);
    this.pending = undefined;
    while (buf.length > 0 && this.exchange !== undefined) {
      switch (this.state) {
        case State.Head: {
          const head = this.upTo(buf, '\r\n\r\n', MAX_HEAD_BYTES, 'response head');
          if (head === undefined) return;
          buf = head.rest;
          if (this.onHead(head.text) === 'none') this.complete(buf);
          break;
        }
        case State.Length: {
          buf = this.body(buf);
          if (this.left === 0) this.complete(buf);
          break;
        }
        case State.ChunkSize:
        case State.Trailers: {
          const next = this.upTo(buf, '\r\n', MAX_LINE_BYTES, 'chunk line');
          if (next === undefined) return;
          const line = next.text;
          buf = next.rest;
          if (this.state === State.Trailers) {
            if (line === '') this.complete(buf);
            break;
          }
          const hex = line.split(';', 1)[0]!.trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex))
            throw new HttpProtocolError(`invalid chunk size: ${JSON.stringify(line.slice(0, 40))}`);
          this.left = parseInt(hex, 16);
          this.state = this.left === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData: {
          buf = this.body(buf);
          if (this.left === 0) this.state = State.ChunkEnd;
          break;
        }
        case State.ChunkEnd: {
          if (buf.length < 2) {
            this.pending = buf;
            return;
          }
          if (buf[0] !== 13 || buf[1] !== 10) throw new HttpProtocolError('chunk not followed by CRLF');
          buf = buf.subarray(2);
          this.state = State.ChunkSize;
          break;
        }
        case State.Close:
          this.exchange.response!.push(buf);
          buf = buf.subarray(buf.length);
          break;
        case State.Idle:
          throw new HttpProtocolError('data from the server after its response');
      }
    }
    if (buf.length > 0) throw new HttpProtocolError('data from the server after its response');
  }

  /**
   * The text before `delimiter` and the bytes after it; undefined when the delimiter has not come
   * yet (the bytes are kept for the next chunk), refused past `max` bytes.
   */
  private upTo(
    buf: Buffer,
    delimiter: string,
    max: number,
    what: string,
  ): { text: string; rest: Buffer } | undefined {
    const at = buf.indexOf(delimiter, 0, 'latin1');
    if (at < 0) {
      if (buf.length > max) throw new HttpProtocolError(`${what} too long`);
      this.pending = buf;
      return undefined;
    }
    return { text: buf.toString('latin1', 0, at), rest: buf.subarray(at + delimiter.length) };
  }

  /** Hands the response up to `left` body bytes of `buf`; returns the bytes after them. */
  private body(buf: Buffer): Buffer {
    const n = Math.min(this.left, buf.length);
    this.exchange!.response!.push(n === buf.length ? buf : buf.subarray(0, n));
    this.left -= n;
    return buf.subarray(n);
  }

  /** A head is in: an interim one is skipped, a final one resolves the request. Returns its framing. */
  private onHead(text: string): Framing | 'interim' {
    const ex = this.exchange!;
    const { version, status, headers } = parseHead(text);
    if (status >= 100 && status < 200) {
      if (status === 101) throw new HttpProtocolError('the server switched protocols (101), not asked for');
      return 'interim'; // 100 Continue, 103 Early Hints: the real response follows
    }
    const { framing, length, keepAlive } = framingOf(this.method, version, status, headers);
    this.keepAlive = keepAlive;
    const res = new HttpResponse(status, headers, this);
    ex.response = res;
    ex.resolve(res);
    if (framing === 'length') {
      this.state = State.Length;
      this.left = length;
    } else if (framing === 'chunked') {
      this.state = State.ChunkSize;
    } else if (framing === 'close') {
      this.state = State.Close;
    }
    return framing;
  }

  /** The body is complete; `rest` is what came after it (nothing, from a server that waits its turn). */
  private complete(rest: Buffer): void {
    if (rest.length > 0) throw new HttpProtocolError('data from the server after its response');
    this.state = State.Idle;
    this.finish(this.exchange!.response!);
  }

  private finish(res: HttpResponse): void {
    this.exchange = undefined;
    if (this.keepAlive && !this.closed) this.pool.release(this);
    else this.close();
    res.end();
  }

  private onEnd(): void {
    const ex = this.exchange;
    if (ex !== undefined && this.state === State.Close) {
      // The end of the connection is the end of this body.
      this.exchange = undefined;
      this.state = State.Idle;
      this.close();
      ex.response!.end();
      return;
    }
    this.onClosed(hangUp());
  }

  private onClosed(err: Error): void {
    this.fail(err);
    this.close();
  }

  private fail(err: Error): void {
    const ex = this.exchange;
    this.exchange = undefined;
    this.state = State.Idle;
    if (ex === undefined) return;
    if (ex.response === undefined) ex.reject(err);
    else ex.response.fail(err);
  }
}

export interface HostPoolOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** TLS server name (SNI); undefined for an IP address. */
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
  readonly maxSockets: number;
}

/** Connections to one host and port: at most `maxSockets`, idle ones reused last-in first-out. */
class HostPool {
  private readonly idle: Connection[] = [];
  private readonly waiting: Array<{ resolve(conn: Connection): void; reject(err: Error): void }> = [];
  private open = 0;
  private destroyed = false;

  constructor(private readonly opts: HostPoolOptions) {}

  acquire(): Connection | Promise<Connection> {
    if (this.destroyed) throw new Error('HTTP client destroyed');
    const idle = this.idle.pop();
    if (idle !== undefined) return idle;
    if (this.open < this.opts.maxSockets) return this.connect();
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  release(conn: Connection): void {
    if (this.destroyed) return void conn.socket.destroy();
    const next = this.waiting.shift();
    if (next !== undefined) return next.resolve(conn);
    conn.socket.unref();
    this.idle.push(conn);
  }

  remove(conn: Connection): void {
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    this.open--;
    if (this.destroyed) return;
    const next = this.waiting.shift();
    if (next !== undefined) next.resolve(this.connect());
  }

  destroy(): void {
    this.destroyed = true;
    for (const c of this.idle.splice(0)) c.socket.destroy();
    for (const w of this.waiting.splice(0)) w.reject(new Error('HTTP client destroyed'));
  }

  private connect(): Connection {
    this.open++;
    const { host, port } = this.opts;
    const socket = this.opts.tls
      ? tlsConnect({
          host,
          port,
          servername: this.opts.servername,
          rejectUnauthorized: this.opts.rejectUnauthorized,
          ALPNProtocols: ['http/1.1'],
        })
      : netConnect({ host, port });
    return new Connection(socket, this);
  }
}

export interface Http1ClientOptions {
  /** http(s)://host[:port]; a path on it is the caller's business. */
  readonly url: URL;
  readonly maxSockets: number;
  /** Accept any TLS certificate (S3 `skipverify`). */
  readonly skipVerify?: boolean;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };
/** A header value may hold tabs and visible Latin-1, never CR, LF or other controls. */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export class Http1Client {
  private readonly pools = new Map<string, HostPool>();
  private readonly tls: boolean;
  private readonly port: number;
  private readonly portSuffix: string;

  constructor(private readonly opts: Http1ClientOptions) {
    const { protocol, port } = opts.url;
    if (protocol !== 'http:' && protocol !== 'https:')
      throw new Error(`unsupported scheme ${JSON.stringify(protocol)} (http: or https:)`);
    this.tls = protocol === 'https:';
    this.port = port === '' ? DEFAULT_PORTS[protocol]! : Number(port);
    this.portSuffix = port === '' ? '' : `:${port}`;
  }

  destroy(): void {
    for (const p of this.pools.values()) p.destroy();
    this.pools.clear();
  }

  /** Sends one request; resolves with its response once the head is in (body unread). */
  request(r: Http1Request): Promise<HttpResponse> {
    const hostname = r.hostname ?? this.opts.url.hostname;
    let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
    if (r.headers['host'] === undefined) head += `host: ${hostname}${this.portSuffix}\r\n`;
    for (const name in r.headers) {
      const value = r.headers[name]!;
      if (BAD_HEADER_VALUE.test(value) || !HEADER_NAME.test(name))
        return Promise.reject(new TypeError(`invalid character in HTTP header ${JSON.stringify(name)}`));
      head += `${name}: ${value}\r\n`;
    }
    if (r.headers['content-length'] === undefined) {
      if (r.body !== undefined) head += `content-length: ${r.body.length}\r\n`;
      else if (r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH')
        head += 'content-length: 0\r\n';
    }
    head += '\r\n';
    const pool = this.pool(hostname);
    return new Promise<HttpResponse>((resolve, reject) => {
      let conn: Connection | undefined;
      let cancelled: Error | undefined;
      const exchange: Exchange = { resolve, reject, response: undefined };
      r.cancel?.onCancel((reason) => {
        cancelled = reason;
        if (conn === undefined) reject(reason);
        // Still carrying this request or its response's body: drop it (else it is done, or another's).
        else conn.cancel(exchange, reason);
      });
      const start = (c: Connection): void => {
        if (cancelled !== undefined) return pool.release(c);
        conn = c;
        c.send(r, head, exchange);
      };
      let got: Connection | Promise<Connection>;
      try {
        got = pool.acquire();
      } catch (err) {
        return reject(err as Error);
      }
      if (got instanceof Promise) got.then(start, reject);
      else start(got);
    });
  }

  private pool(hostname: string): HostPool {
    let pool = this.pools.get(hostname);
    if (pool === undefined) {
      const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
      pool = new HostPool({
        host,
        port: this.port,
        tls: this.tls,
        servername: /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host,
        rejectUnauthorized: !this.opts.skipVerify,
        maxSockets: this.opts.maxSockets,
      });
      this.pools.set(hostname, pool);
    }
    return pool;
  }
}
