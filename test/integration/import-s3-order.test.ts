/**
 * Issue 12 §1-2: names whose binary order differs from a directory walk's, in repositories
 * (`multi`, `multi-docker`, `multi.x`, `multi/a`) and in tags (`v1`, `v1-rc`, `v1.0`), imported from
 * the filesystem (directory walk, sorted per directory), from Ceph radosgw under a root prefix
 * (binary listing order), from the GCS test server, and from radosgw behind a proxy that shuffles
 * every listing page (a store that sorts otherwise): the rows are the same every time, and the
 * shuffled store costs one warning, not a failure.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDriver, type DriverSelection } from '../../drivers/factory.js';
import type { StorageDriver } from '../../drivers/driver.js';
import { runImport } from '../../src/importer/run.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { listTree, loadTreeIntoGcs, uploadTreeToS3 } from '../helpers/driver-backends.js';
import { filesystemStorage, gcsStorage, s3Storage } from '../helpers/storage-configs.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';
import type { Dump } from '../helpers/golden.js';
import { FIXTURES, importOptions } from '../helpers/import-run.js';
import { captureLog } from '../helpers/log-capture.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { importDump } from './import-kill-support.js';

const REPOS = 'docker/registry/v2/repositories/group';
const ROOT = 'tenants/orders/registry';
const GCS_BUCKET = 'regdb-orders';

let tree: string;
let s3: S3TestServer;
let shuffledS3: S3TestServer;
let gcs: GcsTestServer;
const dbs: TestDatabase[] = [];

/**
 * The `real` tree (written by a registry) plus copies of `group/multi`'s `_manifests` and `_layers`
 * as `group/multi-docker`, `group/multi.x` and `group/multi/a` (next to the real `group/multi/docker`),
 * and its `latest` tag copied as `v1`, `v1-rc` and `v1.0`.
 */
async function writeOrderTree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'regdb-orders-'));
  await cp(join(FIXTURES, 'real', 'docker'), join(root, 'docker'), {
    recursive: true,
    filter: (src) => !src.includes('/docker/registry/lockfiles'),
  });
  const multi = join(root, REPOS, 'multi');
  for (const tag of ['v1', 'v1-rc', 'v1.0']) {
    await cp(join(multi, '_manifests/tags/latest'), join(multi, '_manifests/tags', tag), { recursive: true });
  }
  for (const name of ['multi-docker', 'multi.x', 'multi/a']) {
    for (const dir of ['_manifests', '_layers']) {
      await cp(join(multi, dir), join(root, REPOS, name, dir), { recursive: true });
    }
  }
  return root;
}

beforeAll(async () => {
  tree = await writeOrderTree();
  [s3, shuffledS3, gcs] = await Promise.all([
    startS3Server(),
    startS3Server({ listingOrder: 'shuffled' }),
    startGcsServer(),
  ]);
  const files = listTree(tree);
  await Promise.all([uploadTreeToS3(s3, files, `${ROOT}/`), uploadTreeToS3(shuffledS3, files, `${ROOT}/`)]);
  loadTreeIntoGcs(gcs, GCS_BUCKET, files, `${ROOT}/`);
}, 300_000);

afterAll(async () => {
  await Promise.all([s3?.close(), shuffledS3?.close(), gcs?.close()]);
  for (const db of dbs) await db.drop();
  if (tree) await rm(tree, { recursive: true, force: true });
});

const s3Config = (server: S3TestServer): DriverSelection => s3Storage(server, `/${ROOT}`);

/** Imports from `config` and returns the dump (storage_driver aside) and what was logged as warnings. */
async function importFrom(config: DriverSelection): Promise<{ dump: Dump; warnings: string[] }> {
  const db = await freshDatabase();
  dbs.push(db);
  const log = captureLog('warn');
  const driver: StorageDriver = await createDriver(config, { logger: log.logger });
  try {
    await runImport({ pool: db.pool, driver, logger: log.logger }, importOptions());
  } finally {
    await driver.close();
  }
  const dump = await importDump(db);
  const stats = dump['import_statistics'] as Array<Record<string, unknown>>;
  const { storage_driver: _driver, ...rest } = stats[0]!;
  return {
    dump: { ...dump, import_statistics: [rest] },
    warnings: log.records.filter((r) => Number(r['level']) === 40).map((r) => String(r['msg'])),
  };
}

describe('names that sort differently in a directory walk and in a listing', { timeout: 300_000 }, () => {
  let expected: Dump;

  beforeAll(async () => {
    ({ dump: expected } = await importFrom(filesystemStorage(tree)));
  });

  it('the filesystem import has every repository and tag of the tree', () => {
    const repos = (expected['repositories'] as Array<Record<string, unknown>>).map((r) => r['path']);
    for (const name of [
      'group/multi',
      'group/multi-docker',
      'group/multi.x',
      'group/multi/a',
      'group/multi/docker',
    ])
      expect(repos).toContain(name);
    const tags = (expected['tags'] as Array<Record<string, unknown>>).map((t) => t['name']);
    for (const name of ['latest', 'v1', 'v1-rc', 'v1.0']) expect(tags).toContain(name);
  });

  it('imports the same rows from radosgw (binary listing order), without warnings', async () => {
    const { dump, warnings } = await importFrom(s3Config(s3));
    expect(dump).toEqual(expected);
    expect(warnings).toEqual([]);
  });

  it('imports the same rows from the GCS server', async () => {
    const { dump, warnings } = await importFrom(gcsStorage(gcs, GCS_BUCKET, ROOT));
    expect(dump).toEqual(expected);
    expect(warnings).toEqual([]);
  });

  it('imports the same rows when every listing page comes back shuffled, with one warning', async () => {
    const before = shuffledS3.listRequests();
    const { dump, warnings } = await importFrom(s3Config(shuffledS3));
    expect(shuffledS3.listRequests()).toBeGreaterThan(before);
    expect(dump).toEqual(expected);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not in binary key order/);
  });
});
