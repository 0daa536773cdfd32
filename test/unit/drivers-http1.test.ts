/**
 * The object stores' HTTP/1.1 client (drivers/http1.ts) against real servers: node:http's server for
 * what a conforming server sends (Content-Length, chunked, HEAD, 204, keep-alive, TLS), and raw TCP
 * servers for what must be parsed whatever the packet boundaries (a response one byte at a time),
 * what is unusual but legal (100 Continue, HTTP/1.0 bodies ended by the close, chunk extensions and
 * trailers) and what goes wrong (a reset before or inside a body, garbage, a server that never
 * answers). Expected bodies are the bytes the servers were given; connection counts are the servers'.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AttemptCancel } from '../../drivers/attempt.js';
import { framingOf, Http1Client, HttpProtocolError, parseHead } from '../../drivers/http1.js';

const servers: Server[] = [];
/** Each server's connections, destroyed after each test (a keep-alive connection holds close() up). */
const sockets = new WeakMap<Server, Set<Socket>>();
const clients: Http1Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of servers.splice(0)) {
    for (const socket of sockets.get(s) ?? []) socket.destroy();
    await new Promise((r) => s.close(r));
  }
});

async function listen<S extends Server>(
  server: S,
): Promise<{ server: S; url: URL; connections: () => number }> {
  let connections = 0;
  const open = new Set<Socket>();
  sockets.set(server, open);
  server.on('connection', (socket: Socket) => {
    connections++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, url: new URL(`http://127.0.0.1:${port}`), connections: () => connections };
}

function client(url: URL, maxSockets = 4, skipVerify = false): Http1Client {
  const c = new Http1Client({ url, maxSockets, skipVerify });
  clients.push(c);
  return c;
}

/** A node:http server answering with `handler`. */
function httpServer(handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void) {
  return listen(
    createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handler(req, res, Buffer.concat(chunks)));
    }),
  );
}

/** A TCP server that answers each request (its head, up to the blank line) with `reply(socket, head)`. */
function rawServer(reply: (socket: Socket, head: string, n: number) => void) {
  let n = 0;
  return listen(
    createNetServer((socket) => {
      let buf = '';
      socket.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
          const head = buf.slice(0, end);
          buf = buf.slice(end + 4);
          reply(socket, head, n++);
        }
      });
      socket.on('error', () => undefined);
    }),
  );
}

/** Writes `bytes` one byte per turn of the event loop. */
async function trickle(socket: Socket, bytes: string | Buffer): Promise<void> {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  for (let i = 0; i < b.length; i++) {
    socket.write(b.subarray(i, i + 1));
    await new Promise((r) => setImmediate(r));
  }
}

