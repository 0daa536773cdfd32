/**
 * GC queue rows, set-based or by GitLab's row triggers (src/db/import-gc.ts): both give the golden
 * dumps of the real and quirks trees; a role that may not set session_replication_role falls back to
 * the triggers on its own; an unknown trigger rules set-based mode out; with the foreign-key triggers
 * off, a row that refers to a missing blob still fails its batch, as the foreign key would.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseGcMode } from '../../src/db/import-gc.js';
import { ImportWriter } from '../../src/db/import-writer.js';
import { openDatabase } from '../../src/db/open.js';
import { parseDigest, type Digest } from '../../src/registry/digest.js';
import type { RepositoryRows } from '../../src/db/import-rows.js';
import { adminQuery, freshDatabase, uniqueName, type TestDatabase } from '../helpers/db.js';
import { dumpTables, expectGolden, resetImportTables } from '../helpers/golden.js';
import { copyTree, importTree } from '../helpers/import-run.js';

let db: TestDatabase;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  db = await freshDatabase();
}, 600_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await db?.drop();
}, 600_000);

async function importFresh(
  pool: pg.Pool,
  name: 'real' | 'quirks',
  setBasedGc: boolean,
): Promise<{ mode: string | undefined }> {
  await resetImportTables(db.pool);
  const tree = await copyTree(name);
  try {
    const report = await importTree(pool, tree, { setBasedGc });
    return { mode: report.gcTracking };
  } finally {
    await tree.remove();
  }
}

const digest = (hex: string): Digest => {
  const d = parseDigest(`sha256:${hex.repeat(64 / hex.length)}`);
  if (!d.ok) throw new Error('bad test digest');
  return d.digest;
};

describe('GC queue rows', { timeout: 300_000 }, () => {
  for (const tree of ['real', 'quirks'] as const) {
    it(`${tree} tree: set-based and trigger-made GC rows both give the golden dump`, async () => {
      const setBased = await importFresh(db.pool, tree, true);
      expect(setBased.mode).toBe('set-based');
      await expectGolden(`${tree}-full`, await dumpTables(db.pool));
      const triggers = await importFresh(db.pool, tree, false);
      expect(triggers.mode).toBe('triggers');
      await expectGolden(`${tree}-full`, await dumpTables(db.pool));
    });
  }

  it('a role that may not set session_replication_role imports through the triggers', async () => {
    const role = uniqueName('gcrole');
    await adminQuery(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN`);
    cleanups.push(async () => {
      await adminQuery(`DROP OWNED BY ${pg.escapeIdentifier(role)} CASCADE`).catch(() => undefined);
      await db.pool.query(`DROP OWNED BY ${pg.escapeIdentifier(role)} CASCADE`).catch(() => undefined);
      await adminQuery(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
    });
    const r = pg.escapeIdentifier(role);
    await db.pool.query(`GRANT CREATE, TEMPORARY ON DATABASE ${pg.escapeIdentifier(db.name)} TO ${r}`);
    for (const schema of ['public', 'partitions']) {
      await db.pool.query(`GRANT USAGE ON SCHEMA ${schema} TO ${r}`);
      await db.pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${r}`);
      await db.pool.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${schema} TO ${r}`);
    }
    const plain = await openDatabase({ ...db.config, user: role, password: undefined });
    try {
      const choice = await chooseGcMode(plain.pool, true);
      expect(choice.mode).toBe('triggers');
      expect(choice.reason).toMatch(/may not set session_replication_role \(SQLSTATE 42501/);
      const run = await importFresh(plain.pool, 'real', true);
      expect(run.mode).toBe('triggers');
      await expectGolden('real-full', await dumpTables(db.pool));
    } finally {
      await plain.close();
    }
  });

  it('an insert trigger it does not know rules set-based mode out', async () => {
    await db.pool.query(`
      CREATE FUNCTION regdb_test_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
      CREATE TRIGGER regdb_test_extra AFTER INSERT ON layers FOR EACH ROW EXECUTE FUNCTION regdb_test_noop();`);
    try {
      const choice = await chooseGcMode(db.pool, true);
      expect(choice).toEqual({
        mode: 'triggers',
        reason: 'unknown insert or update trigger(s): layers/regdb_test_extra/regdb_test_noop',
      });
    } finally {
      await db.pool.query('DROP TRIGGER regdb_test_extra ON layers; DROP FUNCTION regdb_test_noop()');
    }
    expect((await chooseGcMode(db.pool, true)).mode).toBe('set-based');
  });

  it('with the foreign-key triggers off, a layer of a missing blob still fails its batch', async () => {
    await resetImportTables(db.pool);
    const manifest = digest('a1');
    const rows = (withLayerBlob: boolean): RepositoryRows => ({
      namespace: 'gc',
      path: 'gc/fk',
      name: 'fk',
      lastPublishedAt: null,
      blobs: [{ digest: manifest, size: 2n }, ...(withLayerBlob ? [{ digest: digest('b2'), size: 3n }] : [])],
      repositoryBlobs: [manifest],
      manifests: [
        {
          digest: manifest,
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          payload: Buffer.from('{}'),
          totalSize: 3n,
          configMediaType: null,
          configDigest: null,
          configPayload: null,
          nonConformant: false,
          subjectDigest: null,
          artifactMediaType: null,
        },
      ],
      layers: [
        {
          manifestDigest: manifest,
          digest: digest('b2'),
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          size: 3n,
        },
      ],
      references: [],
      tags: null,
      counts: { repositories: 1, tags: 0, manifests: 1 },
    });
    for (const setBasedGc of [true, false]) {
      const writer = await ImportWriter.open(db.pool, {
        dryRun: false,
        dynamicMediaTypes: true,
        scope: `gc-test ${setBasedGc}`,
        setBasedGc,
      });
      expect(writer.gc.mode).toBe(setBasedGc ? 'set-based' : 'triggers');
      const write = (withLayerBlob: boolean) =>
        writer.write({
          kind: 'repositories',
          step: 1,
          repositories: [rows(withLayerBlob)],
          checkpoints: ['gc/fk'],
        });
      await expect(write(false)).rejects.toThrow(
        setBasedGc
          ? /a layers row of this batch refers to blob sha256:(b2){32}, which has no blobs row/
          : /violates foreign key constraint "fk_layers_digest_blobs"/,
      );
      const counts = await db.pool.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM manifests) + (SELECT count(*) FROM layers)
          + (SELECT count(*) FROM gc_manifest_review_queue) + (SELECT count(*) FROM regdb_import.checkpoints) AS n`,
      );
      expect(counts.rows[0]!.n).toBe('0');
      // The same batch with its blob row goes in, GC rows and all.
      const ins = await writer.write({
        kind: 'repositories',
        step: 1,
        repositories: [rows(true)],
        checkpoints: ['gc/fk'],
      });
      expect(ins.layers).toBe(1);
      const gc = await db.pool.query<{ layers: string; manifests: string; blobs: string }>(
        `SELECT (SELECT count(*) FROM gc_blobs_layers) AS layers,
          (SELECT count(*) FROM gc_manifest_review_queue WHERE event = 'manifest_upload') AS manifests,
          (SELECT count(*) FROM gc_blob_review_queue WHERE event = 'blob_upload') AS blobs`,
      );
      expect(gc.rows[0]).toEqual({ layers: '1', manifests: '1', blobs: '2' });
      await writer.close();
      await resetImportTables(db.pool);
    }
  });
});
