/**
 * Prints how the shard key spreads a synthetic corpus with one namespace holding half the
 * repositories (issue 13 §2), for 2, 4 and 8 shards, under the old key (top-level namespace) and the
 * current one (repository path):
 *
 *   node --import tsx scripts/shard-balance.ts [--scale N] [--big 0.5]
 */
import { parseArgs } from 'node:util';
import { shardBalance } from './lib/shard-balance.js';
import { DEFAULT_PARAMS, planCorpus, scaleParams } from './lib/synthetic-plan.js';

const { values } = parseArgs({
  options: { scale: { type: 'string', default: '1' }, big: { type: 'string', default: '0.5' } },
});
const plan = planCorpus(
  scaleParams({ ...DEFAULT_PARAMS, bigNamespace: Number(values.big) }, Number(values.scale)),
);
const inBig = plan.repositories.filter((r) => r.path.startsWith('group-big/')).length;
process.stdout.write(
  `corpus: ${plan.repositories.length} repositories, ${plan.repositories.reduce((s, r) => s + r.tags.length, 0)} tags; ` +
    `group-big holds ${inBig} repositories (${Math.round((100 * inBig) / plan.repositories.length)}%)\n`,
);
for (const n of [2, 4, 8]) {
  for (const key of ['namespace', 'path'] as const) {
    const b = shardBalance(plan, n, key);
    const shares = b.shards.map((s) => `${s.repositoryShare}%/${s.tagShare}%`).join(' ');
    process.stdout.write(
      `N=${n} key=${key.padEnd(9)} largest shard ${b.tagImbalance}x the mean (tags), ${b.repositoryImbalance}x (repositories); ` +
        `per shard repositories/tags: ${shares}\n`,
    );
  }
}
