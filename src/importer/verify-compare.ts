/**
 * `regdb database verify` (issue 14 §2): comparing one repository's database rows with what its
 * storage says (pure). Storage is the truth; the database is what an import (regdb's, or GitLab's:
 * spec §2) should have made of it. What GitLab's importer leaves out on purpose is not a difference:
 * untagged manifests (spec §1.9), tags whose link is missing or broken, layers without a `_layers`
 * link or blob data (§1.6), list children that were skipped (§2.7). What an import must never leave
 * is one: a tag on another manifest or on none, a manifest whose bytes or digest are not storage's,
 * a layer or reference set unlike the payload's, a blob whose size is not its file's.
 */
import { createHash } from 'node:crypto';
import type { DbRepository } from '../db/verify-queries.js';
import { formatDigest, parseDigest } from '../registry/digest.js';
import { parseManifest } from '../registry/manifest.js';

export const DIFFERENCE_KINDS = [
  'repository-only-in-storage',
  'repository-only-in-database',
  'tag-only-in-storage',
  'tag-only-in-database',
  'tag-digest-mismatch',
  'manifest-only-in-database',
  'manifest-payload-mismatch',
  'manifest-digest-mismatch',
  'manifest-media-type-mismatch',
  'layer-only-in-storage',
  'layer-only-in-database',
  'layer-media-type-mismatch',
  'reference-only-in-storage',
  'reference-only-in-database',
  'blob-only-in-storage',
  'blob-only-in-database',
  'blob-size-mismatch',
  'blob-media-type-mismatch',
] as const;

export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

export interface Difference {
  readonly kind: DifferenceKind;
  readonly repository?: string;
  readonly tag?: string;
  readonly digest?: string;
  /** Manifest a layer or reference belongs to. */
  readonly manifest?: string;
  /** What each side holds, where both hold something. */
  readonly database?: string;
  readonly storage?: string;
}

/** Blob rows keep GitLab's importer's media type (spec §2.9.3). */
export const BLOB_MEDIA_TYPE = 'application/octet-stream';

/** What storage says about one repository, as far as the comparison needs it. */
export interface StorageRepository {
  readonly path: string;
  /** tag -> the digest its current link names; null: missing or broken (GitLab skips the tag). */
  readonly tags: ReadonlyMap<string, string | null>;
  /** Manifests read by digest (revision link, then blob); null: no revision link or no blob. */
  readonly manifests: ReadonlyMap<string, Buffer | null>;
  /** Digests with a `_layers` link in this repository. */
  readonly layerLinks: ReadonlySet<string>;
  /** Blob data sizes by digest (null: no data file), for every blob the comparison asks about. */
  readonly blobSizes: ReadonlyMap<string, bigint | null>;
}

/** The blobs the comparison needs sizes of: the repository's linked blobs and its manifests' layers. */
export function blobsToStat(
  db: DbRepository,
  storageManifests: ReadonlyMap<string, Buffer | null>,
): Set<string> {
  const out = new Set(db.blobs.map((b) => b.digest));
  for (const payload of storageManifests.values()) {
    if (payload === null) continue;
    const p = parseManifest(payload);
    if (p.ok && p.manifest.kind === 'image')
      for (const l of p.manifest.distributableLayers) out.add(l.digest);
  }
  return out;
}

function payloadDigest(algorithm: string, payload: Buffer): string {
  return `${algorithm}:${createHash(algorithm).update(payload).digest('hex')}`;
}

