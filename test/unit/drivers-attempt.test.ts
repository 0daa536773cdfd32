import { describe, expect, it, vi } from 'vitest';
import { AttemptTimeoutError, AttemptTracker, type AttemptCancel } from '../../drivers/attempt.js';

/** An attempt that settles only when it is cancelled, rejecting with `why`. */
const hung = (cancel: AttemptCancel, why = 'cut short'): Promise<never> =>
  new Promise((_, reject) => cancel.onCancel(() => reject(new Error(why))));

describe('AttemptTracker', () => {
  it('returns what the attempt returns, and is idle afterwards', async () => {
    const t = new AttemptTracker(1000);
    await expect(t.run(undefined, async () => 42)).resolves.toBe(42);
    // No timer is left behind: an idle tracker holds nothing that keeps the process alive.
    expect((t as unknown as { timer: unknown }).timer).toBeUndefined();
  });

  it('cancels an attempt past its deadline and reports the timeout, whatever the attempt rejected with', async () => {
    const t = new AttemptTracker(40);
    const started = performance.now();
    const err = await t.run(undefined, (c) => hung(c, 'socket destroyed')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AttemptTimeoutError);
    expect((err as Error).message).toBe('request timed out after 40 ms');
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });

  it("cancels on the caller's abort with the caller's reason, only the attempts of that caller", async () => {
    const t = new AttemptTracker(60_000);
    const a = new AbortController();
    const b = new AbortController();
    let bCancelled = false;
    const first = t.run(a.signal, (c) => hung(c)).catch((e: unknown) => e);
    const second = t.run(a.signal, (c) => hung(c)).catch((e: unknown) => e);
    const other = t.run(b.signal, (c) => {
      c.onCancel(() => (bCancelled = true));
      return new Promise<string>((resolve) => setTimeout(() => resolve('done'), 30));
    });
    const reason = new Error('import interrupted');
    a.abort(reason);
    expect(await first).toBe(reason);
    expect(await second).toBe(reason);
    await expect(other).resolves.toBe('done');
    expect(bCancelled).toBe(false);
  });

  it('refuses to start when the caller has already aborted', async () => {
    const t = new AttemptTracker(1000);
    const a = new AbortController();
    a.abort(new Error('stop'));
    const fn = vi.fn(async () => 1);
    await expect(t.run(a.signal, fn)).rejects.toThrow('stop');
    expect(fn).not.toHaveBeenCalled();
  });

  it('listens once per caller signal, however many attempts it makes', async () => {
    const t = new AttemptTracker(1000);
    const a = new AbortController();
    const add = vi.spyOn(a.signal, 'addEventListener');
    await Promise.all(Array.from({ length: 50 }, () => t.run(a.signal, async () => 1)));
    expect(add).toHaveBeenCalledTimes(1);
  });

  it('gives a real AbortSignal on request, aborted with the attempt', async () => {
    const t = new AttemptTracker(30);
    let seen: AbortSignal | undefined;
    const err = await t
      .run(undefined, (c) => {
        seen = c.signal;
        return new Promise((_, reject) => c.signal.addEventListener('abort', () => reject(c.signal.reason)));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AttemptTimeoutError);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(AttemptTimeoutError);
  });

  it('tells a hook registered after the cancel at once', async () => {
    const t = new AttemptTracker(20);
    const late = await t
      .run(undefined, async (c) => {
        await new Promise((r) => setTimeout(r, 60));
        return new Promise<Error>((resolve) => c.onCancel(resolve));
      })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(AttemptTimeoutError);
  });
});
