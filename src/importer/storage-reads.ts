/**
 * Storage reads shared by the repositories of a run: blob payloads de-duplicated by digest in a
 * byte-bounded cache (manifests and configs are content-addressed, so one read serves every
 * repository), link files, and blob existence checks in a bounded cache (layers are shared).
 * Caches fill only from their own kind of request, so request counts do not depend on timing.
 */
import {
  ContentTooLargeError,
  InvalidPathError,
  PathNotFoundError,
  UnreadablePathError,
} from '../../drivers/errors.js';
import type { FileInfo, StorageDriver } from '../../drivers/driver.js';
import { formatDigest, parseLink, type Digest, type DigestParseResult } from '../registry/digest.js';
import { BLOBS_ROOT, blobDataPath } from '../registry/paths.js';
import { MANIFEST_SIZE_LIMIT } from '../registry/manifest.js';
import { withListedLayers, type Repository, type RepositoryProblem } from '../registry/repositories.js';
import { RecentDigestSet } from './digest-set.js';

export type BlobRead =
  | { readonly kind: 'payload'; readonly payload: Buffer }
  | { readonly kind: 'missing' }
  | { readonly kind: 'too-large' };

/**
 * The bytes in a buffer of their own. A driver's small result is usually a slice of a shared block
 * (Node's 8 KiB buffer pool, a response chunk): kept in the payload cache or a batch, a 1 KB manifest
 * would keep that whole block alive. Measured: 8 MiB of cached payloads held 38 MB of blocks.
 */
export function ownBytes(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  const own = Buffer.allocUnsafeSlow(b.length);
  b.copy(own);
  return own;
}

export class StorageReads {
  /** Payload reads of the current batch, by digest; reset between batches to bound memory. */
  private readonly payloads = new Map<string, Promise<BlobRead>>();
  /** Bytes held by `payloads`; the oldest entries go beyond PAYLOAD_CACHE_BYTES. */
  private payloadBytes = 0;
  private readonly sizes = new Map<string, number>();
  private static readonly PAYLOAD_CACHE_BYTES = 8 << 20;
  /**
   * Blob existence checks by digest, shared by every repository of the run (layers are shared):
   * answers kept in fixed-size sets of recently used digests (memory must not grow with the registry),
   * checks in flight shared by whoever asks meanwhile. Only stats fill them. Up to 500,000 existing
   * blobs remembered (at most ~20 MB, resident as it fills): a registry's shared layers must fit, or
   * each reuse is a stat again (digest-set.ts).
   */
  private readonly existing = new RecentDigestSet(250_000);
  private readonly missing = new RecentDigestSet(5_000);
  private readonly checking = new Map<string, Promise<boolean>>();
  /**
   * Object stores only: blob shards (`blobs/sha256/<ab>`) listed once, as the sorted 32-byte digests
   * whose `data` object exists, so an existence check costs no request of its own (issue 12 §5). A
   * shard of more than SHARD_KEYS objects is not kept (undefined): its blobs are checked by stat, and
   * memory stays within 256 x SHARD_KEYS x 32 bytes (8 MB).
   */
  private readonly shards = new Map<string, Promise<Buffer | undefined>>();
  private static readonly SHARD_KEYS = 1000;
  /** Shard listings start after this many checks: with fewer, one stat per blob is no dearer. */
  private static readonly SHARD_AFTER = 16;
  private checks = 0;

  constructor(
    readonly driver: StorageDriver,
    private readonly signal?: AbortSignal,
    /**
     * Told of an entry that cannot be read (outside the root, permission, symlink loop, FIFO): a
     * fault of that item alone, which then reads as missing. Without it such a fault fails the read.
     */
    private readonly onUnreadable?: (path: string, reason: string) => void,
  ) {}

  /** An item's own fault, reported; the item then counts as missing. False: let it fail the read. */
  private unreadable(err: unknown): boolean {
    if (this.onUnreadable === undefined) return false;
    if (err instanceof InvalidPathError || err instanceof UnreadablePathError) {
      this.onUnreadable(err.path, err.reason);
      return true;
    }
    return false;
  }

  /**
   * A blob's content, capped at 4 MiB (spec §1.5 step 3), read once per batch. `priority` (here and
   * below): the requesting repository's place in the walk (CallOptions.priority); a read shared by
   * several goes at the first one's.
   */
  blob(digest: Digest, priority?: number): Promise<BlobRead> {
    const key = formatDigest(digest);
    let p = this.payloads.get(key);
    if (p === undefined) {
      p = this.readBlob(digest, priority);
      this.payloads.set(key, p);
      p.then(
        (r) => this.account(key, r.kind === 'payload' ? r.payload.length : 0),
        () => this.payloads.delete(key),
      );
    } else {
      // Used again: evicted last (the budget drops the least recently used payloads first).
      const size = this.sizes.get(key);
      if (size !== undefined) {
        this.sizes.delete(key);
        this.sizes.set(key, size);
      }
    }
    return p;
  }

  /** Keeps the cache within its byte budget, dropping the least recently used payloads first. */
  private account(key: string, size: number): void {
    if (!this.payloads.has(key)) return;
    this.sizes.set(key, size);
    this.payloadBytes += size;
    for (const [k] of this.sizes) {
      if (this.payloadBytes <= StorageReads.PAYLOAD_CACHE_BYTES) break;
      this.payloadBytes -= this.sizes.get(k) ?? 0;
      this.sizes.delete(k);
      this.payloads.delete(k);
    }
  }

