/**
 * drivers/adaptive-limit.ts: grows while latency holds, halves on throttling, never over the cap, and
 * serves waiting requests by priority (drivers/priority-queue.ts).
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../drivers/adaptive-limit.js';
import { PriorityQueue } from '../../drivers/priority-queue.js';

/** A clock the test moves, and a request that "takes" `ms` of it. */
function clocked(): { now: () => number; request: (ms: number) => () => Promise<void> } {
  let t = 0;
  return {
    now: () => t,
    request: (ms) => async () => {
      await Promise.resolve();
      t += ms;
    },
  };
}

async function runWindow(limit: AdaptiveLimit, request: () => Promise<void>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await limit.run(request);
}

describe('AdaptiveLimit', () => {
  it('grows towards the cap while latency holds, and stops at the cap', async () => {
    const c = clocked();
    const limit = new AdaptiveLimit({ max: 64, initial: 8, now: c.now });
    const seen: number[] = [limit.limit];
    for (let w = 0; w < 20; w++) {
      await runWindow(limit, c.request(30), limit.limit);
      seen.push(limit.limit);
    }
    expect(seen[0]).toBe(8);
    expect(seen[1]).toBeGreaterThan(8);
    expect(Math.max(...seen)).toBe(64);
    expect(seen[seen.length - 1]).toBe(64);
  });

  it('does not grow when latency rises well above the best seen', async () => {
    const c = clocked();
    const limit = new AdaptiveLimit({ max: 64, initial: 8, now: c.now });
    await runWindow(limit, c.request(10), 8); // best 10 ms: grows to 10
    const after = limit.limit;
    await runWindow(limit, c.request(100), after); // 10x slower: holds
    expect(limit.limit).toBe(after);
  });

  it('halves on throttling, not below its floor', () => {
    const limit = new AdaptiveLimit({ max: 64, initial: 32, min: 4 });
    limit.throttled();
    expect(limit.limit).toBe(16);
    for (let i = 0; i < 10; i++) limit.throttled();
    expect(limit.limit).toBe(4);
  });

  it('never has more in flight than allowed', async () => {
    const limit = new AdaptiveLimit({ max: 5, initial: 3 });
    let inFlight = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 40 }, () =>
        limit.run(async () => {
          inFlight++;
          most = Math.max(most, inFlight);
          await new Promise((r) => setTimeout(r, 2));
          inFlight--;
        }),
      ),
    );
    expect(most).toBeLessThanOrEqual(5);
    expect(limit.maxInFlight).toBe(most);
  });

  it('hands free slots to waiting requests lowest priority number first, in arrival order among equals', async () => {
    const limit = new AdaptiveLimit({ max: 1, min: 1, initial: 1 });
    const order: string[] = [];
    let release!: () => void;
    const blocker = limit.run(() => new Promise<void>((r) => (release = r)));
    const waiting = [
      limit.run(async () => void order.push('p5'), 5),
      limit.run(async () => void order.push('p2a'), 2),
      limit.run(async () => void order.push('default')),
      limit.run(async () => void order.push('p2b'), 2),
      limit.run(async () => void order.push('p9'), 9),
    ];
    release();
    await Promise.all([blocker, ...waiting]);
    expect(order).toEqual(['default', 'p2a', 'p2b', 'p5', 'p9']);
  });
});

describe('PriorityQueue', () => {
  it('gives items back lowest priority first, first in first out among equals', () => {
    const q = new PriorityQueue<string>();
    // A shuffled sequence with repeated priorities, checked against a stable sort done here.
    const items = Array.from({ length: 200 }, (_, i) => ({ name: `i${i}`, priority: (i * 37) % 11 }));
    for (const it of items) q.push(it.name, it.priority);
    expect(q.size).toBe(200);
    const out: string[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    const expected = [...items].sort((a, b) => a.priority - b.priority).map((x) => x.name);
    expect(out).toEqual(expected);
    expect(q.size).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  it('keeps its order when pushes and shifts interleave', () => {
    const q = new PriorityQueue<number>();
    q.push(30, 3);
    q.push(10, 1);
    expect(q.shift()).toBe(10);
    q.push(20, 2);
    q.push(5, 0);
    q.push(31, 3);
    expect([q.shift(), q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([5, 20, 30, 31, undefined]);
  });
});