/** An AttemptCancel the test can fire. */
function canceller(): AttemptCancel & { fire(reason: Error): void } {
  const hooks: Array<(e: Error) => void> = [];
  let fired: Error | undefined;
  return {
    onCancel: (cb) => (fired ? cb(fired) : hooks.push(cb)),
    get signal(): AbortSignal {
      throw new Error('not used');
    },
    fire(reason) {
      fired = reason;
      for (const h of hooks.splice(0)) h(reason);
    },
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** GETs `path` and reads its whole body as text. */
async function getText(c: Http1Client, path: string): Promise<string> {
  return (await (await c.request({ method: 'GET', path, headers: {} })).read()).toString();
}

describe('Http1Client against node:http', () => {
  it('reads Content-Length and chunked bodies, and reuses one connection for requests in turn', async () => {
    const big = Buffer.alloc(300_000, 7);
    const { url, connections } = await httpServer((req, res) => {
      if (req.url === '/chunked') {
        // No Content-Length: node:http sends these as chunks.
        res.write('first,');
        res.write('second,');
        res.end('third');
      } else {
        res.setHeader('content-length', big.length);
        res.end(big);
      }
    });
    const c = client(url);
    for (let i = 0; i < 3; i++) {
      const a = await c.request({ method: 'GET', path: '/length', headers: {} });
      expect(a.status).toBe(200);
      expect(sha(await a.read())).toBe(sha(big));
      const b = await c.request({ method: 'GET', path: '/chunked', headers: {} });
      expect(b.headers['transfer-encoding']).toBe('chunked');
      expect((await b.read()).toString()).toBe('first,second,third');
    }
    expect(connections()).toBe(1);
  });

  it('sends the method, path, headers, host and a body byte for byte', async () => {
    const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> =
      [];
    const { url } = await httpServer((req, res, body) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: sha(body) });
      res.end();
    });
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const c = client(url);
    (
      await c.request({ method: 'PUT', path: '/o/a%20b?x=1', headers: { 'x-amz-date': 'd' }, body })
    ).discard();
    (await c.request({ method: 'POST', path: '/empty', headers: {} })).discard();
    (await c.request({ method: 'GET', path: '/g', headers: { host: 'bucket.example:9' } })).discard();
    expect(seen[0]).toMatchObject({ method: 'PUT', url: '/o/a%20b?x=1', body: sha(body) });
    expect(seen[0]!.headers).toMatchObject({ host: url.host, 'x-amz-date': 'd', 'content-length': '70000' });
    expect(seen[1]!.headers['content-length']).toBe('0');
    expect(seen[2]!.headers.host).toBe('bucket.example:9');
  });

  it('reads no body after HEAD and 204, and the connection carries the next request', async () => {
    const { url, connections } = await httpServer((req, res) => {
      if (req.url === '/204') {
        res.statusCode = 204;
        return res.end();
      }
      res.setHeader('content-length', '12345');
      res.setHeader('last-modified', 'Tue, 01 Dec 2026 10:00:00 GMT');
      res.end(req.method === 'HEAD' ? undefined : Buffer.alloc(12345));
    });
    const c = client(url, 1);
    const head = await c.request({ method: 'HEAD', path: '/x', headers: {} });
    expect(head.headers['content-length']).toBe('12345');
    expect((await head.read()).length).toBe(0);
    const none = await c.request({ method: 'DELETE', path: '/204', headers: {} });
    expect(none.status).toBe(204);
    expect((await none.read()).length).toBe(0);
    const get = await c.request({ method: 'GET', path: '/x', headers: {} });
    expect((await get.read()).length).toBe(12345);
    expect(connections()).toBe(1);
  });

  it('streams a large body with backpressure', async () => {
    const big = Buffer.alloc(8 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const { url } = await httpServer((_req, res) => res.end(big));
    const res = await client(url).request({ method: 'GET', path: '/', headers: {} });
    const hash = createHash('sha256');
    for await (const chunk of res.stream()) {
      hash.update(chunk as Buffer);
      await new Promise((r) => setImmediate(r)); // a slow reader
    }
    expect(hash.digest('hex')).toBe(sha(big));
  });

  it('keeps to maxSockets, queueing the rest', async () => {
    let open = 0;
    let most = 0;
    const { url, connections } = await httpServer((_req, res) => {
      open++;
      most = Math.max(most, open);
      setTimeout(() => {
        open--;
        res.end('ok');
      }, 20);
    });
    const c = client(url, 2);
    const bodies = await Promise.all(Array.from({ length: 7 }, async (_, i) => await getText(c, `/${i}`)));
    expect(bodies).toEqual(Array(7).fill('ok'));
    expect(most).toBe(2);
    expect(connections()).toBe(2);
  });

  it('refuses header values that would split the request, sending nothing', async () => {
    const { url, connections } = await httpServer((_req, res) => res.end());
    const c = client(url);
    await expect(
      c.request({ method: 'GET', path: '/', headers: { authorization: 'Bearer x\r\nx-evil: 1' } }),
    ).rejects.toThrow(/invalid character in HTTP header "authorization"/);
    expect(connections()).toBe(0);
  });

  it('speaks TLS: a self-signed certificate is refused unless verification is skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regdb-http1-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
          ...['-addext', 'subjectAltName=DNS:localhost', '-keyout', 'k.pem', '-out', 'c.pem'],
        ],
        { cwd: dir, stdio: 'pipe' },
      );
      const tls = { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) };
      const { url } = await listen(createHttpsServer(tls, (_req, res) => res.end('secret')));
      const https = new URL(`https://localhost:${url.port}`);
      await expect(client(https).request({ method: 'GET', path: '/', headers: {} })).rejects.toMatchObject({
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      });
      const res = await client(https, 2, true).request({ method: 'GET', path: '/', headers: {} });
      expect((await res.read()).toString()).toBe('secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Http1Client against a raw TCP server', () => {
  it('parses a response that arrives one byte at a time: Content-Length, chunks with extensions and trailers', async () => {
    const { url, connections } = await rawServer((socket, head) => {
      const response = head.startsWith('GET /chunked')
        ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n' +
          '5;ext=1\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: t\r\n\r\n'
        : 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nETag: "e"\r\n\r\nhello world';
      void trickle(socket, response);
    });
    const c = client(url, 1);
    const a = await c.request({ method: 'GET', path: '/length', headers: {} });
    expect(a.headers['etag']).toBe('"e"');
    expect((await a.read()).toString()).toBe('hello world');
    const b = await c.request({ method: 'GET', path: '/chunked', headers: {} });
    expect(b.headers['x-a']).toBe('1, 2');
    expect((await b.read()).toString()).toBe('hello, chunked!');
    const again = await c.request({ method: 'GET', path: '/length', headers: {} });
    expect((await again.read()).toString()).toBe('hello world');
    expect(connections()).toBe(1);
  });

  it('skips a 100 Continue, and reads an HTTP/1.0 body to the end of the connection', async () => {
    const { url, connections } = await rawServer((socket, head) => {
      if (head.startsWith('GET /continue'))
        socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else socket.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
    });
    const c = client(url, 1);
    expect(await getText(c, '/continue')).toBe('ok');
    expect(await getText(c, '/old')).toBe('until the end');
    // The HTTP/1.0 response closed its connection: the next request opens another.
    expect(await getText(c, '/continue')).toBe('ok');
    expect(connections()).toBe(2);
  });

  it('opens a new connection after the server closes an idle one', async () => {
    const { url, connections } = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      setTimeout(() => socket.end(), 20); // a keep-alive timeout, as servers have
    });
    const c = client(url, 1);
    expect(await getText(c, '/')).toBe('ok');
    await new Promise((r) => setTimeout(r, 100));
    expect(await getText(c, '/')).toBe('ok');
    expect(connections()).toBe(2);
  });

  it('honours Connection: close', async () => {
    const { url, connections } = await rawServer((socket) =>
      socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n1'),
    );
    const c = client(url, 1);
    for (let i = 0; i < 3; i++) expect(await getText(c, '/')).toBe('1');
    expect(connections()).toBe(3);
  });

  it('fails with ECONNRESET, as node:http did, when the connection drops before or inside the body', async () => {
    const { url } = await rawServer((socket, head) => {
      if (head.startsWith('GET /half')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n' + 'x'.repeat(50));
        setTimeout(() => socket.destroy(), 10);
      } else {
        socket.destroy();
      }
    });
    const c = client(url);
    await expect(c.request({ method: 'GET', path: '/none', headers: {} })).rejects.toMatchObject({
      code: 'ECONNRESET',
      message: 'socket hang up',
    });
    const half = await c.request({ method: 'GET', path: '/half', headers: {} });
    await expect(half.read()).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('refuses what is not HTTP, and data the server sends out of turn', async () => {
    const { url } = await rawServer((socket, head) => {
      if (head.startsWith('GET /garbage')) socket.write('SSH-2.0-OpenSSH\r\n\r\n');
      else if (head.startsWith('GET /length')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: x1\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
    });
    const c = client(url);
    await expect(c.request({ method: 'GET', path: '/garbage', headers: {} })).rejects.toThrow(
      HttpProtocolError,
    );
    await expect(c.request({ method: 'GET', path: '/length', headers: {} })).rejects.toThrow(
      /invalid Content-Length/,
    );
    // Bytes past the announced length poison the connection: the body is not trusted either.
    const extra = await c.request({ method: 'GET', path: '/extra', headers: {} });
    await expect(extra.read()).rejects.toThrow(/data from the server after its response/);
  });

  it('an abandoned attempt drops its connection, waiting for the head or inside the body', async () => {
    let closed = 0;
    const { url } = await rawServer((socket, head) => {
      socket.on('close', () => closed++);
      if (head.startsWith('GET /body')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345');
      // else: never answers
    });
    const c = client(url);
    const silent = canceller();
    const waiting = c.request({ method: 'GET', path: '/silent', headers: {}, cancel: silent });
    await new Promise((r) => setTimeout(r, 20));
    silent.fire(new Error('request timed out after 20 ms'));
    await expect(waiting).rejects.toThrow('request timed out after 20 ms');
    const cut = canceller();
    const res = await c.request({ method: 'GET', path: '/body', headers: {}, cancel: cut });
    const reading = res.read();
    cut.fire(new Error('aborted by the caller'));
    await expect(reading).rejects.toThrow('aborted by the caller');
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(2);
  });

  it('a body over its cap fails with the caller’s error and the next request still works', async () => {
    const { url } = await rawServer((socket, head) =>
      socket.write(
        head.startsWith('GET /big')
          ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n' +
              'b'.repeat(1024) +
              '\r\n0\r\n\r\n'
          : 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall',
      ),
    );
    const c = client(url, 1);
    const big = await c.request({ method: 'GET', path: '/big', headers: {} });
    await expect(big.read(1000, () => new Error('manifest over 1000 bytes'))).rejects.toThrow(
      'manifest over 1000 bytes',
    );
    expect(await getText(c, '/small')).toBe('small');
  });
});

describe('response heads', () => {
  it('parses status and headers, joining repeated fields', () => {
    expect(parseHead('HTTP/1.1 404 Not Found\r\nA: 1\r\nb:2 \r\na:  3')).toEqual({
      version: '1.1',
      status: 404,
      headers: { a: '1, 3', b: '2' },
    });
    expect(() => parseHead('HTTP/2 200')).toThrow(HttpProtocolError);
    expect(() => parseHead('HTTP/1.1 200 OK\r\n folded')).toThrow(/malformed header line/);
  });

  it('frames bodies as RFC 9112 §6.3 says', () => {
    expect(framingOf('HEAD', '1.1', 200, { 'content-length': '5' })).toEqual({
      framing: 'none',
      length: 0,
      keepAlive: true,
    });
    expect(framingOf('GET', '1.1', 304, {})).toMatchObject({ framing: 'none', keepAlive: true });
    expect(
      framingOf('GET', '1.1', 200, { 'transfer-encoding': 'gzip, chunked', 'content-length': '9' }),
    ).toMatchObject({ framing: 'chunked' });
    expect(framingOf('GET', '1.1', 200, { 'transfer-encoding': 'gzip' })).toMatchObject({
      framing: 'close',
      keepAlive: false,
    });
    expect(framingOf('GET', '1.1', 200, { 'content-length': '7, 7' })).toMatchObject({
      framing: 'length',
      length: 7,
    });
    expect(() => framingOf('GET', '1.1', 200, { 'content-length': '7, 8' })).toThrow(
      /invalid Content-Length/,
    );
    expect(framingOf('GET', '1.1', 200, { connection: 'Close' })).toMatchObject({ keepAlive: false });
    expect(framingOf('GET', '1.0', 200, { 'content-length': '1' })).toMatchObject({ keepAlive: false });
    expect(framingOf('GET', '1.0', 200, { 'content-length': '1', connection: 'keep-alive' })).toMatchObject({
      keepAlive: true,
    });
  });
});