  private async readBlob(digest: Digest, priority: number | undefined): Promise<BlobRead> {
    try {
      const read = await this.driver.getContent(blobDataPath(digest), {
        maxBytes: MANIFEST_SIZE_LIMIT,
        signal: this.signal,
        priority,
      });
      return { kind: 'payload', payload: ownBytes(read) };
    } catch (err) {
      if (err instanceof PathNotFoundError) return { kind: 'missing' };
      if (err instanceof ContentTooLargeError) return { kind: 'too-large' };
      if (this.unreadable(err)) return { kind: 'missing' };
      throw err;
    }
  }

  /** Does the blob's data exist? A directory at that path does not count (spec §1.5 step 2). */
  blobExists(digest: Digest, priority?: number): Promise<boolean> {
    const key = formatDigest(digest);
    if (this.existing.has(digest)) return Promise.resolve(true);
    if (this.missing.has(digest)) return Promise.resolve(false);
    let p = this.checking.get(key);
    if (p === undefined) {
      p = this.checkBlob(digest, priority);
      this.checking.set(key, p);
      // A failed stat is not remembered: the next repository asks again.
      p.then(
        (exists) => {
          this.checking.delete(key);
          (exists ? this.existing : this.missing).add(digest);
        },
        () => this.checking.delete(key),
      );
    }
    return p;
  }

  private async checkBlob(digest: Digest, priority: number | undefined): Promise<boolean> {
    if (
      this.driver.directoryWalk ||
      digest.algorithm !== 'sha256' ||
      ++this.checks <= StorageReads.SHARD_AFTER
    )
      return this.statBlob(digest, priority);
    const name = digest.hex.slice(0, 2);
    let shard = this.shards.get(name);
    if (shard === undefined) {
      shard = this.listShard(name);
      this.shards.set(name, shard);
      shard.catch(() => this.shards.delete(name));
    }
    const listed = await shard;
    if (listed === undefined) return this.statBlob(digest, priority);
    const want = Buffer.from(digest.hex, 'hex');
    let lo = 0;
    let hi = listed.length / 32;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = listed.compare(want, 0, 32, mid * 32, mid * 32 + 32);
      if (c === 0) return true;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  /** The sorted digests of one shard whose `data` object exists; undefined when the shard is large. */
  private async listShard(name: string): Promise<Buffer | undefined> {
    const dir = `${BLOBS_ROOT}/sha256/${name}`;
    const found: Buffer[] = [];
    let files = 0;
    try {
      for await (const f of this.driver.walk(dir, { signal: this.signal })) {
        if (++files > StorageReads.SHARD_KEYS) return undefined;
        // `<dir>/<hex>/data`: anything else (a `data` directory, other files) proves nothing.
        const rest = f.path.slice(dir.length + 1);
        if (rest.length === 69 && rest.endsWith('/data') && /^[0-9a-f]{64}$/.test(rest.slice(0, 64))) {
          found.push(Buffer.from(rest.slice(0, 64), 'hex'));
        }
      }
    } catch (err) {
      if (err instanceof PathNotFoundError) return Buffer.alloc(0);
      throw err;
    }
    return Buffer.concat(found.sort(Buffer.compare));
  }

  private async statBlob(digest: Digest, priority: number | undefined): Promise<boolean> {
    try {
      const info = await this.driver.stat(blobDataPath(digest), { signal: this.signal, priority });
      return !info.isDir;
    } catch (err) {
      if (err instanceof PathNotFoundError || this.unreadable(err)) return false;
      throw err;
    }
  }

  /** The repository with its `_layers` listed (a walk of that folder; none there: no layer links). */
  async repositoryLayers(
    repo: Repository,
  ): Promise<{ repository: Repository; problems: RepositoryProblem[] }> {
    if (repo.layersListed) return { repository: repo, problems: [] };
    const driver = this.driver;
    const signal = this.signal;
    const onUnreadable = this.onUnreadable;
    const unreadable = (err: unknown): boolean => this.unreadable(err);
    async function* files(): AsyncGenerator<FileInfo> {
      let any = false;
      try {
        for await (const f of driver.walk(`${repo.path}/_layers`, { signal, onUnreadable })) {
          any = true;
          yield f;
        }
      } catch (err) {
        // Nothing below `_layers` (or no such folder): a repository without layer links. An
        // unreadable `_layers` (reported) gives none either.
        if (any || !(err instanceof PathNotFoundError || unreadable(err))) throw err;
      }
    }
    return withListedLayers(repo, files());
  }

  /** A link file's parsed content; null when it does not exist. */
  async link(path: string, priority?: number): Promise<DigestParseResult | null> {
    try {
      return parseLink(await this.driver.getContent(path, { maxBytes: 4096, signal: this.signal, priority }));
    } catch (err) {
      if (err instanceof PathNotFoundError || this.unreadable(err)) return null;
      if (err instanceof ContentTooLargeError) {
        return parseLink(Buffer.from('x'.repeat(4097)));
      }
      throw err;
    }
  }
}
