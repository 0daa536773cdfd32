/**
 * How evenly a shard key spreads a corpus over N shards (issue 13 §2): each shard's share of the
 * repositories and of the tags, under the old key (top-level namespace) and the current one (the
 * repository path, src/importer/shard.ts). Pure: works on a synthetic plan.
 */
import { shardOf } from '../../src/importer/shard.js';
import { topLevelNamespace } from '../../src/registry/names.js';
import type { CorpusPlan } from './synthetic-plan.js';

export type ShardKey = 'namespace' | 'path';

export interface ShardShare {
  readonly shard: number;
  readonly repositories: number;
  readonly tags: number;
  /** Percent of all repositories / tags. */
  readonly repositoryShare: number;
  readonly tagShare: number;
}

export interface Balance {
  readonly key: ShardKey;
  readonly count: number;
  readonly shards: ShardShare[];
  /** Largest shard's tags over the mean: the run takes this much longer than a perfect split. */
  readonly tagImbalance: number;
  readonly repositoryImbalance: number;
}

const pct = (part: number, whole: number): number =>
  whole === 0 ? 0 : Math.round((1000 * part) / whole) / 10;

export function shardBalance(plan: CorpusPlan, count: number, key: ShardKey): Balance {
  const repos = new Array<number>(count).fill(0);
  const tags = new Array<number>(count).fill(0);
  for (const r of plan.repositories) {
    const s = shardOf(key === 'path' ? r.path : topLevelNamespace(r.path), count);
    repos[s]!++;
    tags[s]! += r.tags.length;
  }
  const totalRepos = repos.reduce((a, b) => a + b, 0);
  const totalTags = tags.reduce((a, b) => a + b, 0);
  return {
    key,
    count,
    shards: repos.map((n, s) => ({
      shard: s,
      repositories: n,
      tags: tags[s]!,
      repositoryShare: pct(n, totalRepos),
      tagShare: pct(tags[s]!, totalTags),
    })),
    tagImbalance: Math.round((100 * Math.max(...tags) * count) / Math.max(1, totalTags)) / 100,
    repositoryImbalance: Math.round((100 * Math.max(...repos) * count) / Math.max(1, totalRepos)) / 100,
  };
}
