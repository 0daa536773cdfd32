/**
 * An HTTP proxy that holds every request for a fixed time before passing it on unchanged (headers
 * included, so SigV4 signatures still verify): object storage at a chosen round-trip latency, for
 * `npm run bench -- --driver s3 --latency 30` (issue 13 §6). The delay is added once per request,
 * before the request is forwarded, as a far-away endpoint's round trip would be.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LatencyProxy {
  readonly endpoint: string;
  readonly requests: () => number;
  close(): Promise<void>;
}

export async function startLatencyProxy(target: string, delayMs: number): Promise<LatencyProxy> {
  const to = new URL(target);
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    setTimeout(() => {
      const up = request(
        { hostname: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      req.pipe(up);
    }, delayMs);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
