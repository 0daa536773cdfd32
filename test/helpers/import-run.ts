/**
 * Helpers for importer integration tests: a private copy of a fixture tree (the import writes
 * lockfiles into it), a filesystem driver over it, and an import with test defaults.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { createDriver } from '../../drivers/factory.js';
import type { StorageDriver } from '../../drivers/driver.js';
import { IMPORT_DEFAULTS } from '../../src/importer/defaults.js';
import { runImport, type ImportOptions } from '../../src/importer/run.js';
import type { Report } from '../../src/importer/report.js';
import { createLogger } from '../../src/log.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'registries');

export interface TreeCopy {
  readonly root: string;
  readonly driver: StorageDriver;
  remove(): Promise<void>;
}

export async function copyTree(name: 'real' | 'quirks'): Promise<TreeCopy> {
  const root = await mkdtemp(join(tmpdir(), `regdb-${name}-`));
  // Lockfiles left by some other run against the fixture itself are not part of the tree.
  await cp(join(FIXTURES, name, 'docker'), join(root, 'docker'), {
    recursive: true,
    filter: (src) => !src.includes('/docker/registry/lockfiles'),
  });
  const driver = await createDriver({
    driver: 'filesystem',
    key: 'filesystem',
    parameters: { rootdirectory: root },
  });
  return {
    root,
    driver,
    remove: async () => {
      await driver.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export function importOptions(o: Partial<ImportOptions> = {}): ImportOptions {
  return {
    steps: [1, 2, 3],
    dryRun: false,
    importStatistics: true,
    rowCount: false,
    resume: true,
    dynamicMediaTypes: true,
    referrers: true,
    strict: false,
    concurrency: IMPORT_DEFAULTS.concurrency,
    tagConcurrency: IMPORT_DEFAULTS.tagConcurrency,
    batchRows: IMPORT_DEFAULTS.batchRows,
    shard: null,
    skipRecentCutoff: null,
    now: new Date('2026-01-01T00:00:00Z'),
    ...o,
  };
}

export async function importTree(
  pool: pg.Pool,
  tree: TreeCopy,
  o: Partial<ImportOptions> = {},
): Promise<Report> {
  const log = process.env.REGDB_TEST_IMPORT_LOG;
  const logger = log ? createLogger({ level: 'debug', destination: { file: log } }) : undefined;
  return runImport({ pool, driver: tree.driver, logger }, importOptions(o));
}
