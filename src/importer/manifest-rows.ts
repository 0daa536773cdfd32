/**
 * Rows for one manifest and what it pulls in, in GitLab's order (spec §2.6-2.8): config blob and
 * link, then each distributable layer (access check, blob, link), then the manifest row, then the
 * layer rows; lists get their row first, then each child and its reference.
 *
 * A skipped manifest leaves no rows (regdb): GitLab keeps the blob, link and list rows it wrote
 * before the skip, and step two later tags such a partial list. A list child that is missing, broken,
 * empty or schema 1 is skipped alone; any other child failure skips the whole list (spec §1.9).
 */
import { formatDigest, parseDigest, type Digest } from '../registry/digest.js';
import { blobDataPath, layerLinkPath, manifestRevisionLinkPath, repositoryPath } from '../registry/paths.js';
import {
  CONFIG_SIZE_LIMIT,
  MT,
  type Descriptor,
  type ImageManifest,
  type ManifestList,
} from '../registry/manifest.js';
import { digestFaultReason, SKIP_REASONS, type SkipReason } from './skips.js';
import type { BlobRow, LayerRow, ManifestRow, ReferenceRow } from '../db/import-rows.js';
import type { RepositoryFacts, SkipRecord } from './types.js';

export interface BuilderOptions {
  readonly dynamicMediaTypes: boolean;
  /** Media types already in `media_types` (decides layer types and unknown configs when not dynamic). */
  readonly knownMediaTypes: ReadonlySet<string>;
  /** Keep OCI `subject` / `artifactType` and import referrers (regdb default; GitLab: off). */
  readonly referrers: boolean;
}

/** `configuration_payload` for a config above the size limit: Go stores JSON `null` (spec §2.6). */
const NULL_PAYLOAD = Buffer.from('null');

/** Thrown inside one manifest's import to stop it; carries the skip already recorded. */
class ManifestSkipped extends Error {}

/** Child fetch failures that skip only the child; GitLab skips the list child and goes on (§2.7). */
const SOFT_CHILD_SKIPS: ReadonlySet<string> = new Set([
  'manifest-unknown-revision',
  'manifest-link-broken',
  'manifest-empty',
  'schema1',
  'unknown-schema-version',
]);

interface Snapshot {
  readonly blobs: number;
  readonly repositoryBlobs: number;
  readonly manifests: number;
  readonly layers: number;
  readonly references: number;
}

/**
 * Can `media_types` hold this value? (CHECKs: char_length <= 255, length(trim(x)) > 0; and no NUL,
 * which PostgreSQL's text cannot hold at all).
 */
export function storableMediaType(mt: string): boolean {
  return [...mt].length <= 255 && mt.replace(/^ +| +$/g, '').length > 0 && !mt.includes('\0');
}

export class RepositoryRowBuilder {
  readonly blobs: BlobRow[] = [];
  readonly repositoryBlobs: Digest[] = [];
  readonly manifests: ManifestRow[] = [];
  readonly layers: LayerRow[] = [];
  readonly references: ReferenceRow[] = [];
  readonly skips: SkipRecord[] = [];
  /** Manifest digests with a row from this run (emitted) or from the database. */
  private readonly present = new Set<string>();
  private readonly blobSeen = new Set<string>();
  private readonly linkSeen = new Set<string>();
  private readonly referenceSeen = new Set<string>();
  /** Subjects of emitted manifests; resolved in `finish()` once every import is known. */
  private readonly subjects = new Map<number, Digest>();

  constructor(
    private readonly facts: RepositoryFacts,
    private readonly opts: BuilderOptions,
  ) {
    for (const d of facts.existingManifests) this.present.add(d);
  }

  has(digest: Digest): boolean {
    return this.present.has(formatDigest(digest));
  }

  skip(
    reason: SkipReason,
    path: string,
    message: string,
    extra: { digest?: string; tag?: string } = {},
  ): SkipRecord {
    const record: SkipRecord = {
      reason,
      path,
      repository: this.facts.path,
      message,
      gitlabFatal: SKIP_REASONS[reason].fatal,
      ...extra,
    };
    this.skips.push(record);
    return record;
  }

  /**
   * Fetch and import manifest `digest` as a top-level (tagged or referrer) manifest.
   * Returns the skip when it was not imported.
   */
  importTop(digest: Digest): SkipRecord | null {
    const fetched = this.fetch(digest);
    if ('reason' in fetched) return fetched;
    const { payload, manifest } = fetched;
    const snap = this.snapshot();
    try {
      if (manifest.kind === 'list') this.importList(digest, payload, manifest);
      else this.importImage(digest, payload, manifest);
      return null;
    } catch (err) {
      if (!(err instanceof ManifestSkipped)) throw err;
      this.restore(snap);
      return this.skips[this.skips.length - 1]!;
    }
  }

  private snapshot(): Snapshot {
    return {
      blobs: this.blobs.length,
      repositoryBlobs: this.repositoryBlobs.length,
      manifests: this.manifests.length,
      layers: this.layers.length,
      references: this.references.length,
    };
  }

