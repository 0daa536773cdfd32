/**
 * `regdb database verify` (issue 14 §2) on the real registry tree: a clean import verifies clean
 * (regdb's defaults, GitLab's importer semantics, and with dangling manifests); every kind of
 * difference planted in the database, and in storage, is found by kind, with its repository and
 * digest; exit statuses 0 / 1 / 2 through the CLI; the run writes nothing on either side.
 * The plants are hand-written SQL and file edits here; what each must produce follows from them.
 */
import { appendFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verify, type VerifyResult } from '../../src/importer/verify.js';
import type { DifferenceKind } from '../../src/importer/verify-compare.js';
import { runCli } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import { dumpTables, resetImportTables } from '../helpers/golden.js';
import { copyTree, importTree, type TreeCopy } from '../helpers/import-run.js';
import { testWork } from '../helpers/work.js';
import { writeImportConfig } from './import-kill-support.js';

const work = testWork('verify', { timeout: 600_000 });
let db: TestDatabase;
beforeAll(async () => {
  db = await work.database();
}, 600_000);

const REPOS = 'docker/registry/v2/repositories';
const BLOBS = 'docker/registry/v2/blobs/sha256';

async function imported(o: Parameters<typeof importTree>[2] = {}): Promise<TreeCopy> {
  await resetImportTables(db.pool);
  const t = await copyTree('real');
  work.defer(() => t.remove());
  await importTree(db.pool, t, o);
  return t;
}

const run = (t: TreeCopy, full = true) => verify(t.driver, db.pool, { full, concurrency: 2 });

/** Kinds with a non-zero count. */
const found = (r: VerifyResult) =>
  Object.fromEntries(Object.entries(r.counts).filter(([, n]) => n > 0)) as Partial<
    Record<DifferenceKind, number>
  >;

const link = (t: TreeCopy, repo: string, tag: string) =>
  readFileSync(join(t.root, REPOS, repo, '_manifests/tags', tag, 'current/link'), 'utf8');
const blobPath = (t: TreeCopy, digest: string) =>
  join(t.root, BLOBS, digest.slice(7, 9), digest.slice(7), 'data');
const manifestJson = (t: TreeCopy, digest: string) =>
  JSON.parse(readFileSync(blobPath(t, digest), 'utf8')) as {
    config?: { digest: string };
    layers?: { digest: string }[];
    manifests?: { digest: string }[];
  };

/** A repository's (namespace id, id) as SQL, for the plants. */
const REPO = (path: string) => `(SELECT top_level_namespace_id, id FROM repositories WHERE path = '${path}')`;
const hex = (digest: string) => `'\\x01${digest.slice(7)}'::bytea`;

