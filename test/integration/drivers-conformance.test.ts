/**
 * One conformance suite, three drivers, the same trees: filesystem on the tree itself, S3 through the
 * AWS SDK against Ceph radosgw (tree uploaded under a root prefix), GCS through its JSON API calls against the
 * local GCS JSON API server (tree loaded under a root prefix). Expected values come from the tree on
 * disk (readdir/stat/readFile), never from one of the drivers.
 */
import {
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  mkdirSync,
  writeFileSync,
  mkdtempSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileInfo, StorageDriver, WalkOptions } from '../../drivers/driver.js';
import { ContentTooLargeError, InvalidPathError, PathNotFoundError } from '../../drivers/errors.js';
import { createDriver } from '../../drivers/factory.js';
import { compareBytewise } from '../../drivers/paths.js';
import { listTree, loadTreeIntoGcs, uploadTreeToS3, type TreeFile } from '../helpers/driver-backends.js';
import { filesystemStorage, gcsStorage, s3Storage } from '../helpers/storage-configs.js';
import { writeEdgeTree, type EdgeTree } from '../helpers/edge-tree.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const TREES = ['real', 'quirks', 'edge'] as const;
type TreeName = (typeof TREES)[number];
const GCS_BUCKET = 'registry-gcs';
const V2 = '/docker/registry/v2';

let s3: S3TestServer;
let gcs: GcsTestServer;
let edge: EdgeTree;
const roots = {} as Record<TreeName, string>;
const files = {} as Record<TreeName, TreeFile[]>;
const drivers = {} as Record<TreeName, StorageDriver[]>;

async function driversFor(tree: TreeName): Promise<StorageDriver[]> {
  return Promise.all([
    createDriver(filesystemStorage(roots[tree])),
    createDriver(s3Storage(s3, `/${tree}/root`, { maxrequestspersecond: 0 })),
    createDriver(gcsStorage(gcs, GCS_BUCKET, `/${tree}/`)),
  ]);
}

async function collect(it: AsyncIterable<FileInfo>): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = [];
  for await (const f of it) out.push({ path: f.path, size: f.size });
  return out;
}

async function caught(p: Promise<unknown> | (() => Promise<unknown>)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  edge = writeEdgeTree();
  roots.real = resolve('fixtures/registries/real');
  roots.quirks = resolve('fixtures/registries/quirks');
  roots.edge = edge.root;
  [s3, gcs] = await Promise.all([startS3Server(), startGcsServer()]);
  for (const tree of TREES) {
    files[tree] = listTree(roots[tree]);
    await uploadTreeToS3(s3, files[tree], `${tree}/root/`);
    loadTreeIntoGcs(gcs, GCS_BUCKET, files[tree], `${tree}/`);
    drivers[tree] = await driversFor(tree);
  }
});

afterAll(async () => {
  for (const tree of TREES) for (const d of drivers[tree] ?? []) await d.close();
  await Promise.all([s3?.close(), gcs?.close()]);
  if (edge) rmSync(edge.root, { recursive: true, force: true });
});

