import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { buildRepositoryRows, type BuildOptions } from '../../src/importer/rows.js';
import type { ConfigFetch, LayerAccess, ManifestFetch, RepositoryFacts } from '../../src/importer/types.js';
import type { RepositoryRows } from '../../src/db/import-rows.js';
import { formatDigest, parseLink, type Digest } from '../../src/registry/digest.js';
import { parseManifest } from '../../src/registry/manifest.js';

const sha = (s: string | Buffer): string => 'sha256:' + createHash('sha256').update(s).digest('hex');

const CONFIG = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const L1 = sha('layer one');
const L2 = sha('layer two');
const FOREIGN = sha('foreign');

function docker(
  config: Buffer,
  layers: { digest: string; size: number; mediaType?: string }[],
  cfgType?: string,
): Buffer {
  return Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: {
          mediaType: cfgType ?? 'application/vnd.docker.container.image.v1+json',
          size: config.length,
          digest: sha(config),
        },
        layers: layers.map((l) => ({
          mediaType: l.mediaType ?? 'application/vnd.docker.image.rootfs.diff.tar.gzip',
          size: l.size,
          digest: l.digest,
        })),
      },
      null,
      3,
    ),
  );
}

class Repo {
  tags: { name: string; link: ReturnType<typeof parseLink> | null }[] = [];
  manifests = new Map<string, ManifestFetch>();
  configs = new Map<string, ConfigFetch>();
  layers = new Map<string, LayerAccess>();
  untagged: string[] = [];
  existing = new Set<string>();
  constructor(public path = 'group/app') {}
  manifest(payload: Buffer): string {
    const d = sha(payload);
    this.manifests.set(d, { kind: 'payload', payload, parsed: parseManifest(payload) });
    return d;
  }
  tag(name: string, content: string | null): this {
    this.tags.push({ name, link: content === null ? null : parseLink(content) });
    return this;
  }
  config(payload: Buffer): this {
    this.configs.set(sha(payload), { kind: 'payload', payload });
    return this;
  }
  layer(...ds: string[]): this {
    for (const d of ds) this.layers.set(d, { kind: 'ok' });
    return this;
  }
  facts(): RepositoryFacts {
    return {
      path: this.path,
      tags: this.tags,
      manifests: this.manifests,
      configs: this.configs,
      layers: this.layers,
      untagged: this.untagged,
      existingManifests: this.existing,
    };
  }
}

