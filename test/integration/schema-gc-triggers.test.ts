/**
 * The GC tracking triggers of spec §3.3 on a freshly migrated database: which queue rows each
 * insert, update and delete writes, with which event, and when they become due (1 day + 5-61 s).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

/** media_types ids of spec §3.4. */
const OCTET_STREAM = 21;
const OCI_MANIFEST = 17;
const OCI_INDEX = 18;
const OCI_CONFIG = 16;
const OCI_LAYER_GZIP = 12;

const digest = (label: string): Buffer => createHash('sha256').update(label).digest();

let db: TestDatabase;
let ns: string;
let repo: string;

beforeAll(async () => {
  db = await freshDatabase();
  const n = await db.pool.query<{ id: string }>(
    `INSERT INTO top_level_namespaces (name) VALUES ('gc') RETURNING id`,
  );
  ns = n.rows[0]?.id as string;
  const r = await db.pool.query<{ id: string }>(
    `INSERT INTO repositories (top_level_namespace_id, name, path) VALUES ($1, 'app', 'gc/app') RETURNING id`,
    [ns],
  );
  repo = r.rows[0]?.id as string;
});
afterAll(async () => db.drop());

async function now(): Promise<Date> {
  const res = await db.pool.query<{ t: Date }>('SELECT clock_timestamp() AS t');
  return res.rows[0]?.t as Date;
}

async function blob(label: string): Promise<Buffer> {
  const d = digest(label);
  await db.pool.query(`INSERT INTO blobs (digest, size, media_type_id) VALUES ($1, 10, $2)`, [
    d,
    OCTET_STREAM,
  ]);
  return d;
}

async function manifest(
  label: string,
  opts: { config?: Buffer; mediaType?: number; subject?: string } = {},
): Promise<{ id: string; digest: Buffer }> {
  const d = digest(label);
  const res = await db.pool.query<{ id: string }>(
    `INSERT INTO manifests (top_level_namespace_id, repository_id, schema_version, media_type_id,
       configuration_media_type_id, configuration_blob_digest, digest, payload, total_size, subject_id)
     VALUES ($1, $2, 2, $3, $4, $5, $6, $7, 100, $8) RETURNING id`,
    [
      ns,
      repo,
      opts.mediaType ?? OCI_MANIFEST,
      opts.config ? OCI_CONFIG : null,
      opts.config ?? null,
      d,
      Buffer.from(`{"label":"${label}"}`),
      opts.subject ?? null,
    ],
  );
  return { id: res.rows[0]?.id as string, digest: d };
}

async function blobQueue(
  d: Buffer,
): Promise<{ event: string; review_after: Date; review_count: number } | undefined> {
  const res = await db.pool.query<{ event: string; review_after: Date; review_count: number }>(
    'SELECT event, review_after, review_count FROM gc_blob_review_queue WHERE digest = $1',
    [d],
  );
  return res.rows[0];
}

async function manifestQueue(id: string): Promise<{ event: string; review_after: Date } | undefined> {
  const res = await db.pool.query<{ event: string; review_after: Date }>(
    `SELECT event, review_after FROM gc_manifest_review_queue
     WHERE top_level_namespace_id = $1 AND repository_id = $2 AND manifest_id = $3`,
    [ns, repo, id],
  );
  return res.rows[0];
}

/** review_after = now() + 1 day + random() * 56 + 5 seconds, now() being the statement's transaction start. */
function expectDueInADay(reviewAfter: Date | undefined, before: Date, after: Date): void {
  const day = 86_400_000;
  expect(reviewAfter).toBeInstanceOf(Date);
  const t = (reviewAfter as Date).getTime();
  expect(t).toBeGreaterThanOrEqual(before.getTime() + day + 5_000);
  expect(t).toBeLessThanOrEqual(after.getTime() + day + 61_000);
}

