/** drivers/adaptive-limit.ts: grows while latency holds, halves on throttling, never over the cap. */
import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../drivers/adaptive-limit.js';

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
});