  /** Drops rows emitted since `snap` (each was new to its de-duplication set). */
  private restore(snap: Snapshot): void {
    for (const b of this.blobs.splice(snap.blobs)) this.blobSeen.delete(formatDigest(b.digest));
    for (const d of this.repositoryBlobs.splice(snap.repositoryBlobs)) this.linkSeen.delete(formatDigest(d));
    this.manifests.splice(snap.manifests).forEach((m, i) => {
      this.present.delete(formatDigest(m.digest));
      this.subjects.delete(snap.manifests + i);
    });
    this.layers.splice(snap.layers);
    for (const r of this.references.splice(snap.references)) {
      this.referenceSeen.delete(`${formatDigest(r.parentDigest)}>${formatDigest(r.childDigest)}`);
    }
  }

  /** Fetch result for `digest`: the parsed manifest, or the recorded skip (spec §1.5, §1.9). */
  private fetch(digest: Digest): { payload: Buffer; manifest: ImageManifest | ManifestList } | SkipRecord {
    const r = this.lookup(digest);
    if ('reason' in r) return this.skip(r.reason, r.path, r.message, { digest: formatDigest(digest) });
    return r;
  }

  private lookup(
    digest: Digest,
  ):
    | { payload: Buffer; manifest: ImageManifest | ManifestList }
    | { reason: SkipReason; path: string; message: string } {
    const key = formatDigest(digest);
    const path = manifestRevisionLinkPath(this.facts.path, digest);
    const f = this.facts.manifests.get(key) ?? { kind: 'missing' as const };
    switch (f.kind) {
      case 'missing':
        return { reason: 'manifest-unknown-revision', path, message: 'unknown manifest revision, skipping' };
      case 'broken-link':
        return { reason: digestFaultReason(f.link.reason, 'manifest-link'), path, message: f.link.message };
      case 'too-large':
        return {
          reason: 'manifest-too-large',
          path: blobDataPath(digest),
          message: 'storage: read exceeds limit',
        };
      case 'payload':
        if (!f.parsed.ok)
          return { reason: f.parsed.reason, path: blobDataPath(digest), message: f.parsed.detail };
        return { payload: f.payload, manifest: f.parsed.manifest };
    }
  }

  /** §2.6: config, layers, manifest row, layer rows. Throws ManifestSkipped after recording a skip. */
  importImage(digest: Digest, payload: Buffer, m: ImageManifest): void {
    const key = formatDigest(digest);
    const fail = (reason: SkipReason, path: string, message: string): never => {
      this.skip(reason, path, message, { digest: key });
      throw new ManifestSkipped(message);
    };

    // Config (steps 2-4).
    const cfgParse = parseDigest(m.config.digest);
    let configPayload: Buffer = NULL_PAYLOAD;
    if (!cfgParse.ok) {
      fail(
        digestFaultReason(cfgParse.reason, 'config-link'),
        repositoryPath(this.facts.path),
        cfgParse.message,
      );
      return;
    }
    const cfg = cfgParse.digest;
    if (m.config.size <= BigInt(CONFIG_SIZE_LIMIT)) {
      const read = this.facts.configs.get(formatDigest(cfg)) ?? { kind: 'missing' as const };
      const linkPath = layerLinkPath(this.facts.path, cfg);
      if (read.kind === 'missing')
        fail('config-not-linked', linkPath, 'configuration blob not linked, skipping');
      else if (read.kind === 'broken-link') {
        fail(digestFaultReason(read.link.reason, 'config-link'), linkPath, read.link.message);
      } else configPayload = read.payload;
    }
    this.addBlob(cfg, m.config.size);

    // Layers (step 5).
    const accepted: LayerRow[] = [];
    for (const layer of m.distributableLayers) {
      const parsed = parseDigest(layer.digest);
      if (!parsed.ok) {
        fail(digestFaultReason(parsed.reason, 'layer-link'), repositoryPath(this.facts.path), parsed.message);
        return;
      }
      const ld = parsed.digest;
      const access = this.facts.layers.get(formatDigest(ld)) ?? { kind: 'missing' as const };
      const linkPath = layerLinkPath(this.facts.path, ld);
      if (access.kind === 'missing') {
        this.skip('layer-not-linked', linkPath, 'blob is not linked to repository, skipping blob import', {
          digest: formatDigest(ld),
        });
        continue;
      }
      if (access.kind === 'broken-link') {
        fail(digestFaultReason(access.link.reason, 'layer-link'), linkPath, access.link.message);
      }
      this.addBlob(ld, layer.size);
      accepted.push({
        manifestDigest: digest,
        digest: ld,
        mediaType: this.layerMediaType(layer),
        size: layer.size,
      });
    }

    // Manifest row (step 6): media types must be storable, and known when not dynamic.
    const cfgType = m.config.mediaType;
    if (!this.opts.dynamicMediaTypes && !this.opts.knownMediaTypes.has(cfgType)) {
      fail(
        'config-media-type-unknown',
        blobDataPath(digest),
        `mapping config media type: unknown media type: ${cfgType}`,
      );
    }
    if (!storableMediaType(cfgType)) {
      fail(
        'media-type-invalid',
        blobDataPath(digest),
        `configuration media type ${JSON.stringify(cfgType)} cannot be stored`,
      );
    }
    this.addManifest(m.subject, {
      digest,
      schemaVersion: m.schemaVersion,
      mediaType: m.mediaType,
      payload,
      totalSize: m.totalSize,
      configMediaType: cfgType,
      configDigest: cfg,
      configPayload,
      nonConformant: m.nonConformant,
      subjectDigest: null,
      artifactMediaType: this.artifactType(m.artifactType),
    });

    // Layer rows (step 7): one per digest per manifest, first occurrence wins.
    const seen = new Set<string>();
    for (const l of accepted) {
      const k = formatDigest(l.digest);
      if (seen.has(k)) continue;
      seen.add(k);
      this.layers.push(l);
    }
  }

