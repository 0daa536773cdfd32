import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../../drivers/driver.js';
import {
  compareGitLabOrder,
  groupRepositories,
  pruneRepositoryWalk,
  pruneRepositoryWalkAndLayers,
  pruneRepositoryWalkWithoutTagHistory,
  withListedLayers,
  type Repository,
  type RepositoryEntry,
} from '../../../src/registry/repositories.js';

const R = '/docker/registry/v2/repositories';
// Digests of fixtures/registries/real: the group/app manifest, its config and its layer.
const APP = '37820c2141bf87ef7da900cafc5fe54b1c4f79c6985942e879f7c1566bad3234';
const CONFIG = '67db23a505a3b7280afcb5a15d22c437991a7581c244564f52a09a8a1848ba42';
const LAYER = 'f81b5d8e82c1a5fa1bc77d5fb42fdd62e6765e1737ef6a12a2ac13bfc9f9bf20';

/** The files a real registry writes for one pushed image, relative to the repositories root. */
function image(name: string, tags: string[]): string[] {
  return [
    `${name}/_layers/sha256/${CONFIG}/link`,
    `${name}/_layers/sha256/${LAYER}/link`,
    `${name}/_manifests/revisions/sha256/${APP}/link`,
    ...tags.flatMap((t) => [
      `${name}/_manifests/tags/${t}/current/link`,
      `${name}/_manifests/tags/${t}/index/sha256/${APP}/link`,
    ]),
  ];
}

/** A walk as a driver yields it: files only, bytewise order of the full path. */
function walk(relative: string[]): FileInfo[] {
  return relative
    .map((r) => `${R}/${r}`)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((path) => ({ path, size: 71 }));
}

async function* stream(files: FileInfo[], pulled?: { count: number }): AsyncGenerator<FileInfo> {
  for (const f of files) {
    if (pulled) pulled.count++;
    yield f;
  }
}

async function collect(files: FileInfo[]): Promise<RepositoryEntry[]> {
  const out: RepositoryEntry[] = [];
  for await (const entry of groupRepositories(stream(files))) out.push(entry);
  return out;
}

function repo(entries: RepositoryEntry[], name: string): Repository {
  const found = entries.find((e) => e.name === name);
  if (found?.kind !== 'repository') throw new Error(`no repository ${name}`);
  return found;
}

