/**
 * The token cache of drivers/gcs-auth.ts on a hand-driven clock: headers are reused until shortly
 * before the token expires, one refresh serves every caller waiting at once, and a failed refresh is
 * tried again by the next caller. The token path itself (google-auth-library against a token
 * endpoint) runs in test/integration/gcs-auth.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { refreshTime, TokenCache, type IssuedHeaders } from '../../drivers/gcs-auth.js';

const MIN = 60_000;

describe('refreshTime', () => {
  it.each([
    ['an hour-long token: 5 minutes before it expires', 0, 60 * MIN, 55 * MIN],
    ['a 2 s token: half-way', 1_000, 3_000, 2_000],
    ['a 10 min token: 5 minutes before', 0, 10 * MIN, 5 * MIN],
    ['unknown expiry: after a minute', 1_000, undefined, 61_000],
    ['an expiry already past (a placeholder): after a minute', 1_000, 1, 61_000],
  ])('%s', (_name, now, expiresAt, want) => {
    expect(refreshTime(now, expiresAt, 5 * MIN)).toBe(want);
  });
});

/** An issuer of hour-long tokens on `clock`, counting its calls; `fail` makes it throw. */
function issuer(clock: { t: number }): { issue: () => Promise<IssuedHeaders>; calls: number; fail: boolean } {
  const state = {
    calls: 0,
    fail: false,
    issue: async (): Promise<IssuedHeaders> => {
      state.calls++;
      await Promise.resolve();
      if (state.fail) throw new Error('token endpoint down');
      return { headers: { authorization: `Bearer t${state.calls}` }, expiresAt: clock.t + 60 * MIN };
    },
  };
  return state;
}

describe('TokenCache', () => {
  it('one refresh for callers that ask at once; cached headers come back without a promise', async () => {
    const clock = { t: 0 };
    const s = issuer(clock);
    const cache = new TokenCache(s.issue, () => clock.t);
    const all = await Promise.all(Array.from({ length: 20 }, () => cache.headers()));
    expect(new Set(all.map((h) => h['authorization']))).toEqual(new Set(['Bearer t1']));
    expect(s.calls).toBe(1);
    expect(cache.headers()).toEqual({ authorization: 'Bearer t1' });
  });

  it('refreshes 5 minutes before expiry, not earlier', async () => {
    const clock = { t: 0 };
    const s = issuer(clock);
    const cache = new TokenCache(s.issue, () => clock.t);
    await cache.headers();
    clock.t = 55 * MIN - 1;
    expect(cache.headers()).toEqual({ authorization: 'Bearer t1' });
    clock.t = 55 * MIN;
    expect(await cache.headers()).toEqual({ authorization: 'Bearer t2' });
    expect(s.calls).toBe(2);
  });

  it('a failed refresh fails its callers; the next caller tries again', async () => {
    const clock = { t: 0 };
    const s = issuer(clock);
    const cache = new TokenCache(s.issue, () => clock.t);
    s.fail = true;
    const first = await Promise.allSettled([cache.headers(), cache.headers()]);
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(s.calls).toBe(1);
    s.fail = false;
    expect(await cache.headers()).toEqual({ authorization: 'Bearer t2' });
  });
});
