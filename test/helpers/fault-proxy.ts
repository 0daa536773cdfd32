/**
 * An HTTP reverse proxy in front of a test server (Ceph radosgw, the GCS test server) that injects faults
 * into chosen requests: error statuses with S3- or GCS-shaped bodies (500, 503, S3 `SlowDown`),
 * connection resets, and slow responses. It forwards everything else untouched (Host included, so
 * S3 signatures stay valid) and records every request it receives, so tests can compare a driver's
 * own request counts with what actually went over the wire.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly body: string; readonly contentType: string }
  | { readonly kind: 'reset' }
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** Forwards the response head and `afterBytes` of the body, then resets the connection. */
  | { readonly kind: 'cut'; readonly afterBytes: number };

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  /** The fault applied, if any. */
  readonly fault?: Fault['kind'];
}

export interface FaultRule {
  readonly fault: Fault;
  /** How many matching requests get the fault (default 1). Infinity: all of them. */
  remaining: number;
  readonly match?: (req: RecordedRequest) => boolean;
}

export const faults = {
  s3Error(status: number, code: string, message = code): Fault {
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
      `<RequestId>fault-proxy</RequestId></Error>`;
    return { kind: 'status', status, body, contentType: 'application/xml' };
  },
  /** S3 throttling as AWS sends it: 503 SlowDown. */
  slowDown(): Fault {
    return faults.s3Error(503, 'SlowDown', 'Please reduce your request rate.');
  },
  gcsError(status: number, message: string, reason = 'backendError'): Fault {
    const body = JSON.stringify({
      error: { code: status, message, errors: [{ message, domain: 'global', reason }] },
    });
    return { kind: 'status', status, body, contentType: 'application/json; charset=UTF-8' };
  },
  reset(): Fault {
    return { kind: 'reset' };
  },
  slow(delayMs: number): Fault {
    return { kind: 'slow', delayMs };
  },
  cut(afterBytes: number): Fault {
    return { kind: 'cut', afterBytes };
  },
};

export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Most requests open at the same time since the last reset. */
  maxInFlight(): number;
  inject(fault: Fault, opts?: { times?: number; match?: (req: RecordedRequest) => boolean }): void;
  /** Drops pending faults and the request log. */
  reset(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host?: string; port: number }): Promise<FaultProxy> {
  const host = target.host ?? '127.0.0.1';
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const rules: FaultRule[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  let peak = 0;

  const takeFault = (rec: RecordedRequest): Fault | undefined => {
    const rule = rules.find((r) => r.remaining > 0 && (!r.match || r.match(rec)));
    if (!rule) return undefined;
    rule.remaining--;
    return rule.fault;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, cutAfter?: number): void => {
    const upstream = httpRequest(
      { host, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (cutAfter === undefined) {
          up.pipe(res);
          return;
        }
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent >= cutAfter) return;
          const part = chunk.subarray(0, cutAfter - sent);
          sent += part.length;
          res.write(part);
          if (sent >= cutAfter) {
            up.destroy();
            // Let the partial body reach the client before the RST.
            setTimeout(() => res.socket?.resetAndDestroy(), 20);
          }
        });
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const base: RecordedRequest = { method: req.method ?? 'GET', url: req.url ?? '/' };
    inFlight++;
    peak = Math.max(peak, inFlight);
    res.on('close', () => inFlight--);
    const fault = takeFault(base);
    requests.push(fault ? { ...base, fault: fault.kind } : base);
    if (!fault) return forward(req, res);
    switch (fault.kind) {
      case 'status':
        req.resume();
        res.writeHead(fault.status, {
          'content-type': fault.contentType,
          'content-length': Buffer.byteLength(fault.body),
        });
        res.end(fault.body);
        return;
      case 'reset':
        // A TCP RST, as a load balancer dropping the connection does.
        req.socket.resetAndDestroy();
        return;
      case 'cut':
        forward(req, res, fault.afterBytes);
        return;
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) forward(req, res);
        }, fault.delayMs);
        timers.add(timer);
        return;
      }
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    maxInFlight: () => peak,
    inject(fault, opts = {}) {
      rules.push({ fault, remaining: opts.times ?? 1, match: opts.match });
    },
    reset() {
      rules.length = 0;
      requests.length = 0;
      peak = inFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