const opts = (o: Partial<BuildOptions> = {}): BuildOptions => ({
  step: 2,
  now: new Date('2026-01-02T03:04:05Z'),
  dynamicMediaTypes: true,
  knownMediaTypes: new Set([
    'application/vnd.docker.container.image.v1+json',
    'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ]),
  referrers: true,
  ...o,
});

function rowsOf(
  r: Repo,
  o?: Partial<BuildOptions>,
): { rows: RepositoryRows; skips: { reason: string; tag?: string; gitlabFatal: boolean }[] } {
  const res = buildRepositoryRows(r.facts(), opts(o));
  if (!res.ok) throw new Error('repository skipped');
  return {
    rows: res.rows,
    skips: res.skips.map((s) => ({ reason: s.reason, tag: s.tag, gitlabFatal: s.gitlabFatal })),
  };
}
const hexes = (ds: readonly Digest[]) => ds.map(formatDigest);

describe('buildRepositoryRows: image manifests', () => {
  it('step two: one manifest behind two tags, foreign layer counted but not linked', () => {
    const r = new Repo().config(CONFIG).layer(L1, L2);
    const m = r.manifest(
      docker(CONFIG, [
        { digest: L1, size: 100 },
        { digest: FOREIGN, size: 7, mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' },
        { digest: L2, size: 200 },
        { digest: L1, size: 100 },
      ]),
    );
    r.tag('latest', m).tag('v1', m);
    const { rows, skips } = rowsOf(r);
    expect(skips).toEqual([]);
    expect(rows.namespace).toBe('group');
    expect(rows.name).toBe('app');
    expect(rows.lastPublishedAt).toBeNull();
    expect(hexes(rows.blobs.map((b) => b.digest))).toEqual([sha(CONFIG), L1, L2]);
    expect(rows.blobs.map((b) => b.size)).toEqual([BigInt(CONFIG.length), 100n, 200n]);
    expect(hexes(rows.repositoryBlobs)).toEqual([sha(CONFIG), L1, L2]);
    expect(rows.manifests).toHaveLength(1);
    const row = rows.manifests[0]!;
    expect(formatDigest(row.digest)).toBe(m);
    expect(row.totalSize).toBe(100n + 7n + 200n + 100n + BigInt(CONFIG.length) + BigInt(row.payload.length));
    expect(row.configPayload?.equals(CONFIG)).toBe(true);
    expect(row.configMediaType).toBe('application/vnd.docker.container.image.v1+json');
    expect(rows.layers.map((l) => formatDigest(l.digest))).toEqual([L1, L2]);
    expect(rows.tags?.map((t) => [t.name, formatDigest(t.manifestDigest)])).toEqual([
      ['latest', m],
      ['v1', m],
    ]);
    expect(rows.counts).toEqual({ repositories: 1, tags: 2, manifests: 1 });
  });

  it('step one: no tag rows, last_published_at set, each manifest counted once', () => {
    const r = new Repo().config(CONFIG).layer(L1);
    const m = r.manifest(docker(CONFIG, [{ digest: L1, size: 1 }]));
    r.tag('a', m).tag('b', m);
    const { rows } = rowsOf(r, { step: 1 });
    expect(rows.tags).toBeNull();
    expect(rows.lastPublishedAt?.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(rows.counts).toEqual({ repositories: 1, tags: 1, manifests: 1 });
  });

  it('a config above 256,000 bytes is neither read nor checked: payload is JSON null', () => {
    const r = new Repo().layer(L1);
    const big = { digest: sha('big config'), size: 256_001 };
    const payload = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...big },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 3, digest: L1 }],
      }),
    );
    r.tag('x', r.manifest(payload));
    const { rows, skips } = rowsOf(r);
    expect(skips).toEqual([]);
    expect(rows.manifests[0]!.configPayload?.toString()).toBe('null');
    expect(rows.blobs.map((b) => b.size)).toEqual([256_001n, 3n]);
  });

  it('an unlinked layer is skipped alone; the manifest is still imported', () => {
    const r = new Repo().config(CONFIG).layer(L2);
    r.tag(
      't',
      r.manifest(
        docker(CONFIG, [
          { digest: L1, size: 1 },
          { digest: L2, size: 2 },
        ]),
      ),
    );
    const { rows, skips } = rowsOf(r);
    expect(skips).toEqual([{ reason: 'layer-not-linked', tag: undefined, gitlabFatal: false }]);
    expect(rows.manifests).toHaveLength(1);
    expect(rows.layers.map((l) => formatDigest(l.digest))).toEqual([L2]);
    expect(rows.manifests[0]!.totalSize).toBeGreaterThan(3n);
  });

  it('a broken layer link skips the manifest and the tag, leaving no rows for it (GitLab keeps partial rows)', () => {
    const r = new Repo().config(CONFIG).layer(L1);
    const bad = parseLink('');
    if (bad.ok) throw new Error('expected a bad link');
    r.layers.set(L2, { kind: 'broken-link', link: bad });
    r.tag(
      't',
      r.manifest(
        docker(CONFIG, [
          { digest: L1, size: 1 },
          { digest: L2, size: 2 },
        ]),
      ),
    );
    const { rows, skips } = rowsOf(r);
    expect(skips).toEqual([{ reason: 'layer-link-broken', tag: 't', gitlabFatal: false }]);
    expect(rows.manifests).toEqual([]);
    expect(rows.tags).toEqual([]);
    expect(rows.blobs).toEqual([]);
    expect(rows.repositoryBlobs).toEqual([]);
    expect(rows.counts.tags).toBe(0);
  });

  it('a missing config link skips the manifest', () => {
    const r = new Repo().layer(L1);
    r.tag('t', r.manifest(docker(CONFIG, [{ digest: L1, size: 1 }])));
    expect(rowsOf(r).skips).toEqual([{ reason: 'config-not-linked', tag: 't', gitlabFatal: false }]);
  });

  it('dynamic media types off: unknown layer type becomes octet-stream, unknown config type skips', () => {
    const r = new Repo().config(CONFIG).layer(L1);
    r.tag('a', r.manifest(docker(CONFIG, [{ digest: L1, size: 1, mediaType: 'application/x-new-layer' }])));
    const off = { dynamicMediaTypes: false };
    expect(rowsOf(r, off).rows.layers[0]!.mediaType).toBe('application/octet-stream');
    expect(rowsOf(r).rows.layers[0]!.mediaType).toBe('application/x-new-layer');
    const r2 = new Repo().config(CONFIG).layer(L1);
    r2.tag('a', r2.manifest(docker(CONFIG, [{ digest: L1, size: 1 }], 'application/x-new-config')));
    expect(rowsOf(r2, off).skips).toEqual([
      { reason: 'config-media-type-unknown', tag: 'a', gitlabFatal: true },
    ]);
    expect(rowsOf(r2).rows.manifests[0]!.configMediaType).toBe('application/x-new-config');
  });
});

