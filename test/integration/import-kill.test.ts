/**
 * Issue 5 §4 kill tests: `kill -9` the import at different points (inside a COPY, between merge
 * statements, around a checkpoint commit, between steps, during step three), rerun it, and the
 * database ends with exactly the rows of an uninterrupted import. The process kills itself through
 * ImportEvents the tests' entry point installs from REGDB_TEST_KILL_AT (test/helpers/import-kill-events.ts),
 * so the moment is exact and repeatable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase } from '../helpers/db.js';
import type { Dump } from '../helpers/golden.js';
import {
  describeRun,
  importDump,
  runImportProcess,
  syntheticTree,
  writeImportConfig,
  type SyntheticTree,
} from './import-kill-support.js';

// Small batches, so every step writes several transactions and a kill lands mid-step.
const ARGS = ['--batch-size', '40', '--concurrency', '4'];

let tree: SyntheticTree;
let work: string;
let reference: Dump;

beforeAll(async () => {
  tree = syntheticTree({ repositories: 24, tags: 240, layerRefs: 1200, sharedLayers: 250, seed: 11 });
  work = mkdtempSync(join(tmpdir(), 'regdb-kill-'));
  const db = await freshDatabase();
  try {
    const run = await runImportProcess(writeImportConfig(work, db, tree.root), ARGS, work);
    expect(run.code, describeRun(run)).toBe(0);
    reference = await importDump(db);
  } finally {
    await db.drop();
  }
  expect(reference['tags']).toHaveLength(240);
}, 300_000);

afterAll(() => {
  tree?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('an import killed with SIGKILL and rerun', () => {
  it.each([
    ['inside a COPY of step one', 'copy:1@3'],
    ['between merge statements of step one', 'merge:1@2'],
    ['right after a checkpoint commit of step one', 'after-commit:1@2'],
    ['inside a COPY of step two', 'copy:2@3'],
    ['before the commit of a step-two batch', 'before-commit:2@3'],
    ['between steps two and three', 'step-finished:2'],
    ['between merge statements of step three', 'merge:3@1'],
  ])(
    '%s (%s) ends with the rows of an uninterrupted import',
    async (_label, killAt) => {
      const db = await freshDatabase();
      try {
        const config = writeImportConfig(work, db, tree.root);
        const killed = await runImportProcess(config, ARGS, work, { REGDB_TEST_KILL_AT: killAt });
        expect(killed.signal, describeRun(killed)).toBe('SIGKILL');
        const rerun = await runImportProcess(config, ARGS, work);
        expect(rerun.code, describeRun(rerun)).toBe(0);
        const dump = await importDump(db);
        // Table by table, so a failure names every table that differs.
        for (const table of Object.keys(reference)) expect.soft(dump[table], table).toEqual(reference[table]);
      } finally {
        await db.drop();
      }
    },
    300_000,
  );
});
