/**
 * Storage reads shared by the repositories of a run: blob payloads de-duplicated by digest (manifests
 * and configs are content-addressed, so one read serves every repository of a batch), link files, and
 * blob existence checks remembered in a bounded cache (layers are shared across repositories).
 */
import { ContentTooLargeError, PathNotFoundError } from '../../drivers/errors.js';
import type { StorageDriver } from '../../drivers/driver.js';
import { formatDigest, parseLink, type Digest, type DigestParseResult } from '../registry/digest.js';
import { blobDataPath } from '../registry/paths.js';
import { MANIFEST_SIZE_LIMIT } from '../registry/manifest.js';

export type BlobRead =
  | { readonly kind: 'payload'; readonly payload: Buffer }
  | { readonly kind: 'missing' }
  | { readonly kind: 'too-large' };

/** Small bounded map with least-recently-inserted eviction. */
class BoundedSet {
  private readonly items = new Set<string>();
  constructor(private readonly max: number) {}
  has(k: string): boolean {
    return this.items.has(k);
  }
  add(k: string): void {
    if (this.items.size >= this.max) {
      const first = this.items.values().next();
      if (!first.done) this.items.delete(first.value);
    }
    this.items.add(k);
  }
}

export class StorageReads {
  /** Payload reads of the current batch, by digest; reset between batches to bound memory. */
  private payloads = new Map<string, Promise<BlobRead>>();
  private readonly existing = new BoundedSet(200_000);

  constructor(
    readonly driver: StorageDriver,
    private readonly signal?: AbortSignal,
  ) {}

  /** Forget the payloads of the batch just written. */
  nextBatch(): void {
    this.payloads = new Map();
  }

  /** A blob's content, capped at 4 MiB (spec §1.5 step 3), read once per batch. */
  blob(digest: Digest): Promise<BlobRead> {
    const key = formatDigest(digest);
    let p = this.payloads.get(key);
    if (p === undefined) {
      p = this.readBlob(digest);
      this.payloads.set(key, p);
    }
    return p;
  }

  private async readBlob(digest: Digest): Promise<BlobRead> {
    try {
      const payload = await this.driver.getContent(blobDataPath(digest), {
        maxBytes: MANIFEST_SIZE_LIMIT,
        signal: this.signal,
      });
      this.existing.add(formatDigest(digest));
      return { kind: 'payload', payload };
    } catch (err) {
      if (err instanceof PathNotFoundError) return { kind: 'missing' };
      if (err instanceof ContentTooLargeError) return { kind: 'too-large' };
      throw err;
    }
  }

  /** Does the blob's data exist? A directory at that path does not count (spec §1.5 step 2). */
  async blobExists(digest: Digest): Promise<boolean> {
    const key = formatDigest(digest);
    if (this.existing.has(key)) return true;
    try {
      const info = await this.driver.stat(blobDataPath(digest), { signal: this.signal });
      if (info.isDir) return false;
      this.existing.add(key);
      return true;
    } catch (err) {
      if (err instanceof PathNotFoundError) return false;
      throw err;
    }
  }

  /** A link file's parsed content; null when it does not exist. */
  async link(path: string): Promise<DigestParseResult | null> {
    try {
      return parseLink(await this.driver.getContent(path, { maxBytes: 4096, signal: this.signal }));
    } catch (err) {
      if (err instanceof PathNotFoundError) return null;
      if (err instanceof ContentTooLargeError) {
        return parseLink(Buffer.from('x'.repeat(4097)));
      }
      throw err;
    }
  }
}
