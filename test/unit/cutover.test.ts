/**
 * Issue 14's pure parts: the repository filter, the cutover flag combinations, the row throttle's
 * pacing (on a hand-driven clock), the evenly spread verify sample, and the step prediction's
 * arithmetic on hand-computed inputs.
 */
import { describe, expect, it } from 'vitest';
import { cutoverOptions } from '../../src/cli/import-cutover-flags.js';
import { RowThrottle, type Clock } from '../../src/db/write-throttle.js';
import { UsageError } from '../../src/errors.js';
import { predict } from '../../src/importer/estimate.js';
import type { Inventory } from '../../src/importer/inventory.js';
import {
  filterScope,
  filterWalkRoot,
  inRepositoryFilter,
  parseRepositoryFilter,
} from '../../src/importer/repository-filter.js';
import { sampleNames } from '../../src/importer/verify.js';

describe('repository filter', () => {
  const f = parseRepositoryFilter(['group/app'], ['other', 'team/x/'])!;
  it('names match exactly, prefixes match the subtree and the repository they name', () => {
    expect(inRepositoryFilter('group/app', f)).toBe(true);
    expect(inRepositoryFilter('group/app/sub', f)).toBe(false);
    expect(inRepositoryFilter('group/apps', f)).toBe(false);
    expect(inRepositoryFilter('other', f)).toBe(true);
    expect(inRepositoryFilter('other/tool', f)).toBe(true);
    expect(inRepositoryFilter('others/tool', f)).toBe(false);
    expect(inRepositoryFilter('team/x/y/z', f)).toBe(true);
    expect(inRepositoryFilter('anything', null)).toBe(true);
  });
  it('walks one folder for one selection, the root for several; scopes differ per filter', () => {
    expect(filterWalkRoot(parseRepositoryFilter([], ['group/']))).toBe(
      '/docker/registry/v2/repositories/group',
    );
    expect(filterWalkRoot(f)).toBe('/docker/registry/v2/repositories');
    expect(filterScope(null)).toBe('');
    expect(filterScope(f)).not.toBe(filterScope(parseRepositoryFilter(['group/app'], [])));
  });
  it('rejects names the reference grammar rejects', () => {
    expect(() => parseRepositoryFilter(['Bad Name'])).toThrow(/invalid --repository "Bad Name"/);
    expect(() => parseRepositoryFilter([], ['/'])).toThrow(UsageError);
    expect(parseRepositoryFilter()).toBeNull();
  });
});

describe('cutover flag combinations', () => {
  it('a filter drops step three, and conflicts with --common-blobs and --shard', () => {
    expect(cutoverOptions({ repository: ['a/b'] }, [1, 2, 3], 20_000, null).steps).toEqual([1, 2]);
    expect(() => cutoverOptions({ repository: ['a/b'] }, [3], 20_000, null)).toThrow(/--common-blobs/);
    expect(() =>
      cutoverOptions({ repositoryPrefix: ['a/'] }, [1, 2, 3], 20_000, { index: 0, count: 2 }),
    ).toThrow(/--shard/);
    expect(() => cutoverOptions({ maxDbConnections: 1 }, [1, 2, 3], 20_000, null)).toThrow(/at least 2/);
  });
  it('caps a batch at five seconds of rows under --max-rows-per-second', () => {
    expect(cutoverOptions({ maxRowsPerSecond: 500 }, [1, 2, 3], 20_000, null).batchRows).toBe(2500);
    expect(cutoverOptions({}, [1, 2, 3], 20_000, null).batchRows).toBe(20_000);
  });
});

describe('RowThrottle', () => {
  function clock(): Clock & { t: number; slept: number[] } {
    const c = {
      t: 0,
      slept: [] as number[],
      now: () => c.t,
      sleep: async (ms: number) => {
        c.slept.push(ms);
        c.t += ms;
      },
    };
    return c;
  }
  it('lets the first batch through and paces the next ones by the rows they inserted', async () => {
    const c = clock();
    const th = new RowThrottle(1000, c);
    await th.ready();
    th.charge(500); // 0.5 s worth
    await th.ready();
    expect(c.slept).toEqual([500]);
    c.t += 200; // the batch itself took 0.2 s: part of its 1 s share
    th.charge(1000);
    await th.ready();
    expect(c.slept).toEqual([500, 800]);
    // 1,500 rows charged at 1,000 rows/s: the third batch starts 1.5 s after the first.
    expect(c.t).toBe(1500);
  });
  it('does not bank idle time: a slow writer is not allowed a burst afterwards', async () => {
    const c = clock();
    const th = new RowThrottle(100, c);
    await th.ready();
    th.charge(10);
    c.t += 5000;
    await th.ready();
    th.charge(100);
    await th.ready();
    expect(c.slept).toEqual([1000]);
  });
});

describe('verify sample', () => {
  it('spreads n picks evenly, first and last included', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    expect(sampleNames(names, 3)).toEqual(['a', 'd', 'g']);
    expect(sampleNames(names, 1)).toEqual(['a']);
    expect(sampleNames(names, 7)).toEqual(names);
  });
});

describe('estimate arithmetic', () => {
  it('takes the longer of storage and database per step', () => {
    const inv: Inventory = {
      namespaces: {},
      total: { repositories: 10, tags: 100, manifests: 50, layerLinks: 200, blobs: 150, blobBytes: '0' },
      sampleEvery: 1,
      directoryWalk: false,
      listingSeconds: { repositories: 2, blobs: 1 },
      readRate: { linkReadsPerSecond: 100, statsPerSecond: 150, sampled: 10 },
    };
    const [one, two, three] = predict(
      inv,
      { rows: 1, copyRowsPerSecond: 1000, mergeRowsPerSecond: 1000 },
      {
        1: 1,
        2: 1,
        3: 1,
      },
    );
    // step 1: 2 s listing + (100 + 150) / 100 reads + 150 / 150 stats = 5.5 s storage;
    // rows 10 + 100 + 400 + 150 = 660, 1.32 s database.
    expect(one!.storageSeconds).toBeCloseTo(5.5);
    expect(one!.rows).toBe(660);
    expect(one!.databaseSeconds).toBeCloseTo(1.32);
    expect(one!.seconds).toBeCloseTo(5.5);
    // step 2: 2 s + 100 / 100 = 3 s; rows 110: 0.22 s.
    expect(two!.seconds).toBeCloseTo(3);
    // step 3: 1 s listing; 150 rows: 0.3 s.
    expect(three!.seconds).toBeCloseTo(1);
    // On a filesystem step two's walk leaves `_layers` out: 2 s x (100 + 50) / 350 + 1 s of reads.
    const fs = predict(
      { ...inv, directoryWalk: true },
      { rows: 1, copyRowsPerSecond: 1000, mergeRowsPerSecond: 1000 },
    );
    expect(fs[1]!.storageSeconds).toBeCloseTo((2 * 150) / 350 + 1);
  });
});
