/**
 * Issue 5 §4: the same fixture imported from the filesystem, from S3 (Ceph radosgw, the tree uploaded with
 * the AWS SDK under a root prefix) and from GCS (the local GCS server, under a root prefix) gives
 * identical table dumps, identical skip reports, and leaves the same lockfiles in each storage (§1.8).
 * The library runs all three backends on the `real` and `quirks` trees; the CLI runs S3 and GCS from
 * a config file, as a user would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../../drivers/driver.js';
import { PathNotFoundError } from '../../drivers/errors.js';
import { createDriver, type DriverSelection } from '../../drivers/factory.js';
import { MAX_EXAMPLES, type Report } from '../../src/importer/report.js';
import { runImport } from '../../src/importer/run.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { listTree, loadTreeIntoGcs, uploadTreeToS3, type TreeFile } from '../helpers/driver-backends.js';
import { gcsStorage, s3Storage } from '../helpers/storage-configs.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';
import type { Dump } from '../helpers/golden.js';
import { copyTree, FIXTURES, importOptions, type TreeCopy } from '../helpers/import-run.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { describeRun, importDump, runImportProcess } from './import-kill-support.js';

const LOCKFILES = '/docker/registry/lockfiles';
const GCS_BUCKET = 'regdb-gcs';

type Fixture = 'real' | 'quirks';
type Backend = 'filesystem' | 's3' | 'gcs';

let s3: S3TestServer;
let gcs: GcsTestServer;
let work: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [s3, gcs] = await Promise.all([startS3Server(), startGcsServer()]);
  work = mkdtempSync(join(tmpdir(), 'regdb-import-drivers-'));
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await Promise.all([s3?.close(), gcs?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Root prefix per fixture and backend: a nested prefix, as a shared bucket would have. */
const rootOf = (fixture: Fixture, backend: 's3' | 'gcs') => `tenants/${backend}-${fixture}/registry`;

/**
 * The fixture's files without lockfiles: a lockfile left in the working tree by a manual import of
 * the fixture must not reach the object stores, so every backend starts from the same storage.
 */
function fixtureFiles(fixture: Fixture): TreeFile[] {
  return listTree(join(FIXTURES, fixture)).filter((f) => !f.path.startsWith(`${LOCKFILES}/`));
}

function storageConfig(fixture: Fixture, backend: 's3' | 'gcs'): DriverSelection {
  return backend === 's3'
    ? s3Storage(s3, `/${rootOf(fixture, 's3')}`)
    : gcsStorage(gcs, GCS_BUCKET, rootOf(fixture, 'gcs'));
}

/** Uploads the fixture once per object-store backend (each fixture under its own prefix). */
async function upload(fixture: Fixture): Promise<void> {
  const files = fixtureFiles(fixture);
  await uploadTreeToS3(s3, files, `${rootOf(fixture, 's3')}/`);
  loadTreeIntoGcs(gcs, GCS_BUCKET, files, `${rootOf(fixture, 'gcs')}/`);
}

async function openBackend(fixture: Fixture, backend: Backend): Promise<StorageDriver> {
  if (backend !== 'filesystem') return createDriver(storageConfig(fixture, backend));
  const tree: TreeCopy = await copyTree(fixture);
  cleanups.push(() => tree.remove());
  await rm(join(tree.root, LOCKFILES.slice(1)), { recursive: true, force: true });
  return tree.driver;
}

interface Outcome {
  readonly dump: Dump;
  readonly report: Report;
  readonly storageDriver: string;
  readonly lockfiles: Record<'database-in-use' | 'filesystem-in-use', boolean>;
}

async function exists(driver: StorageDriver, path: string): Promise<boolean> {
  try {
    await driver.stat(path);
    return true;
  } catch (err) {
    if (err instanceof PathNotFoundError) return false;
    throw err;
  }
}

/** The import_statistics column that names the driver differs by design; everything else must not. */
function comparable(dump: Dump): { dump: Dump; storageDriver: string } {
  const stats = dump['import_statistics'] as Array<Record<string, unknown>>;
  expect(stats).toHaveLength(1);
  const { storage_driver: storageDriver, ...rest } = stats[0]!;
  return { dump: { ...dump, import_statistics: [rest] }, storageDriver: String(storageDriver) };
}

async function importFrom(fixture: Fixture, backend: Backend): Promise<Outcome> {
  const db: TestDatabase = await freshDatabase();
  cleanups.push(() => db.drop());
  const driver = await openBackend(fixture, backend);
  try {
    const report = await runImport({ pool: db.pool, driver }, importOptions());
    const { dump, storageDriver } = comparable(await importDump(db));
    return {
      dump,
      report,
      storageDriver,
      lockfiles: {
        'database-in-use': await exists(driver, `${LOCKFILES}/database-in-use`),
        'filesystem-in-use': await exists(driver, `${LOCKFILES}/filesystem-in-use`),
      },
    };
  } finally {
    if (backend !== 'filesystem') await driver.close();
    // Dropped at once: many databases of 500 partitions each make a slow teardown on a busy machine.
    await db.drop();
  }
}

