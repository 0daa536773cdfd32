/**
 * Blob enumeration for step three (spec §1.7) from a walk of `/docker/registry/v2/blobs`.
 *
 * The digest comes from the path the way GitLab's `digestFromPath` derives it: for `.../<a>/<b>/<c>/data`
 * the hex is `<c>`, and the algorithm is `<a>` when `<b>` equals the first two characters of `<c>`,
 * otherwise `<b>`. GitLab makes an invalid path fatal (and panics on a one-character name); regdb
 * reports the path with a reason and goes on.
 */
import type { FileInfo } from '../../drivers/driver.js';
import { parseDigest, type Digest, type DigestFault, type GoDigestError } from './digest.js';
import { BLOBS_ROOT, blobDataPath } from './paths.js';

export interface BlobFile {
  readonly kind: 'blob';
  readonly digest: Digest;
  readonly path: string;
  /** Size of the `data` file (int64). */
  readonly size: bigint;
  /** False when the path is not `blobDataPath(digest)` (GitLab accepts e.g. a missing two-character level). */
  readonly canonical: boolean;
}

export interface InvalidBlobPath {
  readonly kind: 'invalid-path';
  readonly path: string;
  readonly reason: DigestFault;
  /** What go-digest would have said; null for sha384, which only the database rejects. */
  readonly goError: GoDigestError | null;
  readonly message: string;
}

export type BlobEntry = BlobFile | InvalidBlobPath;

/** The blob a walk entry stands for; undefined for files GitLab ignores (not named `data`, outside the root). */
export function classifyBlobFile(file: FileInfo): BlobEntry | undefined {
  const { path } = file;
  if (!path.startsWith(`${BLOBS_ROOT}/`) || !path.endsWith('/data')) return undefined;
  const segments = path.slice(0, -'/data'.length).split('/');
  const hex = segments[segments.length - 1] ?? '';
  const next = segments[segments.length - 2] ?? '';
  const algorithm = next === hex.slice(0, 2) ? (segments[segments.length - 3] ?? '') : next;
  const parsed = parseDigest(`${algorithm}:${hex}`);
  if (!parsed.ok) {
    return {
      kind: 'invalid-path',
      path,
      reason: parsed.reason,
      goError: parsed.goError,
      message: `failed to parse digest from path ${path}: ${parsed.message}`,
    };
  }
  return {
    kind: 'blob',
    digest: parsed.digest,
    path,
    size: BigInt(file.size),
    canonical: blobDataPath(parsed.digest) === path,
  };
}

/** Blob entries of a walk, in the walk's order; ignored files are dropped. */
export async function* enumerateBlobs(files: AsyncIterable<FileInfo>): AsyncGenerator<BlobEntry> {
  for await (const file of files) {
    const entry = classifyBlobFile(file);
    if (entry !== undefined) yield entry;
  }
}
