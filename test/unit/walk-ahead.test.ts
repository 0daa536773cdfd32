/**
 * The next step's walk started early (src/importer/walk-ahead.ts): it lists before the step takes
 * it, holds a bounded number of entries ahead, hands over every entry in order, fails where the walk
 * failed, and stops the walk when nobody takes it or the step stops early.
 */
import { describe, expect, it } from 'vitest';
import { WalkAhead } from '../../src/importer/walk-ahead.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A walk of `n` numbered entries that records how far it was pulled and whether it was stopped. */
function countingWalk(n: number, failAt?: number) {
  const seen = { pulled: 0, returned: false, opened: 0 };
  async function* walk(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < n; i++) {
        if (i === failAt) throw new Error(`listing failed at ${i}`);
        seen.pulled = i + 1;
        yield i;
        await tick();
      }
    } finally {
      seen.returned = true;
    }
  }
  return {
    seen,
    open: async () => {
      seen.opened++;
      return walk();
    },
  };
}

async function collect<T>(it: AsyncIterable<T>, limit = Infinity): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length >= limit) break;
  }
  return out;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await tick();
}

describe('WalkAhead', () => {
  it('lists before the step takes it, at most maxItems ahead', async () => {
    const w = countingWalk(100);
    const ahead = new WalkAhead(w.open, 10);
    await settle();
    expect(w.seen.opened).toBe(0); // nothing before start()
    ahead.start();
    await settle();
    expect(w.seen.pulled).toBe(10);
    expect(await collect(ahead)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(w.seen.returned).toBe(true);
    expect(w.seen.opened).toBe(1);
  });

  it('never holds more than twice maxItems while the step consumes', async () => {
    const w = countingWalk(200);
    const ahead = new WalkAhead(w.open, 8);
    let most = 0;
    let consumed = 0;
    for await (const x of ahead) {
      expect(x).toBe(consumed);
      consumed++;
      most = Math.max(most, w.seen.pulled - consumed);
      if (consumed % 7 === 0) for (let i = 0; i < 20; i++) await tick();
    }
    expect(consumed).toBe(200);
    expect(most).toBeLessThanOrEqual(16);
    expect(most).toBeGreaterThanOrEqual(8);
  });

  it('starts on first use when nobody started it', async () => {
    const w = countingWalk(5);
    expect(await collect(new WalkAhead(w.open, 2))).toEqual([0, 1, 2, 3, 4]);
  });

  it('fails where the walk failed, after the entries before it', async () => {
    const w = countingWalk(50, 30);
    const ahead = new WalkAhead(w.open, 100);
    ahead.start();
    await settle();
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const x of ahead) got.push(x);
      })(),
    ).rejects.toThrow('listing failed at 30');
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('fails when opening the walk fails (its resume point could not be read)', async () => {
    const ahead = new WalkAhead<number>(async () => {
      throw new Error('resume state: connection refused');
    });
    ahead.start();
    await settle();
    await expect(collect(ahead)).rejects.toThrow('resume state: connection refused');
  });

  it('stop() ends a walk nobody takes', async () => {
    const w = countingWalk(1000);
    const ahead = new WalkAhead(w.open, 1000);
    ahead.start();
    await tick();
    ahead.stop();
    await settle();
    expect(w.seen.returned).toBe(true);
    expect(w.seen.pulled).toBeLessThan(1000);
  });

  it('a step that stops early stops the walk', async () => {
    const w = countingWalk(1000);
    const ahead = new WalkAhead(w.open, 4);
    expect(await collect(ahead, 3)).toEqual([0, 1, 2]);
    await settle();
    expect(w.seen.returned).toBe(true);
    expect(w.seen.pulled).toBeLessThan(20);
  });

  it('is taken once', async () => {
    const ahead = new WalkAhead(countingWalk(3).open);
    await collect(ahead);
    await expect(collect(ahead)).rejects.toThrow('taken once');
  });
});
