/**
 * Issue 14 on the object stores (s3rver over HTTP with the AWS SDK, the local GCS server through the
 * driver's JSON API calls), the real tree uploaded under a root prefix: a prefix import with storage tag times takes
 * each tag's time from the listing (checked against a HEAD/metadata request), verify finds the import
 * clean, then finds a tag deleted in the bucket; the inventory counts what the tree holds.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../../drivers/driver.js';
import { createDriver } from '../../drivers/factory.js';
import { takeInventory } from '../../src/importer/inventory.js';
import { verify } from '../../src/importer/verify.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { resetImportTables } from '../helpers/golden.js';
import { listTree, loadTreeIntoGcs, uploadTreeToS3 } from '../helpers/driver-backends.js';
import { gcsStorage, s3Storage } from '../helpers/storage-configs.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';
import { FIXTURES, importOptions } from '../helpers/import-run.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { runImport } from '../../src/importer/run.js';

let s3: S3TestServer;
let gcs: GcsTestServer;
let db: TestDatabase;
const BUCKET = 'regdb-cutover';
const files = () =>
  listTree(join(FIXTURES, 'real')).filter((f) => !f.path.startsWith('/docker/registry/lockfiles/'));

beforeAll(async () => {
  [s3, gcs, db] = await Promise.all([startS3Server(), startGcsServer(), freshDatabase()]);
  await uploadTreeToS3(s3, files(), 'cutover/s3/');
  loadTreeIntoGcs(gcs, BUCKET, files(), 'cutover/gcs/');
}, 600_000);
afterAll(async () => {
  await Promise.all([s3?.close(), gcs?.close()]);
  await db?.drop();
}, 600_000);

function open(backend: 's3' | 'gcs'): Promise<StorageDriver> {
  return createDriver(
    backend === 's3' ? s3Storage(s3, '/cutover/s3') : gcsStorage(gcs, BUCKET, 'cutover/gcs'),
  );
}

const REPOS = join(FIXTURES, 'real/docker/registry/v2/repositories');

for (const backend of ['s3', 'gcs'] as const) {
  describe(`cutover on ${backend}`, { timeout: 300_000 }, () => {
    it('inventory, prefix import with storage tag times, verify clean, then a deleted tag is found', async () => {
      const driver = await open(backend);
      try {
        const inv = await takeInventory(driver, { sampleEvery: 1, sampleReads: 20, concurrency: 4 });
        // Expected from the fixture on disk: tags per top-level namespace.
        const tagsIn = (repo: string) => readdirSync(join(REPOS, repo, '_manifests/tags')).length;
        expect(inv.namespaces['other']).toMatchObject({
          repositories: 2,
          tags: tagsIn('other/artifacts') + tagsIn('other/tool'),
        });
        expect(inv.total.repositories).toBe(7);

        await resetImportTables(db.pool);
        await runImport(
          { pool: db.pool, driver },
          importOptions({
            steps: [1, 2],
            repositories: { names: [], prefixes: ['other/'] },
            tagTimestamps: 'storage',
          }),
        );
        const tags = await db.pool.query<{ path: string; name: string; created_at: Date }>(
          `SELECT r.path, t.name, t.created_at FROM tags t JOIN repositories r
             ON r.top_level_namespace_id = t.top_level_namespace_id AND r.id = t.repository_id ORDER BY 1, 2`,
        );
        expect(tags.rows.map((r) => r.path)).toEqual(['other/artifacts', 'other/tool']);
        for (const t of tags.rows) {
          const info = await driver.stat(
            `/docker/registry/v2/repositories/${t.path}/_manifests/tags/${t.name}/current/link`,
          );
          // A HEAD's Last-Modified is an HTTP date (whole seconds); a listing's LastModified may carry
          // milliseconds (radosgw's does), so the two agree to the second.
          expect(Math.floor(t.created_at.getTime() / 1000)).toBe(Math.floor(info.modTime!.getTime() / 1000));
        }

        const clean = await verify(driver, db.pool, {
          full: false,
          concurrency: 2,
          repository: 'other/tool',
        });
        expect(clean.equal).toBe(true);
        // Object stores delete one key: the tag's current link goes, its history stays.
        await driver.delete(
          '/docker/registry/v2/repositories/other/tool/_manifests/tags/shared/current/link',
        );
        const after = await verify(driver, db.pool, {
          full: false,
          concurrency: 2,
          repository: 'other/tool',
        });
        expect(after.differences).toEqual([
          expect.objectContaining({ kind: 'tag-only-in-database', repository: 'other/tool', tag: 'shared' }),
        ]);
      } finally {
        await driver.close();
      }
    });
  });
}