describe('groupRepositories', () => {
  it('makes a repository of an empty _manifests directory (empty-directory markers), naming no tag', async () => {
    const files: FileInfo[] = [
      ...walk(image('group/app', ['latest'])),
      { path: `${R}/group/empty/_manifests/`, size: 0, isDir: true },
      { path: `${R}/group/hollow/_manifests/tags/`, size: 0, isDir: true },
      { path: `${R}/group/uploads-only/_uploads/`, size: 0, isDir: true },
    ];
    const entries = await collect(files);
    expect(entries.map((e) => e.name)).toEqual(['group/app', 'group/empty', 'group/hollow']);
    for (const name of ['group/empty', 'group/hollow']) {
      const r = repo(entries, name);
      expect(r.tags).toEqual([]);
      expect(r.revisions.size).toBe(0);
      expect(r.problems).toEqual([]);
    }
  });

  it('collects tags, revision links and layer links of a repository', async () => {
    const entries = await collect(walk(image('group/app', ['stable', '1.0', 'latest'])));
    expect(entries).toEqual([
      {
        kind: 'repository',
        name: 'group/app',
        path: `${R}/group/app`,
        tags: ['1.0', 'latest', 'stable'].map((t) => ({
          name: t,
          currentLinkPath: `${R}/group/app/_manifests/tags/${t}/current/link`,
        })),
        revisions: new Map([[`sha256:${APP}`, `${R}/group/app/_manifests/revisions/sha256/${APP}/link`]]),
        layers: new Map([
          [`sha256:${CONFIG}`, `${R}/group/app/_layers/sha256/${CONFIG}/link`],
          [`sha256:${LAYER}`, `${R}/group/app/_layers/sha256/${LAYER}/link`],
        ]),
        // Without listing MD5s (the filesystem) only `_layers` links' sizes are kept.
        linkListing: new Map([
          [`${R}/group/app/_layers/sha256/${CONFIG}/link`, { size: 71 }],
          [`${R}/group/app/_layers/sha256/${LAYER}/link`, { size: 71 }],
        ]),
        layersListed: true,
        problems: [],
      },
    ]);
  });

  it('without _layers in the walk, adds them from a listing of that folder as the full walk had them', async () => {
    const files = walk([
      ...image('group/app', ['latest']),
      `group/app/_layers/sha256/${LAYER.slice(0, 10)}/link`,
      `group/app/_manifests/revisions/sha256/${APP.toUpperCase()}/link`,
    ]);
    const full = repo(await collect(files), 'group/app');
    const layerFiles = files.filter((f) => f.path.startsWith(`${R}/group/app/_layers/`));
    const pruned: RepositoryEntry[] = [];
    const rest = files.filter((f) => !layerFiles.includes(f));
    for await (const e of groupRepositories(stream(rest), { layersListed: false })) pruned.push(e);
    const partial = repo(pruned, 'group/app');
    expect(partial.layersListed).toBe(false);
    expect(partial.layers.size).toBe(0);
    expect(partial.problems.map((p) => p.reason)).toEqual(['invalid-format']);

    const listed = await withListedLayers(partial, stream(layerFiles));
    expect(listed.problems.map((p) => [p.path, p.reason])).toEqual([
      [`${R}/group/app/_layers/sha256/${LAYER.slice(0, 10)}/link`, 'invalid-length'],
    ]);
    expect(listed.repository.layers).toEqual(full.layers);
    expect(listed.repository.linkListing).toEqual(full.linkListing);
    expect(listed.repository.layersListed).toBe(true);
    expect(new Set(listed.repository.problems)).toEqual(new Set(full.problems));
    expect(listed.repository.tags).toEqual(full.tags);
    expect(listed.repository.revisions).toEqual(full.revisions);
  });

  it('keeps listing MD5s of links, and the history of a tag whose current link has one', async () => {
    const OTHER = 'a'.repeat(64);
    const md5Of = (path: string): string => `md5:${path.split('/').slice(-3).join('/')}`;
    const files = walk([
      ...image('group/app', ['latest']),
      `group/app/_manifests/tags/latest/index/sha256/${OTHER}/link`,
      // History entries that name no digest are no candidates.
      `group/app/_manifests/tags/latest/index/sha256/${'Z'.repeat(64)}/link`,
      `group/app/_manifests/tags/latest/index/sha256/${OTHER}/extra/link`,
      `group/app/_manifests/tags/plain/current/link`,
      `group/app/_manifests/tags/plain/index/sha256/${APP}/link`,
    ]).map((f) => (f.path.includes('/tags/plain/') ? f : { ...f, md5: md5Of(f.path) }));
    const r = repo(await collect(files), 'group/app');
    expect(r.tags).toEqual([
      {
        name: 'latest',
        currentLinkPath: `${R}/group/app/_manifests/tags/latest/current/link`,
        currentLinkListing: { md5: 'md5:latest/current/link', history: [`sha256:${APP}`, `sha256:${OTHER}`] },
      },
      // No MD5 for its current link: no history kept.
      { name: 'plain', currentLinkPath: `${R}/group/app/_manifests/tags/plain/current/link` },
    ]);
    const revision = `${R}/group/app/_manifests/revisions/sha256/${APP}/link`;
    expect(r.linkListing).toEqual(
      new Map([
        [`${R}/group/app/_layers/sha256/${CONFIG}/link`, { size: 71, md5: `md5:sha256/${CONFIG}/link` }],
        [`${R}/group/app/_layers/sha256/${LAYER}/link`, { size: 71, md5: `md5:sha256/${LAYER}/link` }],
        [revision, { md5: `md5:sha256/${APP}/link` }],
      ]),
    );
  });

  it('finds nested repositories on both sides of the parent, in walk order', async () => {
    const files = walk([
      ...image('a', ['t']),
      ...image('a/1x', ['t']),
      ...image('a/B', ['t']),
      ...image('a/b', ['t']),
      ...image('a/b/c', ['t']),
      ...image('a-b', ['t']),
      ...image('a.b', ['t']),
      `a/_uploads/0d9e8f7a/data`,
    ]);
    const entries = await collect(files);
    expect(entries.map((e) => `${e.kind}:${e.name}`)).toEqual([
      'repository:a-b',
      'repository:a.b',
      'repository:a/1x',
      'invalid-name:a/B',
      'repository:a',
      'repository:a/b',
      'repository:a/b/c',
    ]);
    // Each repository got exactly its own files.
    for (const e of entries) {
      if (e.kind !== 'repository') continue;
      expect(e.tags).toEqual([
        { name: 't', currentLinkPath: `${R}/${e.name}/_manifests/tags/t/current/link` },
      ]);
      expect([...e.layers.values()].every((p) => p.startsWith(`${R}/${e.name}/_layers/`))).toBe(true);
    }
    expect(entries.map((e) => e.name).sort(compareGitLabOrder)).toEqual([
      'a/1x',
      'a/B',
      'a',
      'a/b',
      'a/b/c',
      'a-b',
      'a.b',
    ]);
  });

  it('does not count _uploads-only or _layers-only directories as repositories', async () => {
    const entries = await collect(
      walk([
        'uploads-only/_uploads/0d9e8f7a/data',
        'uploads-only/_uploads/0d9e8f7a/startedat',
        `layers-only/_layers/sha256/${LAYER}/link`,
        ...image('real', ['v1']),
        'real/README',
        'stray-file',
      ]),
    );
    expect(entries.map((e) => e.name)).toEqual(['real']);
  });

  it('reports invalid names and keeps going; a domain-like first component is valid', async () => {
    const entries = await collect(
      walk([
        ...image('Foo', ['latest']),
        ...image('Foo/bar', ['latest']),
        ...image('Upper.Example/app', ['x']),
      ]),
    );
    expect(entries.map((e) => `${e.kind}:${e.name}`)).toEqual([
      'invalid-name:Foo',
      'repository:Foo/bar',
      'repository:Upper.Example/app',
    ]);
    expect(entries[0]).toEqual({
      kind: 'invalid-name',
      name: 'Foo',
      path: `${R}/Foo`,
      reason: 'invalid-format',
      message:
        'repository name "Foo" does not match the reference grammar: component "Foo", which is not lowercase letters and digits joined by ".", "_", "__" or "-"',
    });
  });

  it('reports a _manifests directly below the root as a repository with an empty name', async () => {
    const entries = await collect(walk([`_manifests/tags/t/current/link`]));
    expect(entries).toEqual([
      { kind: 'invalid-name', name: '', path: R, reason: 'empty', message: 'repository name is empty' },
    ]);
  });

  it('sees tags without current/link, tags that are files, and sorts tags bytewise', async () => {
    const entries = await collect(
      walk([
        `r/_manifests/tags/a/current/link`,
        `r/_manifests/tags/a-b/current/link`,
        `r/_manifests/tags/a.b/current/link`,
        `r/_manifests/tags/B/current/link`,
        `r/_manifests/tags/history-only/index/sha256/${APP}/link`,
        `r/_manifests/tags/plain-file`,
        `r/_manifests/tags/index/current/link`,
      ]),
    );
    expect(repo(entries, 'r').tags).toEqual([
      { name: 'B', currentLinkPath: `${R}/r/_manifests/tags/B/current/link` },
      { name: 'a', currentLinkPath: `${R}/r/_manifests/tags/a/current/link` },
      { name: 'a-b', currentLinkPath: `${R}/r/_manifests/tags/a-b/current/link` },
      { name: 'a.b', currentLinkPath: `${R}/r/_manifests/tags/a.b/current/link` },
      { name: 'history-only', currentLinkPath: undefined },
      { name: 'index', currentLinkPath: `${R}/r/_manifests/tags/index/current/link` },
      { name: 'plain-file', currentLinkPath: undefined },
    ]);
  });

  it('counts a repository with revisions but no tags directory', async () => {
    const entries = await collect(walk([`no-tags/_manifests/revisions/sha256/${APP}/link`]));
    expect(repo(entries, 'no-tags')).toMatchObject({ tags: [], problems: [] });
    expect(repo(entries, 'no-tags').revisions.size).toBe(1);
  });

  it('reports link paths that do not name a storable digest, without failing', async () => {
    const sha384 =
      'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7';
    const entries = await collect(
      walk([
        `r/_layers/sha256/${LAYER.slice(0, 10)}/link`,
        `r/_layers/sha256/${LAYER}/data`,
        `r/_manifests/revisions/sha384/${sha384}/link`,
        `r/_manifests/revisions/sha256/${APP.toUpperCase()}/link`,
        `r/_manifests/revisions/sha256/${APP}/link`,
      ]),
    );
    const r = repo(entries, 'r');
    expect(r.revisions).toEqual(
      new Map([[`sha256:${APP}`, `${R}/r/_manifests/revisions/sha256/${APP}/link`]]),
    );
    expect(r.layers.size).toBe(0);
    expect(r.problems.map((p) => [p.path.slice(R.length + 1), p.reason])).toEqual([
      [`r/_layers/sha256/${LAYER.slice(0, 10)}/link`, 'invalid-length'],
      [`r/_layers/sha256/${LAYER}/data`, 'unexpected-path'],
      [`r/_manifests/revisions/sha256/${APP.toUpperCase()}/link`, 'invalid-format'],
      [`r/_manifests/revisions/sha384/${sha384}/link`, 'sha384-unstorable'],
    ]);
    expect(r.problems[1]?.message).toBe(
      `${R}/r/_layers/sha256/${LAYER}/data is not an <algorithm>/<hex>/link file; ignored`,
    );
  });

  it('streams: the first repository comes out before the rest of the walk is read', async () => {
    const files = walk([...image('a', ['t']), ...image('b', ['t']), ...image('c', ['t'])]);
    const pulled = { count: 0 };
    const it = groupRepositories(stream(files, pulled));
    const first = await it.next();
    expect(first.value).toMatchObject({ name: 'a' });
    // The files of `a` plus the one file of `b` that showed `a` was complete.
    expect(pulled.count).toBe(image('a', ['t']).length + 1);
    await it.return(undefined);
  });

  it('ignores paths outside the repositories root', async () => {
    const entries = await collect([
      { path: `/docker/registry/v2/blobs/sha256/37/${APP}/data`, size: 345 },
      ...walk(image('x', ['t'])),
    ]);
    expect(entries.map((e) => e.name)).toEqual(['x']);
  });

  it('refuses a walk that is not in bytewise order', async () => {
    const files = walk(image('a', ['t'])).reverse();
    await expect(collect(files)).rejects.toThrow(
      /The storage walk is out of order: .* came after .*bytewise order/,
    );
  });
});

