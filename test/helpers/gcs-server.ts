/**
 * A small GCS server for tests, written from Google's JSON API reference
 * (https://cloud.google.com/storage/docs/json_api/v1/objects): objects.list (prefix, delimiter,
 * pageToken, maxResults, startOffset, endOffset → items, prefixes, nextPageToken), objects.get
 * (metadata, or `alt=media` with Range), simple/multipart uploads (objects.insert) and objects.delete.
 * Errors are shaped as Google returns them: { "error": { "code", "message", "errors": [...] } }.
 * Objects live in memory, names kept sorted bytewise.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareBytewise } from '../../drivers/paths.js';

interface StoredObject {
  readonly data: Buffer;
  readonly updated: Date;
  readonly generation: string;
  readonly contentType: string;
  readonly md5: string;
}

export interface GcsTestServer {
  /** http://127.0.0.1:<port>, the SDK's apiEndpoint */
  readonly endpoint: string;
  readonly port: number;
  /** Creates the bucket if needed and stores an object (test setup, not an HTTP call). */
  put(bucket: string, name: string, data: Buffer): void;
  /** Requests received, by method and path. */
  readonly requests: Array<{ method: string; url: string }>;
  close(): Promise<void>;
}

class BucketStore {
  readonly names: string[] = [];
  readonly objects = new Map<string, StoredObject>();
  private generation = 1;

  put(name: string, data: Buffer, contentType = 'application/octet-stream'): StoredObject {
    if (!this.objects.has(name)) this.names.splice(this.lowerBound(name), 0, name);
    const obj: StoredObject = {
      data,
      updated: new Date(),
      generation: String(this.generation++),
      contentType,
      md5: createHash('md5').update(data).digest('base64'),
    };
    this.objects.set(name, obj);
    return obj;
  }

  delete(name: string): boolean {
    if (!this.objects.delete(name)) return false;
    this.names.splice(this.lowerBound(name), 1);
    return true;
  }

  /** Index of the first name >= `name`. */
  lowerBound(name: string): number {
    let lo = 0;
    let hi = this.names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytewise(this.names[mid]!, name) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function resource(bucket: string, name: string, o: StoredObject): Record<string, unknown> {
  return {
    kind: 'storage#object',
    id: `${bucket}/${name}/${o.generation}`,
    name,
    bucket,
    generation: o.generation,
    metageneration: '1',
    contentType: o.contentType,
    size: String(o.data.length),
    md5Hash: o.md5,
    storageClass: 'STANDARD',
    timeCreated: o.updated.toISOString(),
    updated: o.updated.toISOString(),
  };
}

function sendError(res: ServerResponse, code: number, message: string, reason: string): void {
  const body = JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }] } });
  res.writeHead(code, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Splits a multipart/related body into its parts (headers and bytes). */
function parseMultipart(
  body: Buffer,
  boundary: string,
): Array<{ headers: Record<string, string>; data: Buffer }> {
  const parts: Array<{ headers: Record<string, string>; data: Buffer }> = [];
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delim, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const sep = part.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, sep).toString('utf8').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, data: part.subarray(sep + 4) });
    pos = next;
  }
  return parts;
}

function list(res: ServerResponse, bucket: string, store: BucketStore, q: URLSearchParams): void {
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxResults = Math.min(1000, Math.max(1, Number(q.get('maxResults') ?? 1000)));
  const startOffset = q.get('startOffset') ?? '';
  const endOffset = q.get('endOffset') ?? '';
  const token = q.get('pageToken');
  // Our page token: the last name or prefix returned; the next page starts strictly after it.
  const after = token ? Buffer.from(token, 'base64url').toString('utf8') : undefined;
  let from = compareBytewise(startOffset, prefix) > 0 ? startOffset : prefix;
  if (after !== undefined && compareBytewise(after, from) > 0) from = after;
  let i = store.lowerBound(from);
  const items: Array<Record<string, unknown>> = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  let truncated = false;
  for (; i < store.names.length; i++) {
    const name = store.names[i]!;
    if (after !== undefined && compareBytewise(name, after) <= 0) continue;
    if (!name.startsWith(prefix)) {
      if (compareBytewise(name, prefix) > 0) break;
      continue;
    }
    if (endOffset !== '' && compareBytewise(name, endOffset) >= 0) break;
    const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
    const common = cut >= 0 ? name.slice(0, cut + delimiter.length) : undefined;
    if (common !== undefined && prefixes[prefixes.length - 1] === common) continue;
    if (items.length + prefixes.length >= maxResults) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      prefixes.push(common);
      last = `${common}\u{10FFFF}`;
    } else {
      items.push(resource(bucket, name, store.objects.get(name)!));
      last = name;
    }
  }
  const out: Record<string, unknown> = { kind: 'storage#objects' };
  if (items.length > 0) out['items'] = items;
  if (prefixes.length > 0) out['prefixes'] = prefixes;
  if (truncated && last !== undefined) out['nextPageToken'] = Buffer.from(last, 'utf8').toString('base64url');
  sendJson(res, out);
}

