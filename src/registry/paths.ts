/**
 * The registry storage layout (spec §1.1): driver paths of blobs, links, uploads and lockfiles, and
 * how each backend maps a driver path onto its own root. Pure functions; drivers may reuse them.
 */
import type { Digest } from './digest.js';

/** Every driver path starts here; the layout version segment is always `v2`. */
export const REGISTRY_ROOT = '/docker/registry';
export const V2_ROOT = `${REGISTRY_ROOT}/v2`;
export const BLOBS_ROOT = `${V2_ROOT}/blobs`;
export const REPOSITORIES_ROOT = `${V2_ROOT}/repositories`;
export const LOCKFILES_ROOT = `${REGISTRY_ROOT}/lockfiles`;

/** `<alg>` as a path: `+`, `.` and `;` become `/` (GitLab `blobAlgorithmReplacer`). */
export function algorithmPath(algorithm: string): string {
  return algorithm.replace(/[+.;]/g, '/');
}

/** Directory of a blob: `/docker/registry/v2/blobs/<alg>/<hex[0:2]>/<hex>`. */
export function blobDirPath(digest: Digest): string {
  return `${BLOBS_ROOT}/${algorithmPath(digest.algorithm)}/${digest.hex.slice(0, 2)}/${digest.hex}`;
}

/** Content of a blob (manifests and configs are blobs too). */
export function blobDataPath(digest: Digest): string {
  return `${blobDirPath(digest)}/data`;
}

/** A repository's directory; `name` may be nested (`group/sub/image`). */
export function repositoryPath(name: string): string {
  return `${REPOSITORIES_ROOT}/${name}`;
}

export function manifestsPath(name: string): string {
  return `${repositoryPath(name)}/_manifests`;
}

/** Manifest revision link: "this repository has manifest D". */
export function manifestRevisionLinkPath(name: string, digest: Digest): string {
  return `${manifestsPath(name)}/revisions/${algorithmPath(digest.algorithm)}/${digest.hex}/link`;
}

export function tagsPath(name: string): string {
  return `${manifestsPath(name)}/tags`;
}

export function tagPath(name: string, tag: string): string {
  return `${tagsPath(name)}/${tag}`;
}

/** Tag to manifest digest (the only tag file the importer reads, spec §1.4). */
export function tagCurrentLinkPath(name: string, tag: string): string {
  return `${tagPath(name, tag)}/current/link`;
}

/** The tag's history directory (never read by the importer). */
export function tagIndexPath(name: string, tag: string): string {
  return `${tagPath(name, tag)}/index`;
}

export function tagIndexLinkPath(name: string, tag: string, digest: Digest): string {
  return `${tagIndexPath(name, tag)}/${algorithmPath(digest.algorithm)}/${digest.hex}/link`;
}

/** Repository-scoped access link for a layer or config blob (spec §1.6). */
export function layerLinkPath(name: string, digest: Digest): string {
  return `${repositoryPath(name)}/_layers/${algorithmPath(digest.algorithm)}/${digest.hex}/link`;
}

export function uploadsPath(name: string): string {
  return `${repositoryPath(name)}/_uploads`;
}

export function uploadDataPath(name: string, id: string): string {
  return `${uploadsPath(name)}/${id}/data`;
}

export function uploadStartedAtPath(name: string, id: string): string {
  return `${uploadsPath(name)}/${id}/startedat`;
}

export function uploadHashStatePath(name: string, id: string, algorithm: string, offset: bigint): string {
  return `${uploadsPath(name)}/${id}/hashstates/${algorithmPath(algorithm)}/${offset}`;
}

export type LockfileName = 'filesystem-in-use' | 'database-in-use';

/** Lockfile paths (spec §1.8); content is `{"version":1}`. */
export function lockfilePath(which: LockfileName): string {
  return `${LOCKFILES_ROOT}/${which}`;
}

export const LOCKFILE_CONTENT = '{"version":1}';

// --- Root prefixes of each backend (spec §1.1) ---------------------------------------------------

/** Filesystem: `<rootdirectory>` + driver path (one `/` between them). */
export function filesystemPath(rootdirectory: string, driverPath: string): string {
  const root = rootdirectory.replace(/\/+$/, '');
  return `${root}${driverPath}`;
}

/** S3: rootdirectory with trailing `/` trimmed, then the driver path, then leading `/` trimmed. */
export function s3Key(rootdirectory: string, driverPath: string): string {
  return `${rootdirectory.replace(/\/+$/, '')}${driverPath}`.replace(/^\/+/, '');
}

/** The key prefix (ending in `/`, or empty) below which an S3 driver keeps everything. */
export function s3KeyPrefix(rootdirectory: string): string {
  return s3Key(rootdirectory, '/');
}

/** GCS: rootdirectory stripped of surrounding `/` and, when non-empty, given one trailing `/`. */
export function gcsRoot(rootdirectory: string): string {
  const trimmed = rootdirectory.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** GCS: the root (from `gcsRoot`) plus the driver path with its leading `/` removed. */
export function gcsKey(rootdirectory: string, driverPath: string): string {
  return `${gcsRoot(rootdirectory)}${driverPath.replace(/^\/+/, '')}`;
}

/**
 * Inverse of `s3Key`/`gcsKey`: the driver path of an object key below `keyPrefix` (as returned by
 * `s3KeyPrefix` or `gcsRoot`), or undefined when the key lies outside it.
 */
export function driverPathOfKey(keyPrefix: string, key: string): string | undefined {
  if (!key.startsWith(keyPrefix)) return undefined;
  const rest = key.slice(keyPrefix.length).replace(/^\/+/, '');
  return rest === '' ? undefined : `/${rest}`;
}

// --- Ordering -------------------------------------------------------------------------------------

/**
 * Bytewise (UTF-8) order, the order drivers walk in and GitLab sorts children: one implementation,
 * in drivers/paths.ts, because resume and the walks depend on agreeing on it.
 */
export { compareBytewise } from '../../drivers/paths.js';

/** Split a driver path below `root` into its segments; undefined when it is not below `root`. */
export function segmentsBelow(root: string, path: string): string[] | undefined {
  if (path.length <= root.length + 1 || !path.startsWith(root) || path[root.length] !== '/') return undefined;
  return path.slice(root.length + 1).split('/');
}
