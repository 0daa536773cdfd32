/**
 * Reads what one repository's rows need (spec §1.4-1.6): tag links, the manifests they reach (list
 * children and, with referrers on, every other revision), config payloads up to 256,000 bytes, and
 * layer access checks (the `_layers` link, then the blob's existence). Manifests already in the
 * database are not read again in step two (GitLab looks them up first, spec §2.3).
 *
 * Links are verified from the listing where it proves their content (src/registry/listed-links.ts):
 * on S3 and GCS a revision link whose listed MD5 is that of its path's `<alg>:<hex>`, and a tag's
 * `current/link` whose listed MD5 is that of exactly one digest of the tag's history, are not read;
 * every other tag or revision link is read and parsed, so a link naming another digest (GitLab then
 * stores that blob under the requested digest, with a warning) or a corrupt one is caught as before.
 * `_layers` links follow one rule on every backend (issue 5 §3: no request per layer), so that every
 * backend imports a tree alike: a link of exactly `<alg>:<hex>` bytes (or, on S3 and GCS, whose MD5
 * proves it) is taken to hold its path's digest; any other is read. A corrupt link of exactly that
 * length (e.g. uppercase hex) is therefore not caught, where GitLab would skip the manifest.
 *
 * A config that is read anyway is not stat'ed first: a read that finds nothing is "missing", as a
 * failed existence check would be. Layers (never read) keep the existence check.
 */
import pLimit from 'p-limit';
import { formatDigest, parseDigest, type Digest } from '../registry/digest.js';
import { CONFIG_SIZE_LIMIT, parseManifest } from '../registry/manifest.js';
import { listingProvesLink, tagDigestFromListing } from '../registry/listed-links.js';
import type { Repository, RepositoryProblem } from '../registry/repositories.js';
import { Step, type RepositoryStep } from '../db/import-rows.js';
import type { StorageReads } from './storage-reads.js';
import { tagPushedAt } from './tag-timestamps.js';
import type {
  ConfigFetch,
  LayerAccess,
  LinkFact,
  ManifestFetch,
  RepositoryFacts,
  SkipRecord,
} from './types.js';

export interface ReadOptions {
  readonly step: RepositoryStep;
  readonly referrers: boolean;
  /** `--dangling-manifests`: read every untagged revision too (issue 14 §4). */
  readonly dangling?: boolean;
  /** `--tag-timestamps storage`: take each tag's time from its `current/link` listing entry. */
  readonly tagTimes?: boolean;
  /** Tag links read at once (`--tag-concurrency`). */
  readonly tagConcurrency: number;
  /** Other reads at once within the repository. */
  readonly readConcurrency: number;
  /**
   * The backend's listings carry content MD5s (StorageDriver.listingMd5): links are verified by MD5
   * only. Otherwise a `_layers` link of exactly `<alg>:<hex>` bytes is taken as its path's digest.
   */
  readonly listingMd5: boolean;
  /** The repository's place in the walk: its storage requests' priority (CallOptions.priority). */
  readonly priority?: number;
}

export interface RepositoryInput {
  readonly repository: Repository;
  readonly existingManifests: ReadonlySet<string>;
}

/** Bytes of a well-formed link to `digest`: `<alg>:<hex>`, nothing else (spec §1.2). */
export function linkSize(digest: Digest): number {
  return digest.algorithm.length + 1 + digest.hex.length;
}

type Failed = Extract<ReturnType<typeof parseDigest>, { ok: false }>;

/** A repository's tag links, then the manifests they reach, then their configs and layers. */
export async function readRepository(
  reads: StorageReads,
  input: RepositoryInput,
  opts: ReadOptions,
): Promise<RepositoryFacts> {
  const r = new RepositoryRead(reads, input, opts);
  const tags = await r.readTags();
  const { wanted, tagged, untagged } = r.manifestsToRead(tags);
  await Promise.all(wanted.map((d) => r.fetchManifest(d)));
  await r.checkBlobs(tagged);
  return {
    path: input.repository.name,
    tags,
    manifests: r.manifests,
    configs: r.configs,
    layers: r.layers,
    untagged,
    existingManifests: input.existingManifests,
    warnings: r.warnings,
    problems: r.problems,
  };
}

type TagFact = { readonly name: string; readonly link: LinkFact; readonly pushedAt?: Date };

