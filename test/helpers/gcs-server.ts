/**
 * A small GCS server for tests, written from Google's JSON API reference
 * (https://cloud.google.com/storage/docs/json_api/v1/objects): objects.list (prefix, delimiter,
 * pageToken, maxResults, startOffset, endOffset → items, prefixes, nextPageToken), objects.get
 * (metadata, or `alt=media` with Range), simple/multipart uploads (objects.insert) and objects.delete.
 * JSON replies honour `fields` (partial responses, https://cloud.google.com/storage/docs/json_api#partial-response:
 * `a,b(c,d)`), as Google's servers do.
 * Errors are shaped as Google returns them: { "error": { "code", "message", "errors": [...] } }.
 * Objects live in memory, names kept sorted bytewise.
 *
 * With `auth`, it also plays Google's OAuth2 token endpoint for one service account, at
 * `<endpoint>/token`: the JWT-bearer grant of RFC 7523 as Google documents it for service accounts
 * (https://developers.google.com/identity/protocols/oauth2/service-account#httprest): an RS256
 * assertion with iss, scope, aud (this URL), iat and exp of at most an hour, checked against the
 * account's public key; the reply is { access_token, expires_in, token_type }. Every other request
 * then needs `Authorization: Bearer <a token it issued, not expired>`, else 401 as Google answers.
 */
import { createHash, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareBytewise } from '../../drivers/paths.js';

interface StoredObject {
  readonly data: Buffer;
  readonly updated: Date;
  readonly generation: string;
  readonly contentType: string;
  readonly md5: string;
  /** CRC32C of the data, base64 of its four big-endian bytes (the `crc32c` field). */
  readonly crc32c: string;
}

export interface GcsServerAuth {
  /** The service account (`client_email`) whose assertions the token endpoint accepts. */
  readonly clientEmail: string;
  readonly publicKey: KeyObject;
  /** `expires_in` of the tokens issued, seconds; default 3600. */
  readonly tokenLifetimeS?: number;
}

/** One token the token endpoint issued, with the assertion's claims. */
export interface IssuedToken {
  readonly scope: string;
  readonly aud: string;
  readonly at: number;
}

export interface GcsTestServer {
  /** http://127.0.0.1:<port>, the driver's `endpoint` */
  readonly endpoint: string;
  /** `<endpoint>/token` (served only with `auth`) */
  readonly tokenUri: string;
  /** Tokens issued by the token endpoint, in order. */
  readonly tokens: IssuedToken[];
  readonly port: number;
  /** Creates the bucket if needed and stores an object (test setup, not an HTTP call). */
  put(bucket: string, name: string, data: Buffer): void;
  /** Storage requests received, by method and path (token requests are in `tokens`). */
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
      crc32c: crc32cBase64(data),
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

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as GCS reports it: base64, big-endian. */
const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});
export function crc32cBase64(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString('base64');
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
    crc32c: o.crc32c,
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

/** A `fields` selection: each name picked, with the selection below it (`b(c,d)`), or all of it. */
type Selection = Map<string, Selection | undefined>;

/** Parses `a,b(c,d)`; throws on unbalanced parentheses. */
export function parseFields(fields: string): Selection {
  let i = 0;
  const level = (): Selection => {
    const out: Selection = new Map();
    let name = '';
    const flush = (sub?: Selection): void => {
      if (name.trim() !== '') out.set(name.trim(), sub);
      name = '';
    };
    while (i < fields.length) {
      const c = fields[i++]!;
      if (c === ',') flush();
      else if (c === '(') {
        const n = name;
        const sub = level();
        if (fields[i - 1] !== ')') throw new Error(`unbalanced fields: ${fields}`);
        name = n;
        flush(sub);
        if (fields[i] === ',') i++;
      } else if (c === ')') {
        flush();
        return out;
      } else name += c;
    }
    flush();
    return out;
  };
  const top = level();
  if (i < fields.length) throw new Error(`unbalanced fields: ${fields}`);
  return top;
}

function select(value: unknown, sel: Selection): unknown {
  if (Array.isArray(value)) return value.map((v) => select(v, sel));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, sub] of sel) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = sub ? select(v, sub) : v;
  }
  return out;
}

