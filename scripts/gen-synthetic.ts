/**
 * Writes a deterministic synthetic registry tree (issue 5 §5), laid out as the `distribution`
 * registry's filesystem driver writes it, plus `config.yml` pointing at it.
 *
 *   node --import tsx scripts/gen-synthetic.ts --out DIR [--repositories 2000 --tags 20000
 *     --layer-refs 100000 --shared-layers 20000 --seed 1 --scale 1]
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { DEFAULT_PARAMS, scaleParams, type CorpusParams } from './lib/synthetic-plan.js';
import { writeCorpus } from './lib/synthetic-writer.js';

function positiveInt(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new Error(`--${name} must be an integer >= ${min}, got "${value}".`);
  }
  return Number(value);
}

function parseGenArgs(argv: string[]): { out: string; params: CorpusParams } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string' },
      repositories: { type: 'string' },
      tags: { type: 'string' },
      'layer-refs': { type: 'string' },
      'shared-layers': { type: 'string' },
      seed: { type: 'string' },
      scale: { type: 'string' },
    },
  });
  if (values.out === undefined)
    throw new Error('--out DIR is required: the folder to write the registry tree to.');
  const base: CorpusParams = {
    repositories: positiveInt('repositories', values.repositories, DEFAULT_PARAMS.repositories, 1),
    tags: positiveInt('tags', values.tags, DEFAULT_PARAMS.tags),
    layerRefs: positiveInt('layer-refs', values['layer-refs'], DEFAULT_PARAMS.layerRefs),
    sharedLayers: positiveInt('shared-layers', values['shared-layers'], DEFAULT_PARAMS.sharedLayers, 1),
    seed: positiveInt('seed', values.seed, DEFAULT_PARAMS.seed),
  };
  return { out: resolve(values.out), params: scaleParams(base, positiveInt('scale', values.scale, 1, 1)) };
}

function main(): void {
  const { out, params } = parseGenArgs(process.argv.slice(2));
  const s = writeCorpus(out, params);
  const c = s.counts;
  console.log(`wrote ${out}`);
  console.log(
    `  ${c.repositories} repositories in ${c.topLevelNamespaces} top-level namespaces, ${c.tags} tags, ` +
      `${c.taggedManifests} tagged manifests (${c.indexes} lists/indexes with ${c.indexChildren} children), ` +
      `${c.layerRefs} layer references over ${c.layerBlobs} layer blobs, ${c.configs} configs, ` +
      `${c.referrers} referrers, ${c.untaggedOldRevisions} untagged revisions`,
  );
  console.log(`  ${s.files} files, ${(s.bytes / 1e6).toFixed(1)} MB, ${s.seconds.toFixed(1)} s`);
}

try {
  main();
} catch (err) {
  console.error(`gen-synthetic: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