describe('GC tracking triggers (spec §3.3)', () => {
  it('queues an uploaded blob for review in about a day (blob_upload)', async () => {
    const before = await now();
    const d = await blob('blob-upload');
    const after = await now();
    const row = await blobQueue(d);
    expect(row?.event).toBe('blob_upload');
    expect(row?.review_count).toBe(0);
    expectDueInADay(row?.review_after, before, after);
  });

  it('spreads review times with a 5-61 s jitter', async () => {
    const res = await db.pool.query<{ secs: number }>(
      `SELECT extract(epoch FROM gc_review_after('blob_upload') - now() - interval '1 day')::float8 AS secs
       FROM generate_series(1, 2000)`,
    );
    const secs = res.rows.map((r) => r.secs);
    expect(Math.min(...secs)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...secs)).toBeLessThan(61);
    // 2,000 uniform draws over 56 s leave no 10-second stretch empty.
    expect(Math.min(...secs)).toBeLessThan(15);
    expect(Math.max(...secs)).toBeGreaterThan(51);
    const missing = await db.pool.query<{ secs: number }>(
      `SELECT extract(epoch FROM gc_review_after('no_such_event') - now() - interval '1 day')::float8 AS secs`,
    );
    expect(missing.rows[0]?.secs).toBeGreaterThanOrEqual(5);
    expect(missing.rows[0]?.secs).toBeLessThan(61);
  });

  it('tracks a new manifest: config link, manifest_upload queue row, tmp digest, bigint copy', async () => {
    const config = await blob('config-1');
    const before = await now();
    const m = await manifest('manifest-1', { config });
    const after = await now();
    const links = await db.pool.query(
      'SELECT top_level_namespace_id::text AS ns, repository_id::text AS repo, manifest_id::text AS m FROM gc_blobs_configurations WHERE digest = $1',
      [config],
    );
    expect(links.rows).toEqual([{ ns, repo, m: m.id }]);
    const queued = await manifestQueue(m.id);
    expect(queued?.event).toBe('manifest_upload');
    expectDueInADay(queued?.review_after, before, after);
    const tmp = await db.pool.query('SELECT 1 FROM gc_tmp_blobs_manifests WHERE digest = $1', [m.digest]);
    expect(tmp.rowCount).toBe(1);
    const copy = await db.pool.query<{ v: string }>(
      'SELECT media_type_id_convert_to_bigint::text AS v FROM manifests WHERE id = $1',
      [m.id],
    );
    expect(copy.rows[0]?.v).toBe(String(OCI_MANIFEST));
  });

  it('does not link a manifest without a configuration', async () => {
    const before = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM gc_blobs_configurations',
    );
    const list = await manifest('list-without-config', { mediaType: OCI_INDEX });
    const after = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM gc_blobs_configurations',
    );
    expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
    expect((await manifestQueue(list.id))?.event).toBe('manifest_upload');
  });

  it('links a new layer to its blob (gc_blobs_layers)', async () => {
    const layerBlob = await blob('layer-1');
    const m = await manifest('manifest-with-layer');
    const layer = await db.pool.query<{ id: string }>(
      `INSERT INTO layers (top_level_namespace_id, repository_id, manifest_id, digest, size, media_type_id)
       VALUES ($1, $2, $3, $4, 10, $5) RETURNING id`,
      [ns, repo, m.id, layerBlob, OCI_LAYER_GZIP],
    );
    const links = await db.pool.query(
      'SELECT repository_id::text AS repo, layer_id::text AS layer FROM gc_blobs_layers WHERE digest = $1',
      [layerBlob],
    );
    expect(links.rows).toEqual([{ repo, layer: layer.rows[0]?.id }]);
  });

  it('queues the old manifest when a tag moves (tag_switch) and the last one when it goes (tag_delete)', async () => {
    const first = await manifest('tagged-1');
    const second = await manifest('tagged-2');
    await db.pool.query(
      `INSERT INTO tags (top_level_namespace_id, repository_id, manifest_id, name) VALUES ($1, $2, $3, 'latest')`,
      [ns, repo, first.id],
    );
    await db.pool.query(`UPDATE tags SET manifest_id = $1 WHERE repository_id = $2 AND name = 'latest'`, [
      second.id,
      repo,
    ]);
    expect((await manifestQueue(first.id))?.event).toBe('tag_switch');
    expect((await manifestQueue(second.id))?.event).toBe('manifest_upload');
    // Renaming touches no manifest_id: the trigger is AFTER UPDATE OF manifest_id only.
    await db.pool.query(`UPDATE tags SET name = 'stable' WHERE repository_id = $1 AND name = 'latest'`, [
      repo,
    ]);
    expect((await manifestQueue(second.id))?.event).toBe('manifest_upload');
    const before = await now();
    await db.pool.query(`DELETE FROM tags WHERE repository_id = $1 AND name = 'stable'`, [repo]);
    const after = await now();
    const queued = await manifestQueue(second.id);
    expect(queued?.event).toBe('tag_delete');
    expectDueInADay(queued?.review_after, before, after);
  });

  it('queues the blobs of deleted layers once each (layer_delete)', async () => {
    const shared = await blob('layer-shared');
    const a = await manifest('layers-a');
    const b = await manifest('layers-b');
    for (const m of [a, b]) {
      await db.pool.query(
        `INSERT INTO layers (top_level_namespace_id, repository_id, manifest_id, digest, size, media_type_id)
         VALUES ($1, $2, $3, $4, 10, $5)`,
        [ns, repo, m.id, shared, OCI_LAYER_GZIP],
      );
    }
    // Both layers share a blob and go in one statement: one queue row, updated from blob_upload.
    await db.pool.query('DELETE FROM layers WHERE digest = $1', [shared]);
    expect((await blobQueue(shared))?.event).toBe('layer_delete');
  });

  it('queues the child of a deleted list reference (manifest_list_delete)', async () => {
    const child = await manifest('child');
    const list = await manifest('list', { mediaType: OCI_INDEX });
    await db.pool.query(
      `INSERT INTO manifest_references (top_level_namespace_id, repository_id, parent_id, child_id) VALUES ($1, $2, $3, $4)`,
      [ns, repo, list.id, child.id],
    );
    await db.pool.query('DELETE FROM manifest_references WHERE parent_id = $1', [list.id]);
    expect((await manifestQueue(child.id))?.event).toBe('manifest_list_delete');
  });

  it('queues the configuration blob and the subject of a deleted manifest (manifest_delete)', async () => {
    const config = await blob('config-deleted');
    const subject = await manifest('subject');
    const referrer = await manifest('referrer', { config, subject: subject.id });
    expect((await blobQueue(config))?.event).toBe('blob_upload');
    await db.pool.query('DELETE FROM manifests WHERE id = $1 AND repository_id = $2', [referrer.id, repo]);
    expect((await blobQueue(config))?.event).toBe('manifest_delete');
    expect((await manifestQueue(subject.id))?.event).toBe('manifest_delete');
    const links = await db.pool.query('SELECT 1 FROM gc_blobs_configurations WHERE digest = $1', [config]);
    expect(links.rowCount).toBe(0);
  });

  it('deletes a subject with its referrers, a tagged manifest and a list in one statement each', async () => {
    // The cascades reach manifests already gone in the same statement: nothing is queued for them.
    const subject = await manifest('subject-cascade');
    const referrer = await manifest('referrer-cascade', { subject: subject.id });
    await db.pool.query('DELETE FROM manifests WHERE id = $1 AND repository_id = $2', [subject.id, repo]);
    const gone = await db.pool.query('SELECT 1 FROM manifests WHERE id = ANY($1::bigint[])', [
      [subject.id, referrer.id],
    ]);
    expect(gone.rowCount).toBe(0);
    expect(await manifestQueue(subject.id)).toBeUndefined();

    const tagged = await manifest('tagged-cascade');
    await db.pool.query(
      `INSERT INTO tags (top_level_namespace_id, repository_id, manifest_id, name) VALUES ($1, $2, $3, 'cascade')`,
      [ns, repo, tagged.id],
    );
    await db.pool.query('DELETE FROM manifests WHERE id = $1 AND repository_id = $2', [tagged.id, repo]);
    expect(await manifestQueue(tagged.id)).toBeUndefined();

    const child = await manifest('child-cascade');
    const list = await manifest('list-cascade', { mediaType: OCI_INDEX });
    await db.pool.query(
      `INSERT INTO manifest_references (top_level_namespace_id, repository_id, parent_id, child_id) VALUES ($1, $2, $3, $4)`,
      [ns, repo, list.id, child.id],
    );
    await db.pool.query('DELETE FROM manifests WHERE id = $1 AND repository_id = $2', [list.id, repo]);
    expect((await manifestQueue(child.id))?.event).toBe('manifest_list_delete');
  });

  it('deletes a whole repository in one statement, queueing the shared blobs', async () => {
    const n = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM manifests WHERE repository_id = $1`,
      [repo],
    );
    expect(n.rows[0]?.n).toBeGreaterThan(5);
    await db.pool.query('DELETE FROM repositories WHERE id = $1', [repo]);
    const left = await db.pool.query<{ manifests: number; queued: number }>(
      `SELECT (SELECT count(*)::int FROM manifests WHERE repository_id = $1) AS manifests,
              (SELECT count(*)::int FROM gc_manifest_review_queue WHERE repository_id = $1) AS queued`,
      [repo],
    );
    expect(left.rows[0]).toEqual({ manifests: 0, queued: 0 });
    expect((await blobQueue(digest('layer-1')))?.event).toBe('layer_delete');
    expect((await blobQueue(digest('config-1')))?.event).toBe('manifest_delete');
  });
});