/** Differences of one repository present on both sides. */
export function compareRepository(s: StorageRepository, db: DbRepository): Difference[] {
  const out: Difference[] = [];
  const repository = s.path;

  for (const [tag, digest] of s.tags) {
    const inDb = db.tags.get(tag);
    if (digest === null) {
      if (inDb !== undefined)
        out.push({ kind: 'tag-only-in-database', repository, tag, database: inDb, storage: 'no valid link' });
    } else if (inDb === undefined)
      out.push({ kind: 'tag-only-in-storage', repository, tag, storage: digest });
    else if (inDb !== digest)
      out.push({ kind: 'tag-digest-mismatch', repository, tag, database: inDb, storage: digest });
  }
  for (const [tag, digest] of db.tags)
    if (!s.tags.has(tag)) out.push({ kind: 'tag-only-in-database', repository, tag, database: digest });

  for (const m of db.manifests.values()) {
    const stored = s.manifests.get(m.digest) ?? null;
    if (stored === null) {
      out.push({ kind: 'manifest-only-in-database', repository, digest: m.digest });
      continue;
    }
    if (!stored.equals(m.payload)) {
      out.push({
        kind: 'manifest-payload-mismatch',
        repository,
        digest: m.digest,
        database: `${m.payload.length} bytes`,
        storage: `${stored.length} bytes`,
      });
    }
    const algorithm = m.digest.slice(0, m.digest.indexOf(':'));
    const computed = payloadDigest(algorithm, m.payload);
    if (computed !== m.digest)
      out.push({ kind: 'manifest-digest-mismatch', repository, digest: m.digest, database: computed });
    const parsed = parseManifest(stored);
    if (!parsed.ok) continue;
    const pm = parsed.manifest;
    if (!m.nonConformant && pm.mediaType !== m.mediaType)
      out.push({
        kind: 'manifest-media-type-mismatch',
        repository,
        digest: m.digest,
        database: m.mediaType,
        storage: pm.mediaType,
      });
    if (pm.kind === 'image') compareLayers(out, s, db, m.digest, pm.distributableLayers);
    else compareReferences(out, s, db, m.digest, pm.manifests);
  }
  // References of a parent whose storage payload is not a list.
  for (const [parent, children] of db.references) {
    const stored = s.manifests.get(parent);
    const p = stored ? parseManifest(stored) : undefined;
    if (p?.ok && p.manifest.kind === 'list') continue;
    if (!db.manifests.has(parent) || stored) {
      for (const child of children)
        out.push({ kind: 'reference-only-in-database', repository, manifest: parent, digest: child });
    }
  }
  return out;
}

function compareLayers(
  out: Difference[],
  s: StorageRepository,
  db: DbRepository,
  manifest: string,
  layers: readonly { readonly digest: string; readonly mediaType: string }[],
): void {
  const repository = s.path;
  // GitLab imports a layer only when it is linked to the repository and its data exists (spec §1.6).
  const expected = new Map<string, string>();
  for (const l of layers) {
    const d = parseDigest(l.digest);
    if (!d.ok) continue;
    const key = formatDigest(d.digest);
    if (!s.layerLinks.has(key) || (s.blobSizes.get(key) ?? null) === null) continue;
    if (!expected.has(key)) expected.set(key, l.mediaType);
  }
  const inDb = new Map(db.layers.filter((l) => l.manifest === manifest).map((l) => [l.digest, l]));
  for (const [digest, mediaType] of expected) {
    const row = inDb.get(digest);
    if (row === undefined) out.push({ kind: 'layer-only-in-storage', repository, manifest, digest });
    // Dynamic media types off keep unknown layer types as octet-stream (spec §1.9).
    else if (row.mediaType !== mediaType && row.mediaType !== BLOB_MEDIA_TYPE)
      out.push({
        kind: 'layer-media-type-mismatch',
        repository,
        manifest,
        digest,
        database: row.mediaType,
        storage: mediaType,
      });
  }
  for (const digest of inDb.keys())
    if (!expected.has(digest)) out.push({ kind: 'layer-only-in-database', repository, manifest, digest });
}

function compareReferences(
  out: Difference[],
  s: StorageRepository,
  db: DbRepository,
  parent: string,
  children: readonly { readonly digest: string }[],
): void {
  const repository = s.path;
  const named = new Set<string>();
  for (const c of children) {
    const d = parseDigest(c.digest);
    if (d.ok) named.add(formatDigest(d.digest));
  }
  const referenced = db.references.get(parent) ?? new Set<string>();
  for (const child of referenced)
    if (!named.has(child))
      out.push({ kind: 'reference-only-in-database', repository, manifest: parent, digest: child });
  // A child GitLab skipped has no row; a child that has one must be referenced.
  for (const child of named)
    if (db.manifests.has(child) && !referenced.has(child))
      out.push({ kind: 'reference-only-in-storage', repository, manifest: parent, digest: child });
}

/** The repository's linked blobs against their data files. */
export function compareBlobs(
  blobs: readonly { readonly digest: string; readonly size: bigint; readonly mediaType: string }[],
  sizes: ReadonlyMap<string, bigint | null>,
): Difference[] {
  const out: Difference[] = [];
  for (const b of blobs) out.push(...compareBlob(b, sizes.get(b.digest) ?? null));
  return out;
}

export function compareBlob(
  b: { readonly digest: string; readonly size: bigint; readonly mediaType: string },
  size: bigint | null,
): Difference[] {
  const out: Difference[] = [];
  if (size === null) out.push({ kind: 'blob-only-in-database', digest: b.digest });
  else if (size !== b.size)
    out.push({
      kind: 'blob-size-mismatch',
      digest: b.digest,
      database: b.size.toString(),
      storage: size.toString(),
    });
  if (b.mediaType !== BLOB_MEDIA_TYPE)
    out.push({
      kind: 'blob-media-type-mismatch',
      digest: b.digest,
      database: b.mediaType,
      storage: BLOB_MEDIA_TYPE,
    });
  return out;
}
