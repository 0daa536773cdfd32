import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RecentDigestSet } from '../../src/importer/digest-set.js';
import type { Digest } from '../../src/registry/digest.js';

const sha256 = (s: string): Digest => ({
  algorithm: 'sha256',
  hex: createHash('sha256').update(s).digest('hex'),
});
/** sha256 digests that all hash to the same slot (same first four bytes), differing at the end. */
const sameSlot = (i: number, first = 'ffffffff'): Digest => ({
  algorithm: 'sha256',
  hex: first + i.toString(16).padStart(56, '0'),
});

describe('RecentDigestSet', () => {
  it('answers exactly, like a Set, while it holds every digest added', () => {
    const s = new RecentDigestSet(5_000);
    const inside = Array.from({ length: 5_000 }, (_, i) => sha256(`in${i}`));
    for (const d of inside) s.add(d);
    expect(inside.every((d) => s.has(d))).toBe(true);
    const outside = Array.from({ length: 20_000 }, (_, i) => sha256(`out${i}`));
    expect(outside.filter((d) => s.has(d))).toEqual([]);
    expect(s.count).toBe(5_000);
  });

  it('tells apart digests that probe the same slots, also across the end of the table', () => {
    const s = new RecentDigestSet(64);
    // 'ffffffff' is the last slot of any table: the chain wraps around to slot 0.
    for (let i = 0; i < 40; i += 2) s.add(sameSlot(i));
    for (let i = 0; i < 40; i++) expect(s.has(sameSlot(i))).toBe(i % 2 === 0);
    expect(s.has(sameSlot(0, '00000000'))).toBe(false);
  });

  it('holds at most two generations and drops the older one whole', () => {
    const s = new RecentDigestSet(2);
    const d = ['a', 'b', 'c', 'd', 'e'].map(sha256);
    for (const x of d) s.add(x);
    // newer = {e}, older = {c, d}: a and b went with the first generation.
    expect(s.count).toBe(3);
    expect(d.map((x) => s.has(x))).toEqual([false, false, true, true, true]);
  });

  it('keeps a digest that is asked for, however many others come after it', () => {
    const s = new RecentDigestSet(3);
    const hot = sha256('hot');
    s.add(hot);
    for (let i = 0; i < 100; i++) {
      s.add(sha256(`k${i}`));
      expect(s.has(hot)).toBe(true);
    }
    expect(s.count).toBeLessThanOrEqual(6);
    expect(s.has(sha256('k0'))).toBe(false);
  });

  it('adding a digest twice takes one place', () => {
    const s = new RecentDigestSet(2);
    s.add(sha256('a'));
    s.add(sha256('a'));
    s.add(sha256('b'));
    expect(s.count).toBe(2);
    expect(s.has(sha256('a')) && s.has(sha256('b'))).toBe(true);
  });

  it('keeps sha512 digests too, apart from sha256 ones with the same leading hex', () => {
    const s = new RecentDigestSet(10);
    const long: Digest = { algorithm: 'sha512', hex: createHash('sha512').update('x').digest('hex') };
    const short: Digest = { algorithm: 'sha256', hex: long.hex.slice(0, 64) };
    s.add(long);
    expect(s.has(long)).toBe(true);
    expect(s.has(short)).toBe(false);
    s.add(short);
    expect(s.has(short)).toBe(true);
    expect(s.count).toBe(2);
  });

  it('refuses a size below one', () => {
    expect(() => new RecentDigestSet(0)).toThrow('RecentDigestSet size must be >= 1, got 0');
  });
});
