/**
 * What an import from S3 asks of storage, request by request, counted on the wire by a proxy in front
 * of Ceph radosgw: links the listing's content MD5 proves are not read (README, "Links from the listing"),
 * configs are read without a stat first, and everything the listing cannot vouch for is still read:
 * links without a usable ETag (multipart-style, none) and links rewritten with other content of the
 * same length, which are then caught as from the filesystem.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestCounts } from '../../drivers/driver.js';
import { createDriver } from '../../drivers/factory.js';
import type { Report } from '../../src/importer/report.js';
import { runImport } from '../../src/importer/run.js';
import { REPOSITORIES_ROOT } from '../../src/registry/paths.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { keyFor, listTree, uploadTreeToS3, type TreeFile } from '../helpers/driver-backends.js';
import { s3Storage } from '../helpers/storage-configs.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { dumpTables, resetImportTables, type Dump } from '../helpers/golden.js';
import { copyTree, FIXTURES, importOptions } from '../helpers/import-run.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const LOCKFILES = '/docker/registry/lockfiles';
const R = REPOSITORIES_ROOT;

let s3: S3TestServer;
let proxy: FaultProxy;
let db: TestDatabase;
let files: TreeFile[];

beforeAll(async () => {
  [s3, db] = await Promise.all([startS3Server(), freshDatabase()]);
  proxy = await startFaultProxy({ port: s3.port });
  files = listTree(join(FIXTURES, 'real')).filter((f) => !f.path.startsWith(`${LOCKFILES}/`));
}, 600_000);

afterAll(async () => {
  await proxy?.close();
  await s3?.close();
  await db?.drop();
});

/** One request as the proxy saw it: its kind and the driver path it named. */
interface Seen {
  readonly kind: keyof RequestCounts;
  readonly path: string;
}

/** Classifies the proxy's log (path-style URLs: /<bucket>/<prefix>/<driver path>?…). */
function seen(prefix: string): Seen[] {
  const base = `/${s3.bucket}/${prefix}/`;
  return proxy.requests.map((r) => {
    const url = new URL(r.url, 'http://proxy');
    const key = decodeURIComponent(url.pathname);
    const path = key.startsWith(base) ? `/${key.slice(base.length)}` : key;
    const kind: keyof RequestCounts =
      url.searchParams.get('list-type') === '2'
        ? 'list'
        : r.method === 'HEAD'
          ? 'stat'
          : r.method === 'PUT'
            ? 'put'
            : r.method === 'DELETE'
              ? 'delete'
              : 'get';
    return { kind, path };
  });
}

interface S3Import {
  readonly report: Report;
  readonly dump: Dump;
  readonly counts: RequestCounts;
  readonly requests: Seen[];
}

async function importFromS3(prefix: string): Promise<S3Import> {
  await resetImportTables(db.pool);
  proxy.reset();
  const driver = await createDriver(
    s3Storage({ bucket: s3.bucket, endpoint: proxy.url }, `/${prefix}`, { maxrequestspersecond: 0 }),
  );
  try {
    const report = await runImport({ pool: db.pool, driver }, importOptions());
    return {
      report,
      dump: await dumpTables(db.pool),
      counts: driver.requestCounts(),
      requests: seen(prefix),
    };
  } finally {
    await driver.close();
  }
}

const sha256Of = (path: string): string => `sha256:${path.split('/').at(-2)}`;
const isLink = (p: string): boolean => p.endsWith('/link');
const paths = (run: S3Import, kind: keyof RequestCounts, filter: (p: string) => boolean = () => true) =>
  run.requests.filter((r) => r.kind === kind && filter(r.path)).map((r) => r.path);