/** The state of one repository's read: what was fetched so far, and the limits on reads at once. */
class RepositoryRead {
  readonly manifests = new Map<string, ManifestFetch>();
  readonly configs = new Map<string, ConfigFetch>();
  readonly layers = new Map<string, LayerAccess>();
  readonly warnings: SkipRecord[] = [];
  readonly problems: RepositoryProblem[] = [];
  /** Children of the lists read (imported with their list even when untagged). */
  private readonly childKeys = new Set<string>();
  private readonly repo: Repository;
  private readonly limit: ReturnType<typeof pLimit>;
  /** A walk that pruned `_layers` (step two) leaves it to be listed here, once, if a check needs it. */
  private listedLayers: Promise<Repository> | undefined;

  constructor(
    private readonly reads: StorageReads,
    private readonly input: RepositoryInput,
    private readonly opts: ReadOptions,
  ) {
    this.repo = input.repository;
    this.limit = pLimit(opts.readConcurrency);
  }

  private warn(reason: string, path: string, message: string, extra: { tag?: string; digest?: string } = {}) {
    this.warnings.push({ reason, path, repository: this.repo.name, message, gitlabFatal: false, ...extra });
  }

  /** Every tag's `current/link`, `--tag-concurrency` at once. */
  async readTags(): Promise<TagFact[]> {
    const tagLimit = pLimit(this.opts.tagConcurrency);
    const tags = await Promise.all(
      this.repo.tags.map((t) =>
        tagLimit(async (): Promise<TagFact> => ({
          name: t.name,
          link: await this.tagLink(t),
          ...tagPushedAt(t, this.opts.tagTimes),
        })),
      ),
    );
    for (const t of tags) {
      if (t.link?.ok && t.link.warning)
        this.warn('link-trailing-whitespace', this.repo.path, t.link.warning, { tag: t.name });
    }
    return tags;
  }

  private async tagLink(t: Repository['tags'][number]): Promise<LinkFact> {
    if (t.currentLinkPath === undefined) return null;
    const listed = t.currentLinkListing && tagDigestFromListing(t.currentLinkListing);
    return listed ? { ok: true, digest: listed } : this.reads.link(t.currentLinkPath, this.opts.priority);
  }

  /**
   * Tagged manifests not in the database yet (step two looks them up first), and with referrers on
   * every other revision, as a referrer candidate.
   */
  manifestsToRead(tags: readonly TagFact[]): { wanted: Digest[]; tagged: Set<string>; untagged: string[] } {
    const existing = this.input.existingManifests;
    const wanted: Digest[] = [];
    for (const t of tags) {
      if (
        t.link?.ok &&
        !(this.opts.step === Step.allRepositories && existing.has(formatDigest(t.link.digest)))
      )
        wanted.push(t.link.digest);
    }
    const tagged = new Set(wanted.map(formatDigest));
    const untagged: string[] = [];
    if (this.opts.referrers || this.opts.dangling) {
      for (const key of this.repo.revisions.keys()) {
        if (tagged.has(key) || existing.has(key)) continue;
        const d = parseDigest(key);
        if (d.ok) {
          untagged.push(key);
          wanted.push(d.digest);
        }
      }
    }
    return { wanted, tagged, untagged };
  }

  /**
   * A revision or `_layers` link to `digest` (its path's) as the listing proves it; undefined: read it.
   * The size rule applies to `_layers` links only, on every backend alike.
   */
  private listedLink(
    listing: Repository['linkListing'],
    linkPath: string,
    digest: Digest,
    layer: boolean,
  ): LinkFact | undefined {
    const listed = listing.get(linkPath);
    const proven =
      (this.opts.listingMd5 && listingProvesLink(listed?.md5, formatDigest(digest))) ||
      (layer && listed?.size === linkSize(digest));
    return proven ? { ok: true, digest } : undefined;
  }

