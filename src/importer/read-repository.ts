/**
 * Reads what one repository's rows need (spec §1.4-1.6): tag links, the manifests they reach (list
 * children and, with referrers on, every other revision), config payloads up to 256,000 bytes, and
 * layer access checks (the `_layers` link, then the blob's existence). Manifests already in the
 * database are not read again in step two (GitLab looks them up first, spec §2.3).
 *
 * Revision links are read: one may name another blob than its path (GitLab then stores that blob
 * under the requested digest, with a warning). `_layers` links are checked from the listing (issue 5
 * §3: no request per layer): a link whose size is exactly `<alg>:<hex>` is taken to hold its path's
 * digest; any other size (empty, truncated, newline, another algorithm) is read and parsed. So a
 * corrupt link of exactly the right length (e.g. uppercase hex) is not caught, where GitLab would skip
 * the manifest.
 */
import pLimit from 'p-limit';
import { formatDigest, parseDigest, type Digest } from '../registry/digest.js';
import { CONFIG_SIZE_LIMIT, parseManifest } from '../registry/manifest.js';
import type { Repository } from '../registry/repositories.js';
import type { StorageReads } from './storage-reads.js';
import type {
  ConfigFetch,
  LayerAccess,
  LinkFact,
  ManifestFetch,
  RepositoryFacts,
  SkipRecord,
} from './types.js';

export interface ReadOptions {
  readonly step: 1 | 2;
  readonly referrers: boolean;
  /** Tag links read at once (`--tag-concurrency`). */
  readonly tagConcurrency: number;
  /** Other reads at once within the repository. */
  readonly readConcurrency: number;
}

export interface RepositoryInput {
  readonly repository: Repository;
  readonly existingManifests: ReadonlySet<string>;
  /** Sizes of the repository's `_layers` link files, from the walk (undefined: read each link). */
  readonly layerLinkSizes?: ReadonlyMap<string, number>;
}

/** Bytes of a well-formed link to `digest`: `<alg>:<hex>`, nothing else (spec §1.2). */
export function linkSize(digest: Digest): number {
  return digest.algorithm.length + 1 + digest.hex.length;
}

type Failed = Extract<ReturnType<typeof parseDigest>, { ok: false }>;