function media(req: IncomingMessage, res: ServerResponse, o: StoredObject): void {
  let data = o.data;
  let status = 200;
  const headers: Record<string, string | number> = {
    'content-type': o.contentType,
    'x-goog-generation': o.generation,
    'x-goog-stored-content-encoding': 'identity',
    'x-goog-stored-content-length': o.data.length,
    'x-goog-hash': `md5=${o.md5}`,
    'last-modified': o.updated.toUTCString(),
  };
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers['range'] ?? '');
  if (range) {
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), o.data.length - 1) : o.data.length - 1;
    if (start >= o.data.length && o.data.length > 0) {
      res.writeHead(416, { 'content-range': `bytes */${o.data.length}` });
      res.end();
      return;
    }
    data = o.data.subarray(start, end + 1);
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${o.data.length}`;
    delete headers['x-goog-hash'];
  }
  headers['content-length'] = data.length;
  res.writeHead(status, headers);
  res.end(data);
}

export async function startGcsServer(): Promise<GcsTestServer> {
  const buckets = new Map<string, BucketStore>();
  const bucketOf = (name: string): BucketStore => {
    let b = buckets.get(name);
    if (!b) buckets.set(name, (b = new BucketStore()));
    return b;
  };
  const requests: Array<{ method: string; url: string }> = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({ method: req.method ?? 'GET', url: url.pathname + url.search });
    const q = url.searchParams;
    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (upload && req.method === 'POST') {
      const bucket = decodeURIComponent(upload[1]!);
      const body = await readBody(req);
      let name = q.get('name') ?? undefined;
      let data = body;
      let contentType = req.headers['content-type'] ?? 'application/octet-stream';
      const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
      if (q.get('uploadType') === 'multipart' && boundary) {
        const [meta, content] = parseMultipart(body, boundary);
        const metadata = meta
          ? (JSON.parse(meta.data.toString('utf8')) as { name?: string; contentType?: string })
          : {};
        name = metadata.name ?? name;
        data = Buffer.from(content?.data ?? Buffer.alloc(0));
        contentType = metadata.contentType ?? content?.headers['content-type'] ?? 'application/octet-stream';
      }
      if (!name) return sendError(res, 400, 'Required parameter: name', 'required');
      const obj = bucketOf(bucket).put(name, data, contentType);
      return sendJson(res, resource(bucket, name, obj));
    }
    const m = /^\/storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
    if (!m) return sendError(res, 404, `Not Found: ${url.pathname}`, 'notFound');
    const bucketName = decodeURIComponent(m[1]!);
    const store = buckets.get(bucketName);
    if (!store) return sendError(res, 404, 'The specified bucket does not exist.', 'notFound');
    if (m[2] === undefined) {
      if (req.method !== 'GET') return sendError(res, 405, 'Method not allowed', 'methodNotAllowed');
      return list(res, bucketName, store, q);
    }
    const name = decodeURIComponent(m[2]);
    const obj = store.objects.get(name);
    if (req.method === 'DELETE') {
      if (!store.delete(name))
        return sendError(res, 404, `No such object: ${bucketName}/${name}`, 'notFound');
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== 'GET') return sendError(res, 405, 'Method not allowed', 'methodNotAllowed');
    if (!obj) return sendError(res, 404, `No such object: ${bucketName}/${name}`, 'notFound');
    if (q.get('alt') === 'media') return media(req, res, obj);
    return sendJson(res, resource(bucketName, name, obj));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => sendError(res, 500, err.message, 'backendError'));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    requests,
    put: (bucket, name, data) => void bucketOf(bucket).put(name, data),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
