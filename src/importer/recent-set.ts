/**
 * A bounded set that keeps what was used recently: two generations of at most `size` keys each.
 * A key found in the older generation moves to the newer one; when the newer one is full, the older
 * one is dropped whole. Memory stays within 2 x `size` keys, and a key asked for at least once per
 * `size` insertions is never dropped. Used for facts shared by many repositories (blob existence),
 * where an exact LRU's per-entry bookkeeping would cost more than the keys themselves.
 */
export class RecentSet {
  private newer = new Set<string>();
  private older = new Set<string>();

  constructor(private readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`RecentSet size must be >= 1, got ${size}`);
  }

  has(key: string): boolean {
    if (this.newer.has(key)) return true;
    if (!this.older.has(key)) return false;
    this.older.delete(key);
    this.add(key);
    return true;
  }

  add(key: string): void {
    if (this.newer.has(key)) return;
    if (this.newer.size >= this.size) {
      this.older = this.newer;
      this.newer = new Set();
    }
    this.newer.add(key);
  }

  /** Keys held now (at most 2 x size). */
  get count(): number {
    return this.newer.size + this.older.size;
  }
}