const distinct = (list: readonly string[]): string[] => [...new Set(list)].sort();
const blobPath = (digest: string): string =>
  `/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

type Row = Record<string, unknown>;

describe('importing the real tree from S3', { timeout: 300_000 }, () => {
  /** The filesystem import of the same tree, its reads recorded by path: no listing hashes there. */
  const fsReads: Seen[] = [];
  let fsCounts: RequestCounts;
  let fsDump: Dump;
  let pristine: S3Import;

  beforeAll(async () => {
    await uploadTreeToS3(s3, files, 'pristine/');
    await resetImportTables(db.pool);
    const tree = await copyTree('real');
    const recording = new Proxy(tree.driver, {
      get(target, prop, receiver) {
        if (prop === 'getContent' || prop === 'stat') {
          return (path: string, ...rest: unknown[]) => {
            fsReads.push({ kind: prop === 'stat' ? 'stat' : 'get', path });
            return (target[prop] as (p: string, ...r: unknown[]) => Promise<unknown>).call(
              target,
              path,
              ...rest,
            );
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    try {
      await runImport({ pool: db.pool, driver: recording }, importOptions());
      fsCounts = tree.driver.requestCounts();
      fsDump = await dumpTables(db.pool);
    } finally {
      await tree.remove();
    }
    pristine = await importFromS3('pristine');
  }, 600_000);

  it('imports what the filesystem import gives', () => {
    const { import_statistics: _a, ...s3Rows } = pristine.dump;
    const { import_statistics: _b, ...fsRows } = fsDump;
    expect(s3Rows).toEqual(fsRows);
    expect(fsRows['tags']).toHaveLength(9);
  });

  it('the driver counts what went over the wire', () => {
    expect(pristine.counts).toEqual({
      list: paths(pristine, 'list').length,
      get: paths(pristine, 'get').length,
      stat: paths(pristine, 'stat').length,
      put: 1,
      delete: 1,
    });
  });

  it('reads no link: each tag, revision and layer link is proven by its listed MD5', () => {
    expect(paths(pristine, 'get', isLink)).toEqual([]);
    // The filesystem import reads the same blobs, and besides them every tag link in steps one and two,
    // every revision link in step one, and in step two the untagged revisions it did not import.
    const fsGets = fsReads.filter((r) => r.kind === 'get').map((r) => r.path);
    const tagLinks = files.filter((f) => /\/_manifests\/tags\/[^/]+\/current\/link$/.test(f.path));
    const revisionLinks = files.filter((f) => f.path.includes('/_manifests/revisions/'));
    expect(tagLinks).toHaveLength(9);
    expect(revisionLinks).toHaveLength(12);
    expect(fsGets.filter((p) => p.includes('/_manifests/tags/')).sort()).toEqual(
      [...tagLinks, ...tagLinks].map((f) => f.path).sort(),
    );
    expect(distinct(fsGets.filter((p) => p.includes('/_manifests/revisions/')))).toEqual(
      revisionLinks.map((f) => f.path).sort(),
    );
    expect(fsGets.filter((p) => p.includes('/_layers/'))).toEqual([]);
    expect(paths(pristine, 'get').sort()).toEqual(fsGets.filter((p) => !isLink(p)).sort());
    // In figures: 47 reads from the filesystem, 17 from S3 (manifests and configs only).
    expect(fsCounts.get).toBe(47);
    expect(pristine.counts.get).toBe(17);
  });

  it('stats layer blobs only, once per digest; configs are read without a stat', () => {
    const layers = distinct((fsDump['layers'] as Row[]).map((l) => String(l['digest'])));
    expect(paths(pristine, 'stat').sort()).toEqual(layers.map(blobPath));
    // Configs read: all but the one above 256,000 bytes, stored as JSON null (group/bigconfig).
    const configs = (fsDump['manifests'] as Row[])
      .filter((m) => m['configuration_blob_digest'] !== null && m['configuration_payload'] !== 'null')
      .map((m) => blobPath(String(m['configuration_blob_digest'])));
    expect(distinct(configs)).toHaveLength(6);
    expect(paths(pristine, 'stat').filter((p) => configs.includes(p))).toEqual([]);
    expect(distinct(configs).every((c) => paths(pristine, 'get').includes(c))).toBe(true);
    expect(pristine.counts.stat).toBe(7);
    expect(fsCounts.stat).toBe(7);
  });
});

describe('links the S3 listing cannot vouch for are read', { timeout: 300_000 }, () => {
  // Listed ETags that prove nothing: a multipart upload's, and none at all.
  const multipartTag = `${R}/group/app/_manifests/tags/stable/current/link`;
  const noETagRevision = pathsBelow(`${R}/group/multi/_manifests/revisions/sha256/`)[0]!;
  const noETagLayer = pathsBelow(`${R}/other/tool/_layers/sha256/`)[0]!;
  // Rewritten with other content of the same length (so with their own, true, ETag).
  const upperTag = `${R}/group/app/sub/_manifests/tags/v1/current/link`;
  const otherRevision = pathsBelow(`${R}/group/multi/docker/_manifests/revisions/sha256/`);
  const upperLayer = pathsBelow(`${R}/group/bigconfig/_layers/sha256/`);
  let pristineTags: Row[];
  let changed: S3Import;

  /** Driver paths of the real tree below `dir`, sorted. */
  function pathsBelow(dir: string): string[] {
    return listTree(join(FIXTURES, 'real'))
      .map((f) => f.path)
      .filter((p) => p.startsWith(dir));
  }

  beforeAll(async () => {
    await Promise.all([uploadTreeToS3(s3, files, 'changed/'), uploadTreeToS3(s3, files, 'reference/')]);
    const key = (path: string): string => keyFor('changed/', path);
    const md5 = createHash('md5')
      .update(readFileSync(join(FIXTURES, 'real', multipartTag)))
      .digest('hex');
    s3.setListedETag(key(multipartTag), `"${md5}-2"`);
    s3.setListedETag(key(noETagRevision), undefined);
    s3.setListedETag(key(noETagLayer), undefined);
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    });
    const put = (path: string, body: string) =>
      client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key(path), Body: body }));
    const read = (path: string): string => readFileSync(join(FIXTURES, 'real', path), 'latin1');
    try {
      // Uppercase hex of the digest it held: same length, not a digest (ErrDigestInvalidFormat).
      await put(
        upperTag,
        read(upperTag).replace(/[0-9a-f]{64}$/, (h) => h.toUpperCase()),
      );
      // A revision link naming another revision of its repository (a digest of the same length).
      await put(otherRevision[0]!, sha256Of(otherRevision[1]!));
      // Every layer link of group/bigconfig in uppercase.
      for (const p of upperLayer)
        await put(
          p,
          read(p).replace(/[0-9a-f]{64}$/, (h) => h.toUpperCase()),
        );
    } finally {
      client.destroy();
    }
    // The tags the untouched tree imports.
    pristineTags = (await importFromS3('reference')).dump['tags'] as Row[];
    changed = await importFromS3('changed');
  }, 600_000);

  it('reads exactly the links without a usable or matching MD5', () => {
    expect(otherRevision.length).toBeGreaterThan(1);
    // group/bigconfig links its config (above 256,000 bytes: never read, its link never checked, as in
    // GitLab) and one layer.
    const tagLink = readFileSync(
      join(FIXTURES, 'real', `${R}/group/bigconfig/_manifests/tags/latest/current/link`),
      'latin1',
    );
    const manifest = JSON.parse(readFileSync(join(FIXTURES, 'real', blobPath(tagLink)), 'utf8')) as {
      config: { digest: string; size: number };
    };
    expect(manifest.config.size).toBeGreaterThan(256_000);
    expect(upperLayer).toHaveLength(2);
    // `_layers` links of the right size are taken from the listing on every backend alike (README,
    // "Links from the listing"): neither the one without an ETag nor the uppercase ones are read.
    expect(distinct(paths(changed, 'get', isLink))).toEqual(
      distinct([multipartTag, noETagRevision, upperTag, otherRevision[0]!]),
    );
    expect(paths(changed, 'get').filter((p) => p === noETagLayer || upperLayer.includes(p))).toEqual([]);
  });

  it('reads links with a multipart or no ETag and imports them as before', () => {
    const tags = changed.dump['tags'] as Row[];
    const of = (rows: Row[], repo: string, name: string) =>
      rows.find((t) => t['repository'] === repo && t['name'] === name)?.['manifest'];
    expect(of(tags, 'group/app', 'stable')).toBeDefined();
    expect(of(tags, 'group/app', 'stable')).toBe(of(pristineTags, 'group/app', 'stable'));
    expect(of(tags, 'group/multi', 'latest')).toBe(of(pristineTags, 'group/multi', 'latest'));
    expect(of(tags, 'other/tool', 'shared')).toBe(of(pristineTags, 'other/tool', 'shared'));
    expect(changed.report.skips.has('layer-not-linked')).toBe(false);
  });

  it('catches tag and revision links rewritten with other content of the same length', () => {
    const skipped = (reason: string) => (changed.report.skips.get(reason)?.examples ?? []).map((e) => e.path);
    expect(skipped('tag-link-broken')).toContain(upperTag);
    // As on the filesystem, a `_layers` link of the right length is not read: not caught.
    expect(changed.report.skips.has('layer-link-broken')).toBe(false);
    const mismatch = changed.report.warnings.get('revision-link-mismatch')?.examples.map((e) => e.path);
    expect(mismatch).toContain(otherRevision[0]);
    // Everything else is imported as from the untouched tree.
    const key = (t: Row) => `${String(t['repository'])}:${String(t['name'])}`;
    expect((changed.dump['tags'] as Row[]).map(key).sort()).toEqual(
      pristineTags
        .map(key)
        .filter((k) => k !== 'group/app/sub:v1')
        .sort(),
    );
  });
});
