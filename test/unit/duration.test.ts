/** Go duration syntax (time.ParseDuration), used by connecttimeout and pool.* (spec §4.5). */
import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../src/config/duration.js';

describe('parseGoDuration', () => {
  it.each([
    ['0', 0],
    ['5s', 5000],
    ['300ms', 300],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['1500us', 2],
    ['1500µs', 2],
    ['+10s', 10_000],
    ['.5s', 500],
  ])('%s is %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(['', '5', 's', '-1s', '1d', '1 s', '5s3', 'abc'])('%j is not a duration', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});