describe('verify', { timeout: 300_000 }, () => {
  it('a clean import verifies clean: regdb defaults, GitLab semantics, dangling manifests', async () => {
    for (const o of [{}, { referrers: false }, { referrers: false, danglingManifests: true }]) {
      const t = await imported(o);
      const r = await run(t);
      expect(found(r)).toEqual({});
      expect(r.equal).toBe(true);
      expect(r.repositories.checked).toBe(7);
      expect(r.checked.tags).toBe(9);
    }
  });

  it('finds every kind planted in the database', async () => {
    const t = await imported();
    const referrer = 'sha256:1f7c730e4a008f8f3b10b97cf7ec0b17869f26f7d14b1fee95406c8baadd1992';
    const appImage = link(t, 'group/app', 'latest');
    const multiList = link(t, 'group/multi', 'latest');
    const multiChild = manifestJson(t, multiList).manifests![0]!.digest;
    const subImage = link(t, 'group/app/sub', 'v1');
    const subLayer = manifestJson(t, subImage).layers![0]!.digest;
    const subLayer2 = manifestJson(t, subImage).layers![1]!.digest;
    const dockerList = link(t, 'group/multi/docker', 'latest');
    const dockerChild = manifestJson(t, dockerList).manifests![0]!.digest;
    const dockerLayer = manifestJson(t, dockerChild).layers![0]!.digest;
    const artifact = link(t, 'other/artifacts', 'rocket-v1');
    const artifactLayer = manifestJson(t, artifact).layers![0]!.digest;
    const bigconfig = link(t, 'group/bigconfig', 'latest');
    const ghostBlob = 'sha256:' + 'ab'.repeat(32);
    const mt = (m: string) => `(SELECT id FROM media_types WHERE media_type = '${m}')`;
    const m = (path: string, digest: string) =>
      `(SELECT m.id FROM manifests m, ${REPO(path)} r WHERE m.top_level_namespace_id = r.top_level_namespace_id AND m.repository_id = r.id AND m.digest = ${hex(digest)})`;
    const inRepo = (alias: string, path: string) =>
      `(${alias}.top_level_namespace_id, ${alias}.repository_id) IN ${REPO(path)}`;
    await db.pool.query(`
      UPDATE tags t SET manifest_id = ${m('group/app', referrer)} WHERE ${inRepo('t', 'group/app')} AND name = '1.0';
      INSERT INTO tags (top_level_namespace_id, repository_id, manifest_id, name)
        SELECT r.top_level_namespace_id, r.id, ${m('group/app/sub', subImage)}, 'ghost' FROM ${REPO('group/app/sub')} r;
      DELETE FROM tags t WHERE ${inRepo('t', 'group/multi/docker')} AND name = 'latest';
      UPDATE manifests x SET payload = payload || '\\x20'::bytea WHERE ${inRepo('x', 'group/bigconfig')};
      UPDATE manifests x SET media_type_id = ${mt('application/vnd.oci.image.index.v1+json')}
        WHERE ${inRepo('x', 'other/tool')};
      DELETE FROM layers l WHERE ${inRepo('l', 'group/app/sub')} AND digest = ${hex(subLayer)};
      INSERT INTO layers (top_level_namespace_id, repository_id, manifest_id, digest, media_type_id, size)
        SELECT top_level_namespace_id, repository_id, manifest_id, ${hex(appImage)}, media_type_id, 1
        FROM layers l WHERE ${inRepo('l', 'group/multi')} AND manifest_id = ${m('group/multi', multiChild)} LIMIT 1;
      UPDATE layers l SET media_type_id = ${mt('application/vnd.docker.distribution.manifest.v2+json')}
        WHERE ${inRepo('l', 'other/artifacts')} AND digest = ${hex(artifactLayer)};
      DELETE FROM manifest_references x WHERE ${inRepo('x', 'group/multi')} AND child_id = ${m('group/multi', multiChild)};
      INSERT INTO manifest_references (top_level_namespace_id, repository_id, parent_id, child_id)
        SELECT r.top_level_namespace_id, r.id, ${m('group/app', appImage)}, ${m('group/app', referrer)} FROM ${REPO('group/app')} r;
      UPDATE blobs SET size = size + 1 WHERE digest = ${hex(dockerLayer)};
      UPDATE blobs SET media_type_id = ${mt('application/vnd.oci.image.layer.v1.tar+gzip')} WHERE digest = ${hex(subLayer2)};
      INSERT INTO blobs (digest, media_type_id, size) VALUES (${hex(ghostBlob)}, ${mt('application/octet-stream')}, 3);
      INSERT INTO repositories (top_level_namespace_id, name, path)
        SELECT id, 'ghost', 'other/ghost' FROM top_level_namespaces WHERE name = 'other';
    `);
    const r = await run(t);
    expect(found(r)).toEqual({
      'tag-digest-mismatch': 1,
      'tag-only-in-database': 1,
      'tag-only-in-storage': 1,
      'manifest-payload-mismatch': 1,
      'manifest-digest-mismatch': 1,
      'manifest-media-type-mismatch': 1,
      'layer-only-in-storage': 1,
      'layer-only-in-database': 1,
      'layer-media-type-mismatch': 1,
      'reference-only-in-storage': 1,
      'reference-only-in-database': 1,
      'blob-size-mismatch': 1,
      'blob-media-type-mismatch': 1,
      'blob-only-in-database': 1,
      'repository-only-in-database': 1,
    });
    const where = (kind: DifferenceKind) => r.differences.find((d) => d.kind === kind)!;
    expect(where('tag-digest-mismatch')).toMatchObject({
      repository: 'group/app',
      tag: '1.0',
      database: referrer,
    });
    expect(where('tag-only-in-database')).toMatchObject({ repository: 'group/app/sub', tag: 'ghost' });
    expect(where('tag-only-in-storage')).toMatchObject({ repository: 'group/multi/docker', tag: 'latest' });
    expect(where('manifest-payload-mismatch')).toMatchObject({
      repository: 'group/bigconfig',
      digest: bigconfig,
    });
    expect(where('manifest-media-type-mismatch')).toMatchObject({
      repository: 'other/tool',
      digest: appImage,
    });
    expect(where('layer-only-in-storage')).toMatchObject({ repository: 'group/app/sub', digest: subLayer });
    expect(where('layer-only-in-database')).toMatchObject({ repository: 'group/multi', digest: appImage });
    expect(where('layer-media-type-mismatch')).toMatchObject({
      repository: 'other/artifacts',
      digest: artifactLayer,
    });
    expect(where('reference-only-in-storage')).toMatchObject({
      repository: 'group/multi',
      digest: multiChild,
    });
    expect(where('reference-only-in-database')).toMatchObject({ repository: 'group/app', digest: referrer });
    expect(where('blob-size-mismatch')).toMatchObject({ digest: dockerLayer });
    expect(where('blob-media-type-mismatch')).toMatchObject({ digest: subLayer2 });
    expect(where('blob-only-in-database')).toMatchObject({ digest: ghostBlob });
    expect(where('repository-only-in-database')).toMatchObject({ repository: 'other/ghost' });
    // Without --full the table's blobs are checked through the repositories that link them only.
    expect(found(await run(t, false))['blob-only-in-database']).toBeUndefined();
  });

  it('finds every kind planted in storage', async () => {
    const t = await imported();
    const repo = (p: string) => join(t.root, REPOS, p);
    const referrer = 'sha256:1f7c730e4a008f8f3b10b97cf7ec0b17869f26f7d14b1fee95406c8baadd1992';
    const appImage = link(t, 'group/app', 'latest');
    const subImage = link(t, 'group/app/sub', 'v1');
    const subConfig = manifestJson(t, subImage).config!.digest;
    const dockerList = link(t, 'group/multi/docker', 'latest');
    const dockerChild = manifestJson(t, dockerList).manifests![1]!.digest;
    const dockerLayer = manifestJson(t, dockerChild).layers![0]!.digest;
    const bigconfig = link(t, 'group/bigconfig', 'latest');
    const artifact = link(t, 'other/artifacts', 'rocket-v1');
    const toolLayer = manifestJson(t, link(t, 'other/tool', 'shared')).layers![0]!.digest;
    const extraBlob = 'sha256:' + 'cd'.repeat(32);

    cpSync(repo('other/tool'), repo('other/tool2'), { recursive: true });
    writeFileSync(join(repo('group/app'), '_manifests/tags/stable/current/link'), referrer);
    mkdirSync(join(repo('group/app'), '_manifests/tags/new/current'), { recursive: true });
    writeFileSync(join(repo('group/app'), '_manifests/tags/new/current/link'), appImage);
    rmSync(join(repo('group/app/sub'), '_manifests/tags/v1'), { recursive: true });
    rmSync(join(repo('other/artifacts'), '_manifests/revisions/sha256', artifact.slice(7)), {
      recursive: true,
    });
    appendFileSync(blobPath(t, bigconfig), ' ');
    rmSync(join(repo('group/multi/docker'), '_layers/sha256', dockerLayer.slice(7)), { recursive: true });
    rmSync(blobPath(t, subConfig));
    appendFileSync(blobPath(t, toolLayer), 'x');
    mkdirSync(join(t.root, BLOBS, 'cd', extraBlob.slice(7)), { recursive: true });
    writeFileSync(blobPath(t, extraBlob), 'extra');

    const r = await run(t);
    expect(found(r)).toEqual({
      'repository-only-in-storage': 1,
      'tag-digest-mismatch': 1,
      'tag-only-in-storage': 1,
      'tag-only-in-database': 1,
      'manifest-only-in-database': 1,
      'manifest-payload-mismatch': 1,
      'layer-only-in-database': 1,
      'blob-only-in-database': 1,
      // The layer, and the manifest's own blob (a blobs row since step three).
      'blob-size-mismatch': 2,
      'blob-only-in-storage': 1,
    });
    const where = (kind: DifferenceKind) => r.differences.find((d) => d.kind === kind)!;
    expect(where('repository-only-in-storage')).toMatchObject({ repository: 'other/tool2' });
    expect(where('tag-digest-mismatch')).toMatchObject({
      repository: 'group/app',
      tag: 'stable',
      storage: referrer,
    });
    expect(where('tag-only-in-storage')).toMatchObject({ repository: 'group/app', tag: 'new' });
    expect(where('tag-only-in-database')).toMatchObject({ repository: 'group/app/sub', tag: 'v1' });
    expect(where('manifest-only-in-database')).toMatchObject({
      repository: 'other/artifacts',
      digest: artifact,
    });
    expect(where('manifest-payload-mismatch')).toMatchObject({
      repository: 'group/bigconfig',
      digest: bigconfig,
    });
    expect(where('layer-only-in-database')).toMatchObject({
      repository: 'group/multi/docker',
      digest: dockerLayer,
    });
    expect(where('blob-only-in-database')).toMatchObject({ digest: subConfig });
    expect(
      r.differences
        .filter((d) => d.kind === 'blob-size-mismatch')
        .map((d) => d.digest)
        .sort(),
    ).toEqual([toolLayer, bigconfig].sort());
    expect(where('blob-only-in-storage')).toMatchObject({ digest: extraBlob });
  });
});