describe('walk prune predicates', () => {
  it('prune _uploads and unknown underscore directories, keep _manifests and _layers', () => {
    expect(pruneRepositoryWalk(`${R}/group/app/_uploads`)).toBe(true);
    expect(pruneRepositoryWalk(`${R}/group/app/_uploads/0d9e8f7a`)).toBe(true);
    expect(pruneRepositoryWalk(`${R}/group/app/_trash`)).toBe(true);
    expect(pruneRepositoryWalk(`${R}/group/app/_manifests`)).toBe(false);
    expect(pruneRepositoryWalk(`${R}/group/app/_layers`)).toBe(false);
    expect(pruneRepositoryWalk(`${R}/group/app`)).toBe(false);
    expect(pruneRepositoryWalk(`${R}/group/app/_manifests/tags/t/index`)).toBe(false);
    expect(pruneRepositoryWalk(R)).toBe(false);
    expect(pruneRepositoryWalk('/docker/registry/v2/blobs/_x')).toBe(false);
  });

  it("for step two, also prunes each repository's _layers, and nothing named _layers above it", () => {
    const p = pruneRepositoryWalkAndLayers;
    expect(p(`${R}/group/app/_layers`)).toBe(true);
    expect(p(`${R}/_layers`)).toBe(true);
    expect(p(`${R}/group/app/_uploads`)).toBe(true);
    expect(p(`${R}/group/app/_manifests`)).toBe(false);
    expect(p(`${R}/group/app/_manifests/_layers`)).toBe(false);
    expect(p(`${R}/group/app`)).toBe(false);
    expect(p(`${R}/group/app/layers`)).toBe(false);
    expect(p('/docker/registry/v2/blobs/_layers')).toBe(false);
  });

  it('optionally prunes tag history, but not a tag named "index"', () => {
    const p = pruneRepositoryWalkWithoutTagHistory;
    expect(p(`${R}/group/app/_manifests/tags/t/index`)).toBe(true);
    expect(p(`${R}/group/app/_manifests/tags/index`)).toBe(false);
    expect(p(`${R}/group/app/_manifests/tags/index/index`)).toBe(true);
    expect(p(`${R}/group/app/_manifests/tags/t/current`)).toBe(false);
    expect(p(`${R}/group/app/_manifests/revisions`)).toBe(false);
    expect(p(`${R}/group/app/_uploads`)).toBe(true);
  });
});
