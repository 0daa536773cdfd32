/**
 * Issue 5 §4 concurrency proof: three processes with `--shard 0/3`, `1/3`, `2/3` importing one
 * registry into one database at the same time give the same tables as one process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshDatabase } from '../helpers/db.js';
import {
  describeRun,
  importDump,
  runImportProcess,
  syntheticTree,
  writeImportConfig,
  type SyntheticTree,
} from './import-kill-support.js';

// 120 repositories in 6 top-level namespaces; their hashes put at least one namespace in each shard.
const PARAMS = { repositories: 120, tags: 600, layerRefs: 2400, sharedLayers: 400, seed: 5 };
const ARGS = ['--batch-size', '100', '--concurrency', '4'];

let tree: SyntheticTree;
let work: string;

beforeAll(() => {
  tree = syntheticTree(PARAMS);
  work = mkdtempSync(join(tmpdir(), 'regdb-shard-'));
});

afterAll(() => {
  tree?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

type Stats = { repositories_count: string; tags_count: string; manifests_count: string; blobs_count: string };

it('three shard processes at once give the dump of one process', async () => {
  const single = await freshDatabase();
  const sharded = await freshDatabase();
  try {
    const one = await runImportProcess(writeImportConfig(work, single, tree.root), ARGS, work);
    expect(one.code, describeRun(one)).toBe(0);
    const config = writeImportConfig(work, sharded, tree.root);
    const runs = await Promise.all(
      ['0/3', '1/3', '2/3'].map((s) => runImportProcess(config, [...ARGS, '--shard', s], work)),
    );
    for (const r of runs) expect(r.code, describeRun(r)).toBe(0);

    const expected = await importDump(single);
    const actual = await importDump(sharded);
    const { import_statistics: oneStats, ...expectedTables } = expected;
    const { import_statistics: shardStats, ...actualTables } = actual;
    expect(actualTables).toEqual(expectedTables);
    expect(expectedTables['repositories']).toHaveLength(PARAMS.repositories);
    expect(expectedTables['tags']).toHaveLength(PARAMS.tags);

    // One statistics row per run; the shards' counts add up to the single run's.
    expect(oneStats).toHaveLength(1);
    expect(shardStats).toHaveLength(3);
    const sum = (rows: unknown[], k: keyof Stats) =>
      rows.reduce((s: number, r) => s + Number((r as Stats)[k]), 0);
    for (const k of ['repositories_count', 'tags_count', 'manifests_count', 'blobs_count'] as const) {
      expect(sum(shardStats!, k), k).toBe(sum(oneStats!, k));
    }
    for (const r of shardStats!) expect(Number((r as Stats).repositories_count)).toBeGreaterThan(0);
  } finally {
    await single.drop();
    await sharded.drop();
  }
}, 600_000);