  /** A manifest by digest through its revision link (spec §1.5), and a list's children with it. */
  async fetchManifest(digest: Digest): Promise<void> {
    const key = formatDigest(digest);
    if (this.manifests.has(key)) return;
    this.manifests.set(key, { kind: 'missing' });
    const linkPath = this.repo.revisions.get(key);
    if (linkPath === undefined) return;
    // Only the storage reads take a slot: a list waiting for its children must not hold one.
    const target =
      this.listedLink(this.repo.linkListing, linkPath, digest, false) ??
      (await this.limit(() => this.reads.link(linkPath, this.opts.priority)));
    if (target === null) return;
    if (!target.ok) {
      this.manifests.set(key, { kind: 'broken-link', link: target as Failed });
      return;
    }
    if (formatDigest(target.digest) !== key) {
      this.warn(
        'revision-link-mismatch',
        linkPath,
        `revision link names ${formatDigest(target.digest)}; that blob is imported as ${key}`,
        { digest: key },
      );
    }
    const read = await this.limit(() => this.reads.blob(target.digest, this.opts.priority));
    if (read.kind !== 'payload') {
      this.manifests.set(key, read.kind === 'missing' ? { kind: 'missing' } : { kind: 'too-large' });
      return;
    }
    const parsed = parseManifest(read.payload);
    this.manifests.set(key, { kind: 'payload', payload: read.payload, parsed });
    if (parsed.ok && parsed.manifest.kind === 'list') {
      const children = parsed.manifest.manifests
        .map((d) => parseDigest(d.digest))
        .filter((p) => p.ok)
        .map((p) => p.digest);
      for (const c of children) this.childKeys.add(formatDigest(c));
      await Promise.all(children.map((c) => this.fetchManifest(c)));
    }
  }

  /** Config payloads and layer access checks for every image manifest read that may be imported. */
  async checkBlobs(tagged: ReadonlySet<string>): Promise<void> {
    const jobs: Promise<void>[] = [];
    const seen = new Set<string>();
    for (const [key, f] of this.manifests) {
      if (f.kind !== 'payload' || !f.parsed.ok || f.parsed.manifest.kind !== 'image') continue;
      const m = f.parsed.manifest;
      // An untagged manifest without a subject is never imported: no need to check its blobs.
      if (!this.opts.dangling && !tagged.has(key) && !this.childKeys.has(key) && m.subject === null) continue;
      const cfg = parseDigest(m.config.digest);
      if (cfg.ok && m.config.size <= BigInt(CONFIG_SIZE_LIMIT) && !seen.has('c' + formatDigest(cfg.digest))) {
        seen.add('c' + formatDigest(cfg.digest));
        jobs.push(this.limit(() => this.readConfig(cfg.digest)));
      }
      for (const l of m.distributableLayers) {
        const ld = parseDigest(l.digest);
        if (!ld.ok || seen.has('l' + formatDigest(ld.digest))) continue;
        seen.add('l' + formatDigest(ld.digest));
        jobs.push(
          this.limit(async () => {
            this.layers.set(formatDigest(ld.digest), await this.access(ld.digest));
          }),
        );
      }
    }
    await Promise.all(jobs);
  }

  private async readConfig(digest: Digest): Promise<void> {
    const key = formatDigest(digest);
    const target = await this.layerLink(digest);
    if ('kind' in target) {
      this.configs.set(key, target);
      return;
    }
    // The payload is read anyway: when the link names the config's own digest, a read that finds
    // nothing is what a failed existence check would say, without the stat.
    const sameBlob = formatDigest(target) === key;
    if (!sameBlob && !(await this.reads.blobExists(target, this.opts.priority))) {
      this.configs.set(key, { kind: 'missing' });
      return;
    }
    const read = await this.reads.blob(digest, this.opts.priority);
    this.configs.set(key, read.kind === 'payload' ? read : { kind: 'missing' });
  }

  private layersOf(): Promise<Repository> {
    return (this.listedLayers ??= this.reads.repositoryLayers(this.repo).then((r) => {
      this.problems.push(...r.problems);
      return r.repository;
    }));
  }

  /** The `_layers` link check: the digest it names, or why the blob is not accessible. */
  private async layerLink(digest: Digest): Promise<Digest | Exclude<LayerAccess, { kind: 'ok' }>> {
    const withLayers = await this.layersOf();
    const linkPath = withLayers.layers.get(formatDigest(digest));
    if (linkPath === undefined) return { kind: 'missing' };
    const target =
      this.listedLink(withLayers.linkListing, linkPath, digest, true) ??
      (await this.reads.link(linkPath, this.opts.priority));
    if (target === null) return { kind: 'missing' };
    if (!target.ok) return { kind: 'broken-link', link: target as Failed };
    return target.digest;
  }

  private async access(digest: Digest): Promise<LayerAccess> {
    const target = await this.layerLink(digest);
    if ('kind' in target) return target;
    return (await this.reads.blobExists(target, this.opts.priority)) ? { kind: 'ok' } : { kind: 'missing' };
  }
}
