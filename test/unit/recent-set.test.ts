import { describe, expect, it } from 'vitest';
import { RecentSet } from '../../src/importer/recent-set.js';

describe('RecentSet', () => {
  it('holds at most two generations and drops the older one whole', () => {
    const s = new RecentSet(2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) s.add(k);
    // newer = {e}, older = {c, d}: a and b went with the first generation.
    expect(s.count).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => s.has(k))).toEqual([false, false, true, true, true]);
  });

  it('keeps a key that is asked for, however many others come after it', () => {
    const s = new RecentSet(3);
    s.add('hot');
    for (let i = 0; i < 100; i++) {
      s.add(`k${i}`);
      expect(s.has('hot')).toBe(true);
    }
    expect(s.count).toBeLessThanOrEqual(6);
    expect(s.has('k0')).toBe(false);
  });

  it('adding a key twice takes one place', () => {
    const s = new RecentSet(2);
    s.add('a');
    s.add('a');
    s.add('b');
    expect(s.count).toBe(2);
    expect(s.has('a') && s.has('b')).toBe(true);
  });

  it('refuses a size below one', () => {
    expect(() => new RecentSet(0)).toThrow('RecentSet size must be >= 1, got 0');
  });
});