function sendJson(res: ServerResponse, value: unknown, fields?: string | null): void {
  const body = JSON.stringify(fields ? select(value, parseFields(fields)) : value);
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
  sendJson(res, out, q.get('fields'));
}

function media(req: IncomingMessage, res: ServerResponse, o: StoredObject): void {
  let data = o.data;
  let status = 200;
  const headers: Record<string, string | number> = {
    'content-type': o.contentType,
    'x-goog-generation': o.generation,
    'x-goog-stored-content-encoding': 'identity',
    'x-goog-stored-content-length': o.data.length,
    'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5}`,
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

const b64urlJson = (part: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/** Checks a JWT-bearer assertion; the reason it is refused, or undefined when it is good. */
function refusal(assertion: string, auth: GcsServerAuth, tokenUri: string): string | undefined {
  const parts = assertion.split('.');
  if (parts.length !== 3)
    return 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe';
  const [head, body, sig] = parts as [string, string, string];
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = b64urlJson(head);
    claims = b64urlJson(body);
  } catch {
    return 'Invalid JWT';
  }
  if (header['alg'] !== 'RS256') return 'Invalid JWT: unsupported algorithm';
  if (!verify('RSA-SHA256', Buffer.from(`${head}.${body}`), auth.publicKey, Buffer.from(sig, 'base64url')))
    return 'Invalid JWT Signature.';
  if (claims['iss'] !== auth.clientEmail) return 'Invalid JWT: unknown issuer';
  if (claims['aud'] !== tokenUri) return 'Invalid JWT: audience is not this token endpoint';
  const now = Date.now() / 1000;
  const iat = Number(claims['iat']);
  const exp = Number(claims['exp']);
  if (!(Math.abs(iat - now) < 300 && exp > now && exp - iat <= 3600))
    return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.';
  if (typeof claims['scope'] !== 'string' || claims['scope'] === '') return 'Invalid JWT: no scope';
  return undefined;
}

export async function startGcsServer(opts: { auth?: GcsServerAuth } = {}): Promise<GcsTestServer> {
  const buckets = new Map<string, BucketStore>();
  const bucketOf = (name: string): BucketStore => {
    let b = buckets.get(name);
    if (!b) buckets.set(name, (b = new BucketStore()));
    return b;
  };
  const requests: Array<{ method: string; url: string }> = [];
  const tokens: IssuedToken[] = [];
  /** Access token -> when it expires (epoch ms). */
  const valid = new Map<string, number>();
  let tokenUri = '';

  const token = async (req: IncomingMessage, res: ServerResponse, auth: GcsServerAuth): Promise<void> => {
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const refused = (description: string): void => {
      const body = JSON.stringify({ error: 'invalid_grant', error_description: description });
      res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
      res.end(body);
    };
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return refused('Invalid grant_type');
    const why = refusal(form.get('assertion') ?? '', auth, tokenUri);
    if (why) return refused(why);
    const claims = b64urlJson(form.get('assertion')!.split('.')[1]!);
    const lifetime = auth.tokenLifetimeS ?? 3600;
    const access = randomBytes(24).toString('base64url');
    valid.set(access, Date.now() + lifetime * 1000);
    tokens.push({ scope: String(claims['scope']), aud: String(claims['aud']), at: Date.now() });
    sendJson(res, { access_token: access, expires_in: lifetime, token_type: 'Bearer' });
  };

  const authorized = (req: IncomingMessage): boolean => {
    const m = /^Bearer (\S+)$/.exec(req.headers['authorization'] ?? '');
    const expires = m ? valid.get(m[1]!) : undefined;
    return expires !== undefined && expires > Date.now();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (opts.auth && url.pathname === '/token' && req.method === 'POST') return token(req, res, opts.auth);
    requests.push({ method: req.method ?? 'GET', url: url.pathname + url.search });
    if (opts.auth && !authorized(req)) return sendError(res, 401, 'Invalid Credentials', 'authError');
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
      return sendJson(res, resource(bucket, name, obj), q.get('fields'));
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
    return sendJson(res, resource(bucketName, name, obj), q.get('fields'));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => sendError(res, 500, err.message, 'backendError'));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  tokenUri = `http://127.0.0.1:${port}/token`;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    tokenUri,
    tokens,
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