describe('buildRepositoryRows: tags', () => {
  it('missing, broken and wrong-length tag links are skipped with their reasons', () => {
    const r = new Repo();
    r.tag('missing', null)
      .tag('empty', '')
      .tag('format', 'sha256')
      .tag('short', 'sha256:abc')
      .tag('unknown-rev', sha('nothing here'));
    const { rows, skips } = rowsOf(r);
    expect(skips.map((s) => [s.reason, s.tag, s.gitlabFatal])).toEqual([
      ['tag-link-missing', 'missing', false],
      ['tag-link-broken', 'empty', false],
      ['tag-link-broken', 'format', false],
      ['tag-link-invalid-length', 'short', true],
      ['manifest-unknown-revision', 'unknown-rev', false],
    ]);
    expect(rows.tags).toEqual([]);
  });

  it('step two tags a manifest already in the database without reading it', () => {
    const r = new Repo();
    const d = sha('imported in step one');
    r.existing.add(d);
    r.tag('t', d);
    const { rows, skips } = rowsOf(r);
    expect(skips).toEqual([]);
    expect(rows.manifests).toEqual([]);
    expect(rows.tags?.map((t) => formatDigest(t.manifestDigest))).toEqual([d]);
  });

  it('a tag name over 255 characters is skipped', () => {
    const r = new Repo();
    const d = sha('x');
    r.existing.add(d);
    r.tag('t'.repeat(256), d);
    expect(rowsOf(r).skips.map((s) => s.reason)).toEqual(['tag-name-too-long']);
  });

  it('an invalid repository name skips the repository', () => {
    const res = buildRepositoryRows(new Repo('Bad').facts(), opts());
    expect(res.ok).toBe(false);
    expect(res.skips.map((s) => s.reason)).toEqual(['repository-name-invalid']);
  });
});