describe.each(TREES)('tree %s', (tree) => {
  const expectedFiles = (filter: (f: TreeFile) => boolean = () => true) =>
    files[tree].filter(filter).map((f) => ({ path: f.path, size: f.size }));

  it('has the three drivers with their names', () => {
    expect(drivers[tree].map((d) => d.name)).toEqual(['filesystem', 's3aws', 'gcs']);
  });

  it('walks every file once, in bytewise order, with sizes', async () => {
    const want = expectedFiles((f) => f.path.startsWith(`${V2}/`));
    expect(want.length).toBeGreaterThan(50);
    for (const d of drivers[tree]) {
      const got = await collect(d.walk(V2));
      expect(got, d.name).toEqual(want);
      // FileInfo is a plain record for callers: spreading it keeps size (lazy on the filesystem).
      for await (const f of d.walk(V2)) {
        expect({ ...f, modTime: undefined, md5: undefined }, d.name).toEqual({
          path: want[0]!.path,
          size: want[0]!.size,
          modTime: undefined,
          md5: undefined,
        });
        break;
      }
    }
    // Only in our own temporary tree: other tests may write lockfiles beside v2/ in the committed ones.
    if (tree === 'edge') {
      for (const d of drivers[tree])
        expect(await collect(d.walk('/docker')), d.name).toEqual(expectedFiles());
    }
  });

  it('reports each object content MD5 from the listing on S3 and GCS, none on the filesystem', async () => {
    const want = files[tree]
      .filter((f) => f.path.startsWith(`${V2}/`))
      .map((f) => ({ path: f.path, md5: createHash('md5').update(readFileSync(f.file)).digest('hex') }));
    for (const d of drivers[tree]) {
      const got: Array<{ path: string; md5: string | undefined }> = [];
      for await (const f of d.walk(V2)) got.push({ path: f.path, md5: f.md5 });
      if (d.name === 'filesystem') {
        expect(d.listingMd5).toBe(false);
        expect(got.filter((f) => f.md5 !== undefined)).toEqual([]);
      } else {
        expect(d.listingMd5, d.name).toBe(true);
        expect(got, d.name).toEqual(want);
      }
    }
  });

  it('prunes subtrees', async () => {
    const pruned = new Set(['_uploads', '_layers']);
    const seen: Record<string, string[]> = {};
    const want = expectedFiles((f) => !f.path.split('/').some((p) => pruned.has(p)));
    for (const d of drivers[tree]) {
      seen[d.name] = [];
      const prune: WalkOptions['prune'] = (dir) => {
        seen[d.name]!.push(dir);
        return pruned.has(basename(dir));
      };
      expect(await collect(d.walk(`${V2}/repositories`, { prune })), d.name).toEqual(
        want.filter((f) => f.path.startsWith(`${V2}/repositories/`)),
      );
      // Every directory handed to prune is a real directory of the tree, under the walk prefix.
      for (const dir of seen[d.name]!) {
        expect(
          files[tree].some((f) => f.path.startsWith(`${dir}/`)),
          `${d.name} ${dir}`,
        ).toBe(true);
      }
      expect(
        seen[d.name]!.some((dir) => dir.endsWith('/_layers')),
        d.name,
      ).toBe(true);
    }
  });

  it('resumes after startAfter (a file, a directory, a name that is not there)', async () => {
    const all = expectedFiles((f) => f.path.startsWith(`${V2}/`));
    const middle = all[Math.floor(all.length / 2)]!.path;
    for (const startAfter of [
      middle,
      `${V2}/blobs`,
      `${V2}/repositories/group/app`,
      `${V2}/repositories/m`,
    ]) {
      const want = all.filter((f) => compareBytewise(f.path, startAfter) > 0);
      for (const d of drivers[tree]) {
        expect(await collect(d.walk(V2, { startAfter })), `${d.name} after ${startAfter}`).toEqual(want);
      }
    }
  });

  it('lists immediate children, sorted', async () => {
    const dirs = new Set<string>([V2, `${V2}/repositories`, `${V2}/blobs/sha256`]);
    const firstTag = files[tree].find((f) => f.path.includes('/_manifests/tags/'))!.path;
    dirs.add(firstTag.slice(0, firstTag.indexOf('/_manifests/tags/') + '/_manifests/tags'.length));
    for (const dir of dirs) {
      const onDisk = readdirSync(join(roots[tree], dir), { withFileTypes: true })
        .map((e) => ({ path: `${dir}/${e.name}`, isDir: e.isDirectory() }))
        .sort((a, b) => compareBytewise(a.path, b.path));
      for (const d of drivers[tree]) expect(await d.list(dir), `${d.name} ${dir}`).toEqual(onDisk);
    }
  });

  it('reads the same bytes, one by one and in batches', async () => {
    const sample = files[tree].filter((_, i) => tree !== 'edge' || i % 9 === 0);
    for (const d of drivers[tree]) {
      for (const f of sample.slice(0, 60)) {
        expect(
          (await d.getContent(f.path, { maxBytes: 8 << 20 })).equals(readFileSync(f.file)),
          `${d.name} ${f.path}`,
        ).toBe(true);
      }
      const missing = `${V2}/repositories/no/such/_manifests/tags/x/current/link`;
      const batch = await d.getContents([...sample.map((f) => f.path), missing], { maxBytes: 8 << 20 });
      expect(batch.length).toBe(sample.length + 1);
      sample.forEach((f, i) => {
        expect(batch[i]!.path).toBe(f.path);
        expect(batch[i]!.content?.equals(readFileSync(f.file)), `${d.name} batch ${f.path}`).toBe(true);
      });
      const last = batch[sample.length]!;
      expect(last.error).toBeInstanceOf(PathNotFoundError);
      expect(last.content).toBeUndefined();
    }
  });

  it('stats files and directories', async () => {
    const f = files[tree].find((x) => x.size > 0)!;
    for (const d of drivers[tree]) {
      expect(await d.stat(f.path)).toMatchObject({ path: f.path, isDir: false, size: f.size });
      expect(await d.stat(`${V2}/repositories`)).toMatchObject({
        path: `${V2}/repositories`,
        isDir: true,
        size: 0,
      });
      const err = await caught(d.stat(`${V2}/repositories/nothing-here`));
      expect(err).toBeInstanceOf(PathNotFoundError);
    }
  });
});