export async function readRepository(
  reads: StorageReads,
  input: RepositoryInput,
  opts: ReadOptions,
): Promise<RepositoryFacts> {
  const { repository: repo, existingManifests } = input;
  const warnings: SkipRecord[] = [];
  const warn = (
    reason: string,
    path: string,
    message: string,
    extra: { tag?: string; digest?: string } = {},
  ) => warnings.push({ reason, path, repository: repo.name, message, gitlabFatal: false, ...extra });
  const tagLimit = pLimit(opts.tagConcurrency);
  const limit = pLimit(opts.readConcurrency);

  const tags = await Promise.all(
    repo.tags.map((t) =>
      tagLimit(async (): Promise<{ name: string; link: LinkFact }> => ({
        name: t.name,
        link: t.currentLinkPath === undefined ? null : await reads.link(t.currentLinkPath),
      })),
    ),
  );

  const manifests = new Map<string, ManifestFetch>();
  const childKeys = new Set<string>();
  const fetchOne = async (digest: Digest): Promise<void> => {
    const key = formatDigest(digest);
    if (manifests.has(key)) return;
    manifests.set(key, { kind: 'missing' });
    const linkPath = repo.revisions.get(key);
    if (linkPath === undefined) return;
    // Only the storage reads take a slot: a list waiting for its children must not hold one.
    const target = await limit(() => reads.link(linkPath));
    if (target === null) return;
    if (!target.ok) {
      manifests.set(key, { kind: 'broken-link', link: target as Failed });
      return;
    }
    if (target.ok && formatDigest(target.digest) !== key) {
      warn(
        'revision-link-mismatch',
        linkPath,
        `revision link names ${formatDigest(target.digest)}; that blob is imported as ${key}`,
        {
          digest: key,
        },
      );
    }
    const read = await limit(() => reads.blob(target.digest));
    if (read.kind !== 'payload') {
      manifests.set(key, read.kind === 'missing' ? { kind: 'missing' } : { kind: 'too-large' });
      return;
    }
    const parsed = parseManifest(read.payload);
    manifests.set(key, { kind: 'payload', payload: read.payload, parsed });
    if (parsed.ok && parsed.manifest.kind === 'list') {
      const children = parsed.manifest.manifests
        .map((d) => parseDigest(d.digest))
        .filter((p) => p.ok)
        .map((p) => p.digest);
      for (const c of children) childKeys.add(formatDigest(c));
      await Promise.all(children.map((c) => fetchOne(c)));
    }
  };

  for (const t of tags) {
    if (t.link?.ok && t.link.warning)
      warn('link-trailing-whitespace', repo.path, t.link.warning, { tag: t.name });
  }
  const wanted: Digest[] = [];
  for (const t of tags) {
    if (t.link?.ok && !(opts.step === 2 && existingManifests.has(formatDigest(t.link.digest))))
      wanted.push(t.link.digest);
  }
  const tagged = new Set(wanted.map(formatDigest));
  const untagged: string[] = [];
  if (opts.referrers) {
    for (const key of repo.revisions.keys()) {
      if (tagged.has(key) || existingManifests.has(key)) continue;
      const d = parseDigest(key);
      if (d.ok) {
        untagged.push(key);
        wanted.push(d.digest);
      }
    }
  }
  await Promise.all(wanted.map((d) => fetchOne(d)));

  // Config payloads and layer access checks for every image manifest read.
  const configs = new Map<string, ConfigFetch>();
  const layers = new Map<string, LayerAccess>();
  const access = async (digest: Digest): Promise<LayerAccess> => {
    const linkPath = repo.layers.get(formatDigest(digest));
    if (linkPath === undefined) return { kind: 'missing' };
    const size = input.layerLinkSizes?.get(linkPath);
    const target = size === linkSize(digest) ? { ok: true as const, digest } : await reads.link(linkPath);
    if (target === null) return { kind: 'missing' };
    if (!target.ok) return { kind: 'broken-link', link: target as Failed };
    return (await reads.blobExists(target.digest)) ? { kind: 'ok' } : { kind: 'missing' };
  };
  const jobs: Promise<void>[] = [];
  const seen = new Set<string>();
  for (const [key, f] of manifests) {
    if (f.kind !== 'payload' || !f.parsed.ok || f.parsed.manifest.kind !== 'image') continue;
    const m = f.parsed.manifest;
    // An untagged manifest without a subject is never imported: no need to check its blobs.
    if (!tagged.has(key) && !childKeys.has(key) && m.subject === null) continue;
    const cfg = parseDigest(m.config.digest);
    if (cfg.ok && m.config.size <= BigInt(CONFIG_SIZE_LIMIT) && !seen.has('c' + formatDigest(cfg.digest))) {
      seen.add('c' + formatDigest(cfg.digest));
      jobs.push(
        limit(async () => {
          const a = await access(cfg.digest);
          if (a.kind !== 'ok') {
            configs.set(formatDigest(cfg.digest), a);
            return;
          }
          const read = await reads.blob(cfg.digest);
          configs.set(formatDigest(cfg.digest), read.kind === 'payload' ? read : { kind: 'missing' });
        }),
      );
    }
    for (const l of m.distributableLayers) {
      const ld = parseDigest(l.digest);
      if (!ld.ok || seen.has('l' + formatDigest(ld.digest))) continue;
      seen.add('l' + formatDigest(ld.digest));
      jobs.push(
        limit(async () => {
          layers.set(formatDigest(ld.digest), await access(ld.digest));
        }),
      );
    }
  }
  await Promise.all(jobs);

  return { path: repo.name, tags, manifests, configs, layers, untagged, existingManifests, warnings };
}