describe('verify through the CLI', { timeout: 300_000 }, () => {
  it('exit 0 when equal, 1 with a table and JSON by kind, 2 on usage errors; writes nothing', async () => {
    const t = await imported();
    const config = writeImportConfig(work.path, db, t.root);
    const before = await dumpTables(db.pool);
    const clean = await runCli(['database', 'verify', '--full', config]);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('No differences');

    const one = await runCli(['database', 'verify', '--repository', 'group/app', '--json', config]);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ scope: 'repository', equal: true });
    const sample = await runCli(['database', 'verify', '--sample', '3', config]);
    expect(sample.code).toBe(0);
    expect(sample.stdout).toContain('a sample of 3 of 7 repositories');

    rmSync(join(t.root, REPOS, 'group/app/_manifests/tags/stable'), { recursive: true });
    const diff = await runCli(['database', 'verify', config]);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/tag-only-in-database\s*│\s*1/);
    expect(diff.stderr).toBe('regdb: the database differs from storage: 1 difference (report above)\n');
    const json = await runCli(['database', 'verify', '--json', config]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as VerifyResult;
    expect(report.counts['tag-only-in-database']).toBe(1);
    expect(report.differences).toEqual([
      {
        kind: 'tag-only-in-database',
        repository: 'group/app',
        tag: 'stable',
        database: link(t, 'group/app', 'latest'),
      },
    ]);

    const big = await runCli(['database', 'verify', '--sample', '8', config]);
    expect(big.code).toBe(2);
    expect(big.stderr).toBe('regdb: --sample 8 is larger than the store: storage has 7 repositories\n');
    const unknown = await runCli(['database', 'verify', '--repository', 'group/none', config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown repository "group/none"');
    const both = await runCli(['database', 'verify', '--sample', '2', '--full', config]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--sample and --full cannot be used together');

    expect(await dumpTables(db.pool)).toEqual(before);
  });
});