describe('buildRepositoryRows: lists', () => {
  const list = (children: string[]) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: children.map((digest) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          size: 1,
          digest,
        })),
      }),
    );

  it('imports the list row first, then children; a missing child is skipped alone', () => {
    const r = new Repo().config(CONFIG).layer(L1);
    const child = r.manifest(docker(CONFIG, [{ digest: L1, size: 5 }]));
    const missing = sha('missing child');
    const l = r.manifest(list([child, missing, child]));
    r.tag('multi', l);
    const { rows, skips } = rowsOf(r);
    expect(skips.map((s) => s.reason)).toEqual(['manifest-unknown-revision']);
    expect(rows.manifests.map((m) => formatDigest(m.digest))).toEqual([l, child]);
    expect(rows.manifests[0]!.totalSize).toBe(0n);
    expect(rows.manifests[0]!.configDigest).toBeNull();
    expect(rows.references.map((x) => [formatDigest(x.parentDigest), formatDigest(x.childDigest)])).toEqual([
      [l, child],
    ]);
    expect(rows.counts).toEqual({ repositories: 1, tags: 1, manifests: 1 });
  });

  it('a child with a broken config link skips the whole list, which leaves no rows, so no later tag finds it', () => {
    const r = new Repo().layer(L1);
    const child = r.manifest(docker(CONFIG, [{ digest: L1, size: 5 }]));
    const l = r.manifest(list([child]));
    r.tag('a', l).tag('b', l);
    const { rows, skips } = rowsOf(r);
    expect(skips.map((s) => [s.reason, s.tag])).toEqual([
      ['config-not-linked', 'a'],
      ['config-not-linked', 'b'],
    ]);
    expect(rows.manifests).toEqual([]);
    expect(rows.blobs).toEqual([]);
    expect(rows.tags).toEqual([]);
  });

  it('a nested index child skips the list; a schema 1 child is skipped alone', () => {
    const r = new Repo();
    const inner = r.manifest(list([]));
    r.tag('outer', r.manifest(list([inner])));
    const { rows, skips } = rowsOf(r);
    expect(skips.map((s) => [s.reason, s.tag, s.gitlabFatal])).toEqual([['nested-index', 'outer', true]]);
    expect(rows.manifests).toEqual([]);
    expect(rows.references).toEqual([]);

    const r2 = new Repo();
    const v1 = r2.manifest(
      Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] })),
    );
    const l2 = r2.manifest(list([v1]));
    r2.tag('with-v1', l2);
    const two = rowsOf(r2);
    expect(two.skips.map((s) => s.reason)).toEqual(['schema1']);
    expect(two.rows.manifests.map((m) => formatDigest(m.digest))).toEqual([l2]);
    expect(two.rows.tags?.map((t) => t.name)).toEqual(['with-v1']);
  });
});

describe('buildRepositoryRows: referrers', () => {
  function referrerRepo(): { r: Repo; image: string; sig: string; orphan: string } {
    const r = new Repo().config(CONFIG).layer(L1);
    const empty = Buffer.from('{}');
    r.config(empty).layer(L2);
    const image = r.manifest(docker(CONFIG, [{ digest: L1, size: 5 }]));
    const sigOf = (subject: string, extra: string) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: sha(empty) },
          layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', size: 9, digest: L2 }],
          subject: {
            mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
            size: 1,
            digest: subject,
          },
          annotations: { n: extra },
        }),
      );
    const sig = r.manifest(sigOf(image, 'sig'));
    const sigOfSig = r.manifest(sigOf(sig, 'sig of sig'));
    const orphan = r.manifest(sigOf(sha('not here'), 'orphan'));
    r.untagged.push(sigOfSig, orphan, sig);
    r.tag('latest', image);
    return { r, image, sig, orphan };
  }

  it('imports untagged manifests whose subject is imported, transitively, with subject and artifact type', () => {
    const { r, image, sig, orphan } = referrerRepo();
    const { rows, skips } = rowsOf(r);
    expect(skips).toEqual([]);
    const byDigest = new Map(rows.manifests.map((m) => [formatDigest(m.digest), m]));
    expect(byDigest.size).toBe(3);
    expect(byDigest.has(orphan)).toBe(false);
    expect(byDigest.get(image)!.subjectDigest).toBeNull();
    expect(formatDigest(byDigest.get(sig)!.subjectDigest!)).toBe(image);
    expect(byDigest.get(sig)!.artifactMediaType).toBe('application/vnd.dev.cosign.artifact.sig.v1+json');
    expect(rows.counts.manifests).toBe(1);
  });

  it('--no-referrers: GitLab behaviour, untagged referrers are dropped', () => {
    const { r, image } = referrerRepo();
    const { rows } = rowsOf(r, { referrers: false });
    expect(rows.manifests.map((m) => formatDigest(m.digest))).toEqual([image]);
    expect(rows.manifests[0]!.artifactMediaType).toBeNull();
  });
});