/** Skips by reason with their counts and example paths (the part of a report storage decides). */
function skipsOf(report: Report): unknown {
  // Examples are kept in the order repositories finish, which concurrency decides: compare them
  // sorted, and only when the report kept all of them.
  return Object.fromEntries(
    [...report.skips].map(([reason, s]) => [
      reason,
      {
        count: s.count,
        paths: s.count <= MAX_EXAMPLES ? s.examples.map((e) => e.path).sort() : s.examples.length,
      },
    ]),
  );
}

describe.each(['real', 'quirks'] as const)('the %s tree', (fixture) => {
  const outcomes = new Map<Backend, Outcome>();

  beforeAll(async () => {
    await upload(fixture);
    for (const backend of ['filesystem', 's3', 'gcs'] as const)
      outcomes.set(backend, await importFrom(fixture, backend));
  });

  it('the filesystem import is not empty and records its driver', () => {
    const fs = outcomes.get('filesystem')!;
    expect(fs.dump['tags']!.length).toBeGreaterThan(0);
    expect(fs.dump['manifests']!.length).toBeGreaterThan(0);
    expect(fs.dump['blobs']!.length).toBeGreaterThan(0);
    expect(fs.storageDriver).toBe('filesystem');
  });

  it.each([
    ['s3', 's3aws'],
    ['gcs', 'gcs'],
  ] as const)('imported from %s, every table equals the filesystem import', (backend, name) => {
    const fs = outcomes.get('filesystem')!;
    const other = outcomes.get(backend)!;
    for (const table of Object.keys(fs.dump))
      expect(other.dump[table], `${backend}: ${table}`).toEqual(fs.dump[table]);
    expect(other.storageDriver).toBe(name);
  });

  it.each(['s3', 'gcs'] as const)('imported from %s, the report has the same rows and skips', (backend) => {
    const fs = outcomes.get('filesystem')!.report;
    const other = outcomes.get(backend)!.report;
    expect(other.inserted).toEqual(fs.inserted);
    expect(skipsOf(other)).toEqual(skipsOf(fs));
    expect(other.steps.map((s) => [s.step, s.repositories, s.tags, s.manifests, s.blobs])).toEqual(
      fs.steps.map((s) => [s.step, s.repositories, s.tags, s.manifests, s.blobs]),
    );
  });

  it.each(['filesystem', 's3', 'gcs'] as const)(
    'imported from %s, step two leaves database-in-use and no filesystem-in-use lockfile',
    (backend) => {
      expect(outcomes.get(backend)!.lockfiles).toEqual({
        'database-in-use': true,
        'filesystem-in-use': false,
      });
    },
  );
});

describe('regdb database import from a config file', () => {
  let reference: Dump;

  beforeAll(async () => {
    reference = (await importFrom('real', 'filesystem')).dump;
    // A second copy of the tree under other prefixes, untouched by the library imports above.
    const files = fixtureFiles('real');
    await uploadTreeToS3(s3, files, 'cli/s3/');
    loadTreeIntoGcs(gcs, GCS_BUCKET, files, 'cli/gcs/');
  });

  function writeConfig(db: TestDatabase, storage: string[]): string {
    const c = db.config;
    const lines = [
      'version: 0.1',
      'database:',
      '  enabled: true',
      `  host: ${JSON.stringify(c.host)}`,
      `  port: ${c.port}`,
      ...(c.user !== undefined ? [`  user: ${JSON.stringify(c.user)}`] : []),
      ...(c.password !== undefined ? [`  password: ${JSON.stringify(c.password)}`] : []),
      `  dbname: ${JSON.stringify(c.dbname ?? db.name)}`,
      `  sslmode: ${c.sslmode}`,
      'storage:',
      ...storage,
    ];
    const file = join(work, `${db.name}.yml`);
    writeFileSync(file, lines.join('\n') + '\n');
    return file;
  }

  interface CliCase {
    readonly storage: () => string[];
    readonly env: () => NodeJS.ProcessEnv;
    readonly name: string;
  }
  const cases: Record<'s3' | 'gcs', CliCase> = {
    s3: {
      storage: () => [
        '  s3:',
        `    bucket: ${s3.bucket}`,
        '    region: us-east-1',
        `    regionendpoint: ${s3.endpoint}`,
        `    accesskey: ${S3_ACCESS_KEY}`,
        `    secretkey: ${S3_SECRET_KEY}`,
        '    rootdirectory: /cli/s3',
      ],
      env: () => ({}),
      name: 's3aws',
    },
    // `endpoint` is regdb's own GCS parameter (the registry's gcs driver has none).
    gcs: {
      storage: () => [
        '  gcs:',
        `    bucket: ${GCS_BUCKET}`,
        `    endpoint: ${gcs.endpoint}`,
        '    rootdirectory: cli/gcs',
      ],
      env: () => ({}),
      name: 'gcs',
    },
  };

  it.each(['s3', 'gcs'] as const)('from %s exits 0 and gives the filesystem import rows', async (backend) => {
    const c = cases[backend];
    const db = await freshDatabase();
    cleanups.push(() => db.drop());
    const run = await runImportProcess(writeConfig(db, c.storage()), [], work, c.env());
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.stdout).toMatch(/STORAGE REQUESTS/);
    const { dump, storageDriver } = comparable(await importDump(db));
    await db.drop();
    expect(dump).toEqual(reference);
    expect(storageDriver).toBe(c.name);
  });
});
