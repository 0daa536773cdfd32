/**
 * A small seeded pseudo-random generator for the synthetic corpus: the same seed and stream give the
 * same sequence on every platform (32-bit integer arithmetic only), so generated trees are byte-identical.
 */

/** murmur3's 32-bit finaliser: spreads the bits of a 32-bit integer. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a list of integers into one 32-bit seed (order matters). */
export function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h = mix32((h ^ (v >>> 0)) + 0x6d2b79f5);
    h = mix32(h ^ Math.floor(v / 0x100000000));
  }
  return h;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Fills a buffer with pseudo-random bytes. */
  bytes(n: number): Buffer;
}

/**
 * mulberry32 seeded from the hash of `seed` and the stream labels: independent streams (one per
 * repository, say) stay stable when other streams consume more or fewer numbers.
 */
export function createRng(...seedParts: number[]): Rng {
  let state = hashInts(...seedParts);
  const nextU32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    next: () => nextU32() / 0x100000000,
    int: (n) => Math.floor((nextU32() / 0x100000000) * n),
    chance: (p) => nextU32() / 0x100000000 < p,
    bytes: (n) => {
      const buf = Buffer.allocUnsafe(n);
      let i = 0;
      for (; i + 4 <= n; i += 4) buf.writeUInt32LE(nextU32(), i);
      for (; i < n; i++) buf[i] = nextU32() & 0xff;
      return buf;
    },
  };
}