  /** §2.7: the list row first, then each child (skips of a child's fetch skip that child only). */
  importList(digest: Digest, payload: Buffer, list: ManifestList): void {
    const key = formatDigest(digest);
    this.addManifest(list.subject, {
      digest,
      schemaVersion: list.schemaVersion,
      mediaType: list.mediaType,
      payload,
      totalSize: 0n,
      configMediaType: null,
      configDigest: null,
      configPayload: null,
      nonConformant: false,
      subjectDigest: null,
      artifactMediaType: this.artifactType(list.artifactType),
    });
    const fail = (reason: SkipReason, path: string, message: string, digest: string): never => {
      this.skip(reason, path, message, { digest });
      throw new ManifestSkipped(message);
    };
    for (const entry of list.manifests) {
      const parsed = parseDigest(entry.digest);
      if (!parsed.ok) {
        const reason = digestFaultReason(parsed.reason, 'manifest-link');
        if (!SOFT_CHILD_SKIPS.has(reason)) fail(reason, blobDataPath(digest), parsed.message, entry.digest);
        this.skip(reason, blobDataPath(digest), parsed.message, { digest: entry.digest });
        continue;
      }
      const child = parsed.digest;
      const childKey = formatDigest(child);
      const found = this.lookup(child);
      if ('reason' in found) {
        if (!SOFT_CHILD_SKIPS.has(found.reason)) fail(found.reason, found.path, found.message, childKey);
        this.skip(found.reason, found.path, found.message, { digest: childKey });
        continue;
      }
      if (found.manifest.kind === 'list' || found.manifest.nonConformant) {
        fail(
          'nested-index',
          blobDataPath(child),
          `unknown manifest class digest=${childKey} repository=${this.facts.path}`,
          childKey,
        );
        return;
      }
      // A child skipped for its config or layers (errManifestSkip) skips the whole list (§2.7).
      this.importImage(child, found.payload, found.manifest);
      const refKey = `${key}>${childKey}`;
      if (!this.referenceSeen.has(refKey)) {
        this.referenceSeen.add(refKey);
        this.references.push({ parentDigest: digest, childDigest: child });
      }
    }
  }

  /** Referrer subject ids are set only for subjects imported in this repository. */
  finish(): ManifestRow[] {
    return this.manifests.map((m, i) => {
      const subject = this.subjects.get(i);
      if (subject === undefined || !this.opts.referrers || !this.has(subject)) return m;
      return { ...m, subjectDigest: subject };
    });
  }

  private addManifest(subject: Descriptor | null, row: ManifestRow): void {
    const key = formatDigest(row.digest);
    // Already emitted in this run, or already in the database: GitLab finds it and inserts nothing.
    if (this.present.has(key)) return;
    this.present.add(key);
    if (subject !== null) {
      const s = parseDigest(subject.digest);
      if (s.ok) this.subjects.set(this.manifests.length, s.digest);
    }
    this.manifests.push(row);
  }

  private addBlob(digest: Digest, size: bigint): void {
    const key = formatDigest(digest);
    if (!this.blobSeen.has(key)) {
      this.blobSeen.add(key);
      this.blobs.push({ digest, size });
    }
    if (!this.linkSeen.has(key)) {
      this.linkSeen.add(key);
      this.repositoryBlobs.push(digest);
    }
  }

  /**
   * §2.6 step 5: dynamic: the layer's own type; otherwise its type if known, else octet-stream.
   * A type `media_types` cannot hold (empty, blank, > 255 characters) becomes octet-stream too
   * (GitLab: a fatal CHECK violation with dynamic media types on).
   */
  private layerMediaType(layer: Descriptor): string {
    if (this.opts.dynamicMediaTypes && storableMediaType(layer.mediaType)) return layer.mediaType;
    return this.opts.knownMediaTypes.has(layer.mediaType) ? layer.mediaType : MT.octetStream;
  }

  private artifactType(t: string | null): string | null {
    if (!this.opts.referrers || t === null || !storableMediaType(t)) return null;
    if (!this.opts.dynamicMediaTypes && !this.opts.knownMediaTypes.has(t)) return null;
    return t;
  }
}
