/**
 * Issue 13 §2: a corpus with one namespace holding half the repositories. Under the old shard key
 * (top-level namespace) that whole group lands on one shard, so one shard holds at least half of
 * everything whatever N is; under the repository-path key every shard holds about 1/N.
 */
import { describe, expect, it } from 'vitest';
import { shardBalance } from '../../scripts/lib/shard-balance.js';
import { DEFAULT_PARAMS, planCorpus } from '../../scripts/lib/synthetic-plan.js';
import { inShard, pruneOtherShards, shardOf } from '../../src/importer/shard.js';

const plan = planCorpus({ ...DEFAULT_PARAMS, bigNamespace: 0.5 });
const inBig = plan.repositories.filter((r) => r.path.startsWith('group-big/'));

describe('shard balance with one namespace holding half the repositories', () => {
  it('the corpus has such a namespace', () => {
    expect(inBig.length).toBe(plan.repositories.length / 2);
  });

  it.each([2, 4, 8])(
    'N=%i: the namespace key puts half on one shard, the path key about 1/N on each',
    (n) => {
      const old = shardBalance(plan, n, 'namespace');
      expect(Math.max(...old.shards.map((s) => s.repositoryShare))).toBeGreaterThanOrEqual(50);
      const now = shardBalance(plan, n, 'path');
      for (const s of now.shards) {
        expect(Math.abs(s.repositoryShare - 100 / n), `shard ${s.shard} repositories`).toBeLessThan(3);
        expect(Math.abs(s.tagShare - 100 / n), `shard ${s.shard} tags`).toBeLessThan(4);
      }
      expect(now.tagImbalance).toBeLessThan(old.tagImbalance);
    },
  );

  it('the key depends only on the path and N: stable across runs, every repository in exactly one shard', () => {
    // `printf group-big/app-0000 | sha256sum` starts 7144e09f; 0x7144e09f % 7 = 2.
    expect(shardOf('group-big/app-0000', 7)).toBe(2);
    for (const r of plan.repositories.slice(0, 200)) {
      const owners = [0, 1, 2, 3].filter((i) => inShard(r.path, { index: i, count: 4 }));
      expect(owners).toEqual([shardOf(r.path, 4)]);
    }
  });
});

describe("a shard's walk skips other shards' repositories", () => {
  const root = '/docker/registry/v2/repositories';
  const shard = { index: shardOf('group-big/app-0000', 4), count: 4 };
  const other = { index: (shard.index + 1) % 4, count: 4 };
  const never = (): boolean => false;

  it("prunes a repository's own directories only when the repository is another shard's", () => {
    const mine = pruneOtherShards(never, root, shard);
    const theirs = pruneOtherShards(never, root, other);
    for (const own of ['_manifests', '_layers']) {
      expect(mine(`${root}/group-big/app-0000/${own}`)).toBe(false);
      expect(theirs(`${root}/group-big/app-0000/${own}`)).toBe(true);
    }
  });

  it('never prunes namespaces (nested repositories live there) or anything inside a repository', () => {
    const theirs = pruneOtherShards(never, root, other);
    expect(theirs(`${root}/group-big`)).toBe(false);
    expect(theirs(`${root}/group-big/app-0000`)).toBe(false);
    expect(theirs(`${root}/group-big/app-0000/_manifests/tags`)).toBe(false);
    expect(theirs(`${root}/_top`)).toBe(false);
    expect(pruneOtherShards(() => true, root, shard)(`${root}/x/_uploads`)).toBe(true);
  });
});
