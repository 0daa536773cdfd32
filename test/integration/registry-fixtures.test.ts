/**
 * The committed fixture trees are what their READMEs and quirks.json say, read through the layout
 * functions of src/registry (a plain sorted filesystem walk, independent of the drivers).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../drivers/driver.js';
import { classifyBlobFile } from '../../src/registry/blobs.js';
import { formatDigest, parseDigest, parseLink } from '../../src/registry/digest.js';
import {
  blobDataPath,
  BLOBS_ROOT,
  compareBytewise,
  layerLinkPath,
  REPOSITORIES_ROOT,
} from '../../src/registry/paths.js';
import {
  groupRepositories,
  pruneRepositoryWalk,
  type Repository,
  type RepositoryEntry,
} from '../../src/registry/repositories.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/registries');

function walk(root: string, prefix: string, prune: (dir: string) => boolean = () => false): FileInfo[] {
  const out: FileInfo[] = [];
  const visit = (dir: string): void => {
    if (prune(dir)) return;
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) visit(p);
      else out.push({ path: p, size: statSync(join(root, p)).size });
    }
  };
  visit(prefix);
  return out.sort((a, b) => compareBytewise(a.path, b.path));
}

async function repositories(root: string): Promise<RepositoryEntry[]> {
  async function* files(): AsyncGenerator<FileInfo> {
    yield* walk(root, REPOSITORIES_ROOT, pruneRepositoryWalk);
  }
  const out: RepositoryEntry[] = [];
  for await (const r of groupRepositories(files())) out.push(r);
  return out;
}

interface Descriptor {
  mediaType: string;
  digest: string;
}

describe('fixtures/registries/real', () => {
  const root = join(FIXTURES, 'real');

  it('holds the seven repositories of its README, with their tags', async () => {
    const repos = (await repositories(root)) as Repository[];
    expect(repos.map((r) => [r.kind, r.name, r.tags.map((t) => t.name).join(',')])).toEqual([
      ['repository', 'group/app', '1.0,latest,stable'],
      ['repository', 'group/app/sub', 'v1'],
      ['repository', 'group/bigconfig', 'latest'],
      ['repository', 'group/multi', 'latest'],
      ['repository', 'group/multi/docker', 'latest'],
      ['repository', 'other/artifacts', 'rocket-v1'],
      ['repository', 'other/tool', 'shared'],
    ]);
    expect(repos.every((r) => r.problems.length === 0)).toBe(true);
  });

  it('is clean: links match their paths, blobs match their digests, manifests have all their blobs linked', async () => {
    const blobs = walk(root, BLOBS_ROOT).map(classifyBlobFile);
    expect(blobs).toHaveLength(25);
    for (const b of blobs) {
      if (b?.kind !== 'blob') throw new Error(`unexpected blob entry ${JSON.stringify(b)}`);
      expect(
        createHash('sha256')
          .update(readFileSync(join(root, b.path)))
          .digest('hex'),
      ).toBe(b.digest.hex);
    }
    const seededMediaTypes = new Set(
      JSON.parse(
        readFileSync(join(import.meta.dirname, '../../fixtures/schema/reference-media-types.json'), 'utf8'),
      ) as string[],
    );
    for (const r of (await repositories(root)) as Repository[]) {
      for (const [digest, path] of [...r.revisions, ...r.layers]) {
        const link = parseLink(readFileSync(join(root, path)));
        expect(link.ok && !link.warning && formatDigest(link.digest)).toBe(digest);
      }
      for (const t of r.tags) {
        const link = parseLink(readFileSync(join(root, t.currentLinkPath ?? 'missing')));
        if (!link.ok) throw new Error(link.message);
        expect(r.revisions.has(formatDigest(link.digest))).toBe(true);
        const manifest = JSON.parse(readFileSync(join(root, blobDataPath(link.digest)), 'utf8')) as {
          config?: Descriptor;
          layers?: Descriptor[];
          manifests?: Descriptor[];
        };
        const parts = manifest.manifests ?? [manifest.config as Descriptor, ...(manifest.layers ?? [])];
        for (const part of parts) {
          expect(seededMediaTypes.has(part.mediaType), part.mediaType).toBe(true);
          const parsed = parseDigest(part.digest);
          if (!parsed.ok) throw new Error(parsed.message);
          if (manifest.manifests) {
            expect(r.revisions.has(part.digest)).toBe(true);
          } else {
            expect(r.layers.get(part.digest)).toBe(layerLinkPath(r.name, parsed.digest));
          }
        }
      }
    }
  });
});

interface Quirk {
  id: string;
  path: string;
  repository?: string;
  tag?: string;
  regdb: { outcome: string; reason: string };
}

describe('fixtures/registries/quirks', () => {
  const root = join(FIXTURES, 'quirks');
  const quirks = JSON.parse(readFileSync(join(root, 'quirks.json'), 'utf8')) as Quirk[];
  const byId = new Map(quirks.map((q) => [q.id, q]));

  it('lists unique cases', () => {
    expect(quirks.length).toBe(60);
    expect(byId.size).toBe(quirks.length);
  });

  it('reports invalid names and skips non-repositories as quirks.json says', async () => {
    const entries = await repositories(root);
    const names = new Map(entries.map((e) => [e.name, e]));
    for (const q of quirks) {
      if (q.regdb.outcome === 'skip-repo') {
        expect(names.get(q.repository ?? '')).toMatchObject({ kind: 'invalid-name' });
      } else if (q.regdb.reason === 'not-a-repository') {
        expect(names.has(q.path.slice(REPOSITORIES_ROOT.length + 1))).toBe(false);
      } else if (q.repository !== undefined) {
        expect(names.get(q.repository)).toMatchObject({ kind: 'repository' });
      }
    }
  });

  it('has every tag case in the walk, and tag links parse to the reason quirks.json gives', async () => {
    const entries = await repositories(root);
    const repos = new Map(
      entries.filter((e): e is Repository => e.kind === 'repository').map((e) => [e.name, e]),
    );
    for (const q of quirks.filter((x) => x.tag !== undefined && repos.has(x.repository ?? ''))) {
      const tag = repos.get(q.repository ?? '')?.tags.find((t) => t.name === q.tag);
      expect(tag, q.id).toBeDefined();
      if (q.regdb.outcome === 'skip-tag' && q.regdb.reason === 'missing-tag-link') {
        expect(tag?.currentLinkPath).toBeUndefined();
        continue;
      }
      const link = parseLink(readFileSync(join(root, tag?.currentLinkPath ?? 'missing')));
      if (q.regdb.outcome === 'skip-tag')
        expect(link, q.id).toMatchObject({ ok: false, reason: q.regdb.reason });
      else if (q.regdb.reason === 'trailing-whitespace')
        expect(link.ok && link.warning, q.id).toMatch(/trailing whitespace/);
      else expect(link, q.id).toMatchObject({ ok: true });
    }
  });

  it('reports the planted blob paths with the reason quirks.json gives', () => {
    const invalid = walk(root, BLOBS_ROOT)
      .map(classifyBlobFile)
      .filter((b) => b?.kind === 'invalid-path');
    const expected = quirks.filter((q) => q.regdb.outcome === 'skip-blob');
    expect(invalid.map((b) => [b?.path, b?.kind === 'invalid-path' && b.reason]).sort()).toEqual(
      expected.map((q) => [q.path, q.regdb.reason]).sort(),
    );
  });
});
