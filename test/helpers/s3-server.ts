/**
 * s3rver started in-process on an ephemeral 127.0.0.1 port, for tests and benchmarks.
 *
 * s3rver 3.7 has two defects that matter to a walker: its ListObjectsV2 continuation tokens use DES,
 * which OpenSSL 3 (Node 20) refuses, and it lists keys in on-disk order, where `tag/…` sorts before
 * `tag-x/…` although S3 lists bytewise (`-` < `/`). Both are fixed here by answering list-type=2
 * requests from our own key enumeration over s3rver's store; everything else is s3rver's.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareBytewise } from '../../drivers/paths.js';

const require = createRequire(import.meta.url);

export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET_KEY = 'S3RVER';

export interface S3TestServer {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** List requests answered so far (list-type=2). */
  listRequests(): number;
  /**
   * What ListObjectsV2 reports as the ETag of `key` from now on: a string (e.g. the `"<hex>-<parts>"`
   * of a multipart upload, which s3rver does not make) or undefined for none. Reads are unchanged.
   */
  setListedETag(key: string, etag: string | undefined): void;
  close(): Promise<void>;
}

const OBJECT_SUFFIX = '._S3rver_object';

interface KoaLikeContext {
  query: Record<string, string | undefined>;
  params: { bucket: string };
  body: unknown;
  store: {
    getBucketPath(bucket: string): string;
    getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
  };
}

let listCount = 0;
let patched = false;
/** ETags ListObjectsV2 reports instead of s3rver's, by bucket directory and key (see setListedETag). */
const listedETags = new Map<string, string | undefined>();
const etagKey = (bucketPath: string, key: string): string => `${bucketPath}\0${key}`;

/** Keys below `dir` (on disk) in bytewise key order, skipping subtrees wholly before `after`. */
function* orderedKeys(dir: string, keyBase: string, prefix: string, after: string): Generator<string> {
  const entries: Array<{ sortKey: string; key: string; dir?: string }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      const key = `${keyBase}${e.name}/`;
      entries.push({ sortKey: key, key, dir: join(dir, e.name) });
    } else if (e.name.endsWith(OBJECT_SUFFIX)) {
      const key = keyBase + e.name.slice(0, -OBJECT_SUFFIX.length);
      entries.push({ sortKey: key, key });
    }
  }
  entries.sort((a, b) => compareBytewise(a.sortKey, b.sortKey));
  for (const e of entries) {
    if (e.dir !== undefined) {
      // Only descend where the prefix can match and something may sort after `after`.
      if (!(e.key.startsWith(prefix) || prefix.startsWith(e.key))) continue;
      if (after !== '' && compareBytewise(e.key, after) <= 0 && !after.startsWith(e.key)) continue;
      yield* orderedKeys(e.dir, e.key, prefix, after);
    } else {
      if (!e.key.startsWith(prefix) || compareBytewise(e.key, after) <= 0) continue;
      yield e.key;
    }
  }
}

function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ after }), 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  return (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after: string }).after;
}

async function listObjectsV2(ctx: KoaLikeContext): Promise<void> {
  listCount++;
  const q = ctx.query;
  const prefix = q['prefix'] ?? '';
  const delimiter = q['delimiter'] ?? '';
  const maxKeys = Math.min(1000, q['max-keys'] !== undefined ? Number(q['max-keys']) : 1000);
  const token = q['continuation-token'];
  const after = token ? decodeToken(token) : (q['start-after'] ?? '');
  const keys: string[] = [];
  const prefixes: string[] = [];
  let last = '';
  let truncated = false;
  let skip: string | undefined;
  for (const key of orderedKeys(ctx.store.getBucketPath(ctx.params.bucket), '', prefix, after)) {
    if (skip !== undefined && key.startsWith(skip)) continue;
    skip = undefined;
    if (keys.length + prefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (cut >= 0) {
      const common = key.slice(0, cut + delimiter.length);
      prefixes.push(common);
      skip = common;
      // Resume after every key of this common prefix.
      last = `${common}\u{10FFFF}`;
    } else {
      keys.push(key);
      last = key;
    }
  }
  const metadata = await Promise.all(keys.map((k) => ctx.store.getMetadata(ctx.params.bucket, k)));
  const bucketPath = ctx.store.getBucketPath(ctx.params.bucket);
  const etagOf = (key: string, stored: string | undefined): string | undefined => {
    const k = etagKey(bucketPath, key);
    return listedETags.has(k) ? listedETags.get(k) : stored;
  };
  ctx.body = {
    ListBucketResult: {
      '@': { xmlns: 'http://doc.s3.amazonaws.com/2006-03-01/' },
      Name: ctx.params.bucket,
      Prefix: prefix,
      StartAfter: token ? undefined : q['start-after'],
      ContinuationToken: token,
      NextContinuationToken: truncated ? encodeToken(last) : undefined,
      KeyCount: keys.length + prefixes.length,
      MaxKeys: maxKeys,
      Delimiter: delimiter || undefined,
      IsTruncated: truncated,
      Contents: keys.map((key, i) => ({
        Key: key,
        LastModified: new Date(metadata[i]!['last-modified']!).toISOString(),
        ETag: etagOf(key, metadata[i]!['etag']),
        Size: Number(metadata[i]!['content-length']),
        StorageClass: 'STANDARD',
      })),
      CommonPrefixes: prefixes.map((p) => ({ Prefix: p })),
    },
  };
}

function patchListing(): void {
  if (patched) return;
  patched = true;
  const bucketCtrl = require('s3rver/lib/controllers/bucket.js') as {
    getBucket: (ctx: KoaLikeContext) => Promise<void>;
  };
  const original = bucketCtrl.getBucket;
  bucketCtrl.getBucket = (ctx) => (ctx.query['list-type'] === '2' ? listObjectsV2(ctx) : original(ctx));
}

export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3TestServer> {
  patchListing();
  const S3rver = require('s3rver') as new (options: Record<string, unknown>) => {
    run(): Promise<{ port: number }>;
    close(): Promise<void>;
    httpServer?: { closeAllConnections(): void };
  };
  const bucket = opts.bucket ?? 'registry';
  const directory = mkdtempSync(join(tmpdir(), 'regdb-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const startCount = listCount;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    listRequests: () => listCount - startCount,
    setListedETag: (key, etag) => void listedETags.set(etagKey(join(directory, bucket), key), etag),
    async close() {
      // SDK clients keep sockets alive; without dropping them close() waits for their idle timeout.
      server.httpServer?.closeAllConnections();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
