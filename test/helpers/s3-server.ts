/**
 * A bucket on a real S3 implementation for tests and benchmarks: Ceph's radosgw (test/helpers/ceph.ts),
 * one cluster per vitest run (test/helpers/ceph-setup.ts exports its address as REGDB_TEST_CEPH_S3),
 * a fresh bucket per server, behind a local proxy (scripts/lib/storage-proxy.ts) that counts requests
 * and can add latency or rewrite listings. radosgw lists keys in binary UTF-8 order, as AWS does.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startStorageProxy, type StorageProxy } from '../../scripts/lib/storage-proxy.js';
import { CEPH_ACCESS_KEY, CEPH_SECRET_KEY } from './ceph.js';

export const S3_ACCESS_KEY = CEPH_ACCESS_KEY;
/** Distinct from the access key: tests grep logs and errors for it. */
export const S3_SECRET_KEY = CEPH_SECRET_KEY;

/** Where the vitest global setup (or a benchmark) publishes radosgw's address. */
export const CEPH_ENDPOINT_ENV = 'REGDB_TEST_CEPH_S3';

export interface S3TestServer {
  /** http://127.0.0.1:<port> of the proxy in front of radosgw */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** List requests answered so far (list-type=2). */
  listRequests(): number;
  /** The proxy itself: request counts, most in flight, added delay. */
  readonly proxy: StorageProxy;
  /**
   * What ListObjectsV2 reports as the ETag of `key` from now on: a string (e.g. the `"<hex>-<parts>"`
   * of a multipart upload) or undefined for none. Reads are unchanged.
   */
  setListedETag(key: string, etag: string | undefined): void;
  close(): Promise<void>;
}

export interface S3ServerOptions {
  readonly bucket?: string;
  /** radosgw's address; default: $REGDB_TEST_CEPH_S3. */
  readonly target?: string;
  /** Milliseconds the proxy adds to every request. */
  readonly delayMs?: number;
  /** 'shuffled': ListObjectsV2 pages come back in a seeded random order (a store that sorts otherwise). */
  readonly listingOrder?: 'binary' | 'shuffled';
}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Deterministic shuffle (xorshift32), so a failing run can be repeated. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Rewrites a ListObjectsV2 XML body: listed ETags replaced or removed, Contents optionally shuffled. */
function rewriteListing(
  xml: string,
  etags: ReadonlyMap<string, string | undefined>,
  shuffle: boolean,
): string {
  const first = xml.indexOf('<Contents>');
  if (first < 0) return xml;
  const last = xml.lastIndexOf('</Contents>') + '</Contents>'.length;
  let blocks: string[] = [...(xml.slice(first, last).match(/<Contents>[\s\S]*?<\/Contents>/g) ?? [])];
  blocks = blocks.map((b) => {
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(b)?.[1];
    for (const [k, etag] of etags) {
      if (key !== xmlEscape(k)) continue;
      return etag === undefined
        ? b.replace(/<ETag>[\s\S]*?<\/ETag>/, '')
        : b.replace(/<ETag>[\s\S]*?<\/ETag>/, `<ETag>${xmlEscape(etag)}</ETag>`);
    }
    return b;
  });
  if (shuffle) blocks = shuffled(blocks, blocks.length * 7919 + 17);
  return xml.slice(0, first) + blocks.join('') + xml.slice(last);
}

/** A fresh bucket on radosgw behind a counting proxy. */
export async function startS3Server(opts: S3ServerOptions = {}): Promise<S3TestServer> {
  const target = opts.target ?? process.env[CEPH_ENDPOINT_ENV];
  if (!target) {
    throw new Error(
      `S3 tests need Ceph radosgw: ${CEPH_ENDPOINT_ENV} is not set (the integration project's global ` +
        'setup starts a cluster when ceph-mon, ceph-osd, radosgw and ceph-common are installed)',
    );
  }
  const bucket = opts.bucket ?? `regdb-${randomBytes(6).toString('hex')}`;
  const etags = new Map<string, string | undefined>();
  const shuffle = opts.listingOrder === 'shuffled';
  const isList = (method: string, url: URL): boolean =>
    method === 'GET' && url.searchParams.get('list-type') === '2';
  const proxy = await startStorageProxy({
    target,
    delayMs: opts.delayMs,
    rewrite: {
      wants: (method, url) => isList(method, url) && (shuffle || etags.size > 0),
      body: (_url, body) => Buffer.from(rewriteListing(body.toString('utf8'), etags, shuffle), 'utf8'),
    },
  });
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: target,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return {
    endpoint: proxy.endpoint,
    port: proxy.port,
    bucket,
    proxy,
    listRequests: () => proxy.count(isList),
    setListedETag: (key, etag) => void etags.set(key, etag),
    close: () => proxy.close(),
  };
}
