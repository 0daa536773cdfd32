import { createHash } from 'node:crypto';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStorageProxy, type StorageProxy } from '../../scripts/lib/storage-proxy.js';

/** The server behind the proxy: answers with what it received, so a test sees the bytes went through. */
let server: Server;
let target: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, bytes, sha256: hash.digest('hex') });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

interface Answer {
  status: number;
  body: string;
  ms: number;
}

function send(
  proxy: StorageProxy,
  agent: Agent,
  method: string,
  path: string,
  body?: Buffer | Readable,
): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(`${proxy.endpoint}${path}`, { method, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          ms: Date.now() - started,
        }),
      );
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

describe.each([
  ['relaying bytes (no rewrite)', false],
  ['parsing HTTP (with a rewrite)', true],
])('the storage proxy, %s', (_name, rewriting) => {
  let proxy: StorageProxy;
  const agent = new Agent({ keepAlive: true, maxSockets: 6 });
  beforeAll(async () => {
    proxy = await startStorageProxy({
      target,
      delayMs: 150,
      ...(rewriting ? { rewrite: { wants: () => false, body: (_u: URL, b: Buffer) => b } } : {}),
    });
  });
  afterAll(async () => {
    agent.destroy();
    await proxy.close();
  });

  it('delays each request, counts it, and knows how many were in flight at once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => send(proxy, agent, 'GET', `/bucket/key-${i}?list-type=2`)),
    );
    for (const [i, a] of answers.entries()) {
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body)).toMatchObject({
        method: 'GET',
        url: `/bucket/key-${i}?list-type=2`,
        bytes: 0,
      });
      expect(a.ms).toBeGreaterThanOrEqual(149);
    }
    expect(proxy.maxInFlight()).toBe(6);
    // Again on the same kept-alive connections: each request is delayed, not only a connection's first.
    const again = await send(proxy, agent, 'GET', '/bucket/key-0');
    expect(again.ms).toBeGreaterThanOrEqual(149);
    expect(proxy.requests()).toBe(7);
    expect(proxy.count((m, u) => m === 'GET' && u.searchParams.get('list-type') === '2')).toBe(6);
  });

  it('passes bodies through whole, by Content-Length or chunked, and counts the requests after them', async () => {
    const before = proxy.requests();
    const big = Buffer.alloc(300_000, 7);
    big.write('GET / HTTP/1.1\r\n\r\n', 1000);
    const put = JSON.parse((await send(proxy, agent, 'PUT', '/bucket/big', big)).body) as Record<
      string,
      unknown
    >;
    expect(put).toMatchObject({ bytes: big.length, sha256: createHash('sha256').update(big).digest('hex') });
    const parts = [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.alloc(70_000, 1), Buffer.from('0\r\n\r\n')];
    const chunked = JSON.parse(
      (await send(proxy, agent, 'PUT', '/bucket/chunked', Readable.from(parts))).body,
    ) as Record<string, unknown>;
    expect(chunked).toMatchObject({
      bytes: 70_023,
      sha256: createHash('sha256').update(Buffer.concat(parts)).digest('hex'),
    });
    expect((await send(proxy, agent, 'HEAD', '/bucket/big')).status).toBe(200);
    expect((await send(proxy, agent, 'DELETE', '/bucket/big')).status).toBe(200);
    expect(proxy.requests() - before).toBe(4);
    expect(proxy.count((m) => m === 'PUT')).toBe(2);
    expect(proxy.count((m) => m === 'HEAD')).toBe(1);
  });

  it('goes without the delay once it is set to 0', async () => {
    proxy.setDelay(0);
    const a = await send(proxy, agent, 'GET', '/bucket/fast');
    expect(a.status).toBe(200);
    expect(a.ms).toBeLessThan(149);
  });
});
