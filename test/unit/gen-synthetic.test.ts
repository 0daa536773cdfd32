import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../scripts/lib/prng.js';
import { corpusFiles, type CorpusCounts, type CorpusFile } from '../../scripts/lib/synthetic-files.js';
import { MEDIA, imageManifest, layout, toBlob } from '../../scripts/lib/synthetic-content.js';
import {
  apportion,
  layerCount,
  planCorpus,
  scaleParams,
  type CorpusParams,
} from '../../scripts/lib/synthetic-plan.js';

const SMALL: CorpusParams = { repositories: 60, tags: 600, layerRefs: 3000, sharedLayers: 500, seed: 7 };

function collect(params: CorpusParams): { files: CorpusFile[]; counts: CorpusCounts } {
  const gen = corpusFiles(planCorpus(params));
  const files: CorpusFile[] = [];
  let step = gen.next();
  while (step.done !== true) {
    files.push(step.value);
    step = gen.next();
  }
  return { files, counts: step.value };
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

describe('prng', () => {
  it('gives the same sequence for the same seed parts and a different one otherwise', () => {
    const a = createRng(1, 2, 3);
    const b = createRng(1, 2, 3);
    const c = createRng(1, 2, 4);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
    for (const v of seqA) expect(v >= 0 && v < 1).toBe(true);
  });
});

describe('apportion and layerCount', () => {
  it('splits a total exactly', () => {
    expect(apportion(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(apportion(7, [0, 2, 0])).toEqual([0, 7, 0]);
    expect(apportion(5, [0, 0])).toEqual([0, 0]);
  });

  it('gives non-negative layer counts summing to layerRefs', () => {
    for (const [L, M] of [
      [100000, 17853],
      [3000, 611],
      [10, 37],
      [0, 5],
    ] as const) {
      const p = { ...SMALL, layerRefs: L };
      const counts = Array.from({ length: M }, (_, j) => layerCount(p, M, j));
      expect(counts.reduce((s, n) => s + n, 0)).toBe(L);
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(0);
    }
    const varied = Array.from({ length: 1000 }, (_, j) => layerCount({ ...SMALL, layerRefs: 5600 }, 1000, j));
    expect(new Set(varied).size).toBeGreaterThan(3);
  });
});

describe('planCorpus', () => {
  it('is deterministic in its parameters', () => {
    expect(planCorpus(SMALL)).toEqual(planCorpus(SMALL));
    expect(planCorpus({ ...SMALL, seed: 8 })).not.toEqual(planCorpus(SMALL));
  });

  it('has the requested repositories and tags, unique valid names, nested namespaces', () => {
    const plan = planCorpus(scaleParams(SMALL, 2));
    expect(plan.repositories).toHaveLength(120);
    expect(plan.repositories.reduce((s, r) => s + r.tags.length, 0)).toBe(1200);
    const paths = plan.repositories.map((r) => r.path);
    expect(new Set(paths).size).toBe(paths.length);
    // reference.WithName components (spec §1.3).
    for (const p of paths)
      expect(p).toMatch(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)+$/);
    expect(new Set(paths.map((p) => p.split('/')[0])).size).toBe(6);
    expect(paths.some((p) => p.split('/').length >= 3)).toBe(true);
    for (const r of plan.repositories) {
      expect(new Set(r.tags.map((t) => t.name)).size).toBe(r.tags.length);
    }
  });
});

describe('corpusFiles', () => {
  const { files, counts } = collect(SMALL);
  const byPath = new Map(files.map((f) => [f.path, f]));

  it('is byte-for-byte deterministic', () => {
    const again = collect(SMALL).files;
    expect(again.map((f) => f.path)).toEqual(files.map((f) => f.path));
    expect(sha256(again.map((f) => sha256(f.data)).join())).toBe(
      sha256(files.map((f) => sha256(f.data)).join()),
    );
  });

  it('writes each path once and stores every blob under the sha256 of its bytes', () => {
    expect(byPath.size).toBe(files.length);
    const blobs = files.filter((f) => f.path.startsWith('docker/registry/v2/blobs/'));
    expect(blobs.length).toBeGreaterThan(SMALL.sharedLayers);
    for (const b of blobs) expect(b.path).toBe(layout.blobData(sha256(b.data)));
  });

  it('writes links as sha256:<hex> without a newline, pointing at existing blobs', () => {
    const links = files.filter((f) => f.path.endsWith('/link'));
    expect(links.length).toBeGreaterThan(0);
    for (const l of links) {
      expect(l.data).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(byPath.has(layout.blobData(String(l.data).slice(7)))).toBe(true);
    }
    for (const l of files.filter((f) => f.role === 'revision-link')) {
      // The link's directory is the digest it holds.
      expect(l.path).toContain(`/revisions/sha256/${String(l.data).slice(7)}/link`);
    }
  });

  it('builds manifests whose descriptors match real blobs and whose blobs are linked to the repository', () => {
    const repoOf = (p: string): string =>
      p.slice('docker/registry/v2/repositories/'.length).split('/_manifests/')[0]!;
    const kinds = new Map<string, number>();
    for (const rev of files.filter((f) => f.role === 'revision-link')) {
      const repo = repoOf(rev.path);
      const manifest = JSON.parse(
        byPath.get(layout.blobData(String(rev.data).slice(7)))!.data.toString(),
      ) as {
        mediaType: string;
        config?: { digest: string; size: number; mediaType: string };
        layers?: { digest: string; size: number }[];
        manifests?: { digest: string; size: number; platform: unknown }[];
      };
      kinds.set(manifest.mediaType, (kinds.get(manifest.mediaType) ?? 0) + 1);
      const linked = [...(manifest.config ? [manifest.config] : []), ...(manifest.layers ?? [])];
      for (const d of [...linked, ...(manifest.manifests ?? [])]) {
        const blob = byPath.get(layout.blobData(d.digest.slice(7)));
        expect(blob?.data.length).toBe(d.size);
      }
      for (const d of linked) expect(byPath.has(layout.layerLink(repo, d.digest.slice(7)))).toBe(true);
      for (const child of manifest.manifests ?? []) {
        expect(child.platform).toBeDefined();
        expect(byPath.has(layout.revisionLink(repo, child.digest.slice(7)))).toBe(true);
      }
    }
    expect(kinds.get(MEDIA.dockerManifest)).toBeGreaterThan(100);
    expect(kinds.get(MEDIA.ociManifest)).toBeGreaterThan(100);
    expect((kinds.get(MEDIA.dockerList) ?? 0) + (kinds.get(MEDIA.ociIndex) ?? 0)).toBe(counts.indexes);
  });

  it('counts exactly the requested tags and layer references, and uses every shared layer', () => {
    expect(counts.tags).toBe(SMALL.tags);
    expect(counts.layerRefs).toBe(SMALL.layerRefs);
    expect(files.filter((f) => f.role === 'tag-link')).toHaveLength(SMALL.tags);
    const shared = new Set(
      files
        .filter((f) => f.role === 'layer-blob' && f.data.toString().startsWith('regdb synthetic layer'))
        .map((f) => f.path),
    );
    expect(shared.size).toBe(SMALL.sharedLayers);
    const referenced = new Set<string>();
    for (const f of files.filter((x) => x.role === 'manifest-blob')) {
      for (const l of (JSON.parse(f.data.toString()) as { layers?: { digest: string }[] }).layers ?? []) {
        referenced.add(layout.blobData(l.digest.slice(7)));
      }
    }
    for (const p of shared) expect(referenced.has(p)).toBe(true);
    const aliased = new Set(files.filter((f) => f.role === 'tag-link').map((f) => String(f.data)));
    expect(aliased.size).toBeLessThan(SMALL.tags);
    expect(counts.referrers).toBeGreaterThan(0);
  });
});

describe('imageManifest', () => {
  it('indents Docker schema 2 with three spaces and keeps OCI compact', () => {
    const config = { mediaType: MEDIA.dockerConfig, size: 2, digest: `sha256:${'a'.repeat(64)}` };
    const docker = imageManifest('docker', config, []).bytes.toString();
    expect(
      docker.startsWith(
        '{\n   "schemaVersion": 2,\n   "mediaType": "application/vnd.docker.distribution.manifest.v2+json"',
      ),
    ).toBe(true);
    const oci = imageManifest('oci', config, []);
    expect(oci.bytes.toString()).toBe(
      `{"schemaVersion":2,"mediaType":"${MEDIA.ociManifest}","config":${JSON.stringify(config)},"layers":[]}`,
    );
    expect(oci.hex).toBe(toBlob(oci.bytes.toString()).hex);
    expect(oci.hex).toBe(sha256(oci.bytes));
  });
});