describe('errors are the same classes on every driver', () => {
  const each = async (fn: (d: StorageDriver) => Promise<void>): Promise<void> => {
    for (const d of drivers.edge) await fn(d);
  };

  it('PathNotFoundError for a missing path, with path and driver', async () => {
    const missing = `${V2}/repositories/ns/app/_manifests/tags/missing/current/link`;
    await each(async (d) => {
      for (const call of [
        () => d.getContent(missing, { maxBytes: 100 }),
        () => d.reader(missing),
        () => d.stat(missing),
        () => d.list(`${V2}/repositories/none`),
        () => collect(d.walk(`${V2}/repositories/none`)),
        () => collect(d.walk(`${V2}/repositories/none`, { startAfter: `${V2}/repositories/none/a` })),
        // A directory is not an object: reading it is "not found" everywhere.
        () => d.getContent(`${V2}/repositories/ns/app`, { maxBytes: 100 }),
      ]) {
        const err = await caught(call);
        expect(err, d.name).toBeInstanceOf(PathNotFoundError);
        expect((err as PathNotFoundError).driver).toBe(d.name);
        expect((err as PathNotFoundError).path).toMatch(/^\/docker\/registry\/v2\/repositories\//);
      }
    });
  });

  it('ContentTooLargeError above maxBytes; exactly maxBytes is fine', async () => {
    await each(async (d) => {
      const err = await caught(d.getContent(edge.bigBlob, { maxBytes: 256_000 }));
      expect(err, d.name).toBeInstanceOf(ContentTooLargeError);
      expect((err as ContentTooLargeError).maxBytes).toBe(256_000);
      expect((await d.getContent(edge.bigBlob, { maxBytes: edge.bigBlobSize })).length).toBe(
        edge.bigBlobSize,
      );
      const empty = `${V2}/repositories/ns/app/_manifests/tags/empty/current/link`;
      expect((await d.getContent(empty, { maxBytes: 0 })).length).toBe(0);
    });
  });

  it('InvalidPathError for paths that could escape the root', async () => {
    await each(async (d) => {
      for (const bad of [
        '/docker/../../etc/passwd',
        'docker/registry',
        '/docker//registry',
        '/docker/./x',
        '/docker/',
      ]) {
        for (const call of [
          () => d.getContent(bad, { maxBytes: 10 }),
          () => d.stat(bad),
          () => d.list(bad),
          () => d.putContent(bad, Buffer.from('x')),
        ]) {
          const err = await caught(call);
          expect(err, `${d.name} ${bad}`).toBeInstanceOf(InvalidPathError);
        }
        expect(() => d.walk(bad)).toThrow(InvalidPathError);
      }
    });
  });

  it('streams from an offset', async () => {
    await each(async (d) => {
      const stream = await d.reader(edge.bigBlob, { offset: 299_990 });
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('a'.repeat(10));
    });
  });

  it('writes and deletes lockfiles idempotently', async () => {
    const lock = '/docker/registry/lockfiles/database-in-use';
    await each(async (d) => {
      await d.putContent(lock, Buffer.from('{"version":0}'));
      await d.putContent(lock, Buffer.from('{"version":1}'));
      expect((await d.getContent(lock, { maxBytes: 100 })).toString()).toBe('{"version":1}');
      await d.delete(lock);
      await d.delete(lock);
      expect(await caught(d.getContent(lock, { maxBytes: 100 }))).toBeInstanceOf(PathNotFoundError);
      const counts = d.requestCounts();
      expect(counts.put).toBeGreaterThanOrEqual(2);
      expect(counts.delete).toBeGreaterThanOrEqual(2);
    });
  });
});

describe('filesystem symlinks', () => {
  let root: string;
  let outside: string;
  let driver: StorageDriver;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'regdb-symlinks-'));
    outside = mkdtempSync(join(tmpdir(), 'regdb-outside-'));
    writeFileSync(join(outside, 'secret'), 'do not read');
    const repo = join(root, 'docker/registry/v2/repositories/ns/app/_manifests/tags');
    mkdirSync(join(repo, 'ok/current'), { recursive: true });
    writeFileSync(join(repo, 'ok/current/link'), 'sha256:0');
    symlinkSync(join(outside, 'secret'), join(repo, 'ok/current/escape'));
    symlinkSync(outside, join(repo, 'escaped-dir'));
    symlinkSync(join(repo, 'ok'), join(repo, 'inside'));
    driver = await createDriver(filesystemStorage(root));
  });
  afterAll(async () => {
    await driver.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('refuses files and directories that resolve outside the root', async () => {
    const tags = `${V2}/repositories/ns/app/_manifests/tags`;
    expect(await caught(driver.getContent(`${tags}/ok/current/escape`, { maxBytes: 100 }))).toBeInstanceOf(
      InvalidPathError,
    );
    expect(await caught(driver.getContent(`${tags}/escaped-dir/secret`, { maxBytes: 100 }))).toBeInstanceOf(
      InvalidPathError,
    );
    expect(await caught(driver.stat(`${tags}/escaped-dir/secret`))).toBeInstanceOf(InvalidPathError);
    expect(await caught(driver.reader(`${tags}/ok/current/escape`))).toBeInstanceOf(InvalidPathError);
    expect(await caught(driver.list(`${tags}/escaped-dir`))).toBeInstanceOf(InvalidPathError);
  });

  it('walks symlinks that stay inside and skips those that leave', async () => {
    const got = (await collect(driver.walk(V2))).map((f) => f.path);
    expect(got).toEqual([
      `${V2}/repositories/ns/app/_manifests/tags/inside/current/link`,
      `${V2}/repositories/ns/app/_manifests/tags/ok/current/link`,
    ]);
    expect((await driver.getContent(got[0]!, { maxBytes: 100 })).toString()).toBe('sha256:0');
  });
});
