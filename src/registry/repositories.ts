/**
 * Repository enumeration (spec §1.3) from ONE walk of `/docker/registry/v2/repositories`.
 *
 * Each file belongs to the repository named by its path segments before the first `_`-prefixed
 * segment (`a/b/_manifests/...` belongs to `a/b`); a directory is a repository when something below
 * its `_manifests` exists. Files of one repository are contiguous in bytewise order, because they are
 * exactly the paths that start with `<name>/_`. So the grouper holds one repository at a time.
 *
 * Order: repositories come out in the bytewise order of `<name>/_`, i.e. the walk's order. This is
 * deterministic and the same for every driver, but it is not GitLab's depth-first order where a
 * sibling name continues with a byte below `/` (`-`, `.`): the walk gives `a-b`, `a.b`, `a`, `a/c`, GitLab
 * gives `a`, `a/c`, `a-b`, `a.b`. Nested names that continue with a digit or an uppercase letter (`a/1x`,
 * `a/B`) come before `a` in both, lowercase ones (`a/b`) after. `compareGitLabOrder` sorts into GitLab's.
 *
 * An EMPTY `_manifests` directory (possible on a filesystem, never on an object store) reaches the
 * grouper as an empty-directory marker (`walk(…, { emptyDirectories: true })`, a path ending in '/')
 * and makes a repository without tags, as in GitLab.
 */
import type { FileInfo } from '../../drivers/driver.js';
import { formatDigest, parseDigest, type DigestFault } from './digest.js';
import { checkRepositoryName, type NameFault } from './names.js';
import { compareBytewise, REPOSITORIES_ROOT } from './paths.js';

export interface TagEntry {
  readonly name: string;
  /** Driver path of `current/link`; undefined when the tag has no such file ("missing tag link"). */
  readonly currentLinkPath: string | undefined;
  /**
   * Set when the listing gave `current/link`'s content MD5 (object stores): that MD5, and the digests
   * the tag's history names (`index/<alg>/<hex>/link` paths that parse as digests), the candidates
   * the current link can be verified against without reading it (src/registry/listed-links.ts).
   */
  readonly currentLinkListing?: { readonly md5: string; readonly history: readonly string[] };
}

/**
 * The listing's entry of each tag's `current/link` (its modTime is the tag's last push; issue 14 §5),
 * kept beside the tag rather than in it: a filesystem entry stats itself when its time is read, so
 * only a caller that asks pays for it.
 */
const linkFiles = new WeakMap<TagEntry, FileInfo>();

/** The walk's entry of the tag's `current/link`, when the walk met one. */
export function tagLinkFile(tag: TagEntry): FileInfo | undefined {
  return linkFiles.get(tag);
}

/** What the walk told about a link file besides its path. */
export interface ListedLink {
  /** Set for `_layers` links only (on the filesystem, reading it costs an lstat). */
  readonly size?: number;
  /** Content MD5 from the listing (FileInfo.md5). */
  readonly md5?: string;
}

export interface RepositoryProblem {
  readonly path: string;
  readonly reason: DigestFault | 'unexpected-path';
  readonly message: string;
}

export interface Repository {
  readonly kind: 'repository';
  /** Repository path, e.g. `group/app/sub`. */
  readonly name: string;
  /** Driver path of the repository directory. */
  readonly path: string;
  /** Tags sorted bytewise by name (GitLab's listing order, spec §1.4). */
  readonly tags: readonly TagEntry[];
  /** `sha256:<hex>` (from the path) -> driver path of `_manifests/revisions/.../link`. */
  readonly revisions: ReadonlyMap<string, string>;
  /** `sha256:<hex>` (from the path) -> driver path of `_layers/.../link`. */
  readonly layers: ReadonlyMap<string, string>;
  /** Driver path of a revision or `_layers` link in the maps above -> what its listing said. */
  readonly linkListing: ReadonlyMap<string, ListedLink>;
  /**
   * False when the walk pruned `_layers` (step two on a filesystem): `layers` is empty and the
   * repository's `_layers` is listed only if a layer check needs it (`withListedLayers`).
   */
  readonly layersListed: boolean;
  /** Link files whose path does not name a storable digest; not fatal, GitLab never enumerates them. */
  readonly problems: readonly RepositoryProblem[];
}

export interface InvalidRepository {
  readonly kind: 'invalid-name';
  readonly name: string;
  readonly path: string;
  readonly reason: NameFault;
  readonly message: string;
}

export type RepositoryEntry = Repository | InvalidRepository;

/** Underscore directories the importer reads; every other `_x` subtree (e.g. `_uploads`) is pruned. */
const READ_DIRS = new Set(['_manifests', '_layers']);

/**
 * `prune` for the importer's walk of the repositories root: skips `_uploads` and every other
 * `_`-prefixed subtree except `_manifests` and `_layers`. Tag history (`tags/<t>/index`) is kept, so a
 * tag that has history but no `current/link` is still seen and reported as a missing tag link.
 */
export function pruneRepositoryWalk(dirPath: string): boolean {
  const segments = segmentsOf(dirPath);
  if (segments === undefined) return false;
  const k = firstUnderscore(segments);
  return k !== -1 && !READ_DIRS.has(segments[k] ?? '');
}

/**
 * Like `pruneRepositoryWalk`, and also skips every repository's `_layers` (step two: most of its
 * manifests are in the database already, and only a manifest still to import needs its layer links).
 */
export function pruneRepositoryWalkAndLayers(dirPath: string): boolean {
  if (pruneRepositoryWalk(dirPath)) return true;
  const segments = segmentsOf(dirPath);
  if (segments === undefined) return false;
  const k = firstUnderscore(segments);
  return k !== -1 && k === segments.length - 1 && segments[k] === '_layers';
}

/**
 * Like `pruneRepositoryWalk`, and also skips the tag history directories `_manifests/tags/<t>/index`,
 * which the importer never reads (fewer listings). Trade-off: a tag whose only files are history links
 * is then not seen at all, instead of being reported as a missing tag link.
 */
export function pruneRepositoryWalkWithoutTagHistory(dirPath: string): boolean {
  if (pruneRepositoryWalk(dirPath)) return true;
  const segments = segmentsOf(dirPath);
  if (segments === undefined) return false;
  const k = firstUnderscore(segments);
  return (
    k !== -1 &&
    segments[k] === '_manifests' &&
    segments[k + 1] === 'tags' &&
    segments.length === k + 4 &&
    segments[k + 3] === 'index'
  );
}

/**
 * GitLab's enumeration order (depth-first, children sorted bytewise by full path): compare the paths
 * `<name>/_manifests` segment by segment.
 */
export function compareGitLabOrder(a: string, b: string): number {
  const x = `${a}/_manifests`.split('/');
  const y = `${b}/_manifests`.split('/');
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const c = compareBytewise(x[i] ?? '', y[i] ?? '');
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

/**
 * Group the files of a walk of `/docker/registry/v2/repositories` (bytewise order, as every driver
 * yields them) into repositories. Files outside the root and files above any `_` directory are
 * ignored, as GitLab ignores them. Throws when the input is not in bytewise order (a driver bug).
 */
export async function* groupRepositories(
  files: AsyncIterable<FileInfo>,
  opts: { readonly layersListed: boolean } = { layersListed: true },
): AsyncGenerator<RepositoryEntry> {
  let group: Group | undefined;
  let previous: string | undefined;
  for await (const file of files) {
    if (previous !== undefined && compareBytewise(previous, file.path) >= 0) {
      throw new Error(
        `The storage walk is out of order: ${JSON.stringify(file.path)} came after ${JSON.stringify(previous)}; drivers must yield paths in bytewise order.`,
      );
    }
    previous = file.path;
    // Most files are in the repository of the file before: `<root>/<name>/_…` names it at once.
    if (
      group !== undefined &&
      file.path.startsWith(group.dirPrefix) &&
      file.path.charCodeAt(group.dirPrefix.length) === 95 /* '_' */
    ) {
      const rest = file.path.slice(group.dirPrefix.length).split('/');
      addFile(group, file, rest[0]!, rest.slice(1));
      continue;
    }
    const segments = segmentsOf(file.path);
    if (segments === undefined) continue;
    const k = firstUnderscore(segments);
    if (k === -1) continue;
    const name = segments.slice(0, k).join('/');
    if (group === undefined || group.name !== name) {
      if (group !== undefined) {
        const done = finish(group, opts.layersListed);
        if (done !== undefined) yield done;
      }
      group = newGroup(name);
    }
    addFile(group, file, segments[k] ?? '', segments.slice(k + 1));
  }
  if (group !== undefined) {
    const done = finish(group, opts.layersListed);
    if (done !== undefined) yield done;
  }
}

/**
 * The repository with its `_layers` links added from `files`, a walk of `<repository>/_layers` (the
 * links and problems a walk of the whole root would have given). New problems are also returned alone.
 */
export async function withListedLayers(
  repo: Repository,
  files: AsyncIterable<FileInfo>,
): Promise<{ repository: Repository; problems: RepositoryProblem[] }> {
  const group = newGroup(repo.name);
  const prefix = `${repo.path}/_layers/`;
  for await (const file of files) {
    if (!file.path.startsWith(prefix) || file.path.endsWith('/')) continue;
    addFile(group, file, '_layers', file.path.slice(prefix.length).split('/'));
  }
  const linkListing = new Map(repo.linkListing);
  for (const [k, v] of group.linkListing) linkListing.set(k, v);
  return {
    repository: {
      ...repo,
      layers: group.layers,
      linkListing,
      layersListed: true,
      problems: [...repo.problems, ...group.problems],
    },
    problems: group.problems,
  };
}

interface GroupTag {
  currentLinkPath: string | undefined;
  currentLinkMd5: string | undefined;
  currentLinkFile?: FileInfo;
  history: string[];
}

interface Group {
  name: string;
  /** `<root>/<name>/` (`<root>/` for the root's own repository): a path below it starting with `_` is this repository's. */
  dirPrefix: string;
  hasManifests: boolean;
  tags: Map<string, GroupTag>;
  revisions: Map<string, string>;
  layers: Map<string, string>;
  linkListing: Map<string, ListedLink>;
  problems: RepositoryProblem[];
}

function newGroup(name: string): Group {
  return {
    name,
    dirPrefix: name === '' ? `${REPOSITORIES_ROOT}/` : `${REPOSITORIES_ROOT}/${name}/`,
    hasManifests: false,
    tags: new Map(),
    revisions: new Map(),
    layers: new Map(),
    linkListing: new Map(),
    problems: [],
  };
}

function tagOf(group: Group, name: string): GroupTag {
  let tag = group.tags.get(name);
  if (tag === undefined) {
    tag = { currentLinkPath: undefined, currentLinkMd5: undefined, history: [] };
    group.tags.set(name, tag);
  }
  return tag;
}

function addFile(group: Group, file: FileInfo, top: string, rest: string[]): void {
  const path = file.path;
  // An empty-directory marker (path ending in '/'): an empty `_manifests`, or an empty folder below
  // it, still makes the directory a repository (spec §1.3); it names no tag or link.
  if (path.endsWith('/')) {
    if (top === '_manifests') group.hasManifests = true;
    // An empty folder at or below `tags/<t>` is a tag without `current/link` (GitLab lists the
    // tags folder): reported as a missing tag link, not dropped unseen.
    if (top === '_manifests' && rest[0] === 'tags' && rest.length >= 3 && rest[1] !== '')
      tagOf(group, rest[1]!);
    return;
  }
  if (top === '_manifests') {
    group.hasManifests = true;
    if (rest.length === 0) {
      group.problems.push({
        path,
        reason: 'unexpected-path',
        message: `${path} is a file where the _manifests folder belongs; the repository has no tags or manifests`,
      });
    } else if (rest[0] === 'tags' && rest.length === 1) {
      group.problems.push({
        path,
        reason: 'unexpected-path',
        message: `${path} is a file where the tags folder belongs; the repository's tags are not imported`,
      });
    } else if (rest[0] === 'tags' && rest.length >= 2) {
      const tag = tagOf(group, rest[1] ?? '');
      if (rest.length === 4 && rest[2] === 'current' && rest[3] === 'link') {
        tag.currentLinkPath = path;
        tag.currentLinkMd5 = file.md5;
        tag.currentLinkFile = file;
      } else if (
        rest.length === 6 &&
        rest[2] === 'index' &&
        rest[5] === 'link' &&
        // `current/link` sorts before `index/`: history is kept only where it can verify that link.
        tag.currentLinkMd5 !== undefined
      ) {
        const parsed = parseDigest(`${rest[3]}:${rest[4]}`);
        if (parsed.ok) tag.history.push(formatDigest(parsed.digest));
      }
    } else if (rest[0] === 'revisions') {
      if (addLink(group, group.revisions, path, rest.slice(1)) && file.md5 !== undefined)
        group.linkListing.set(path, { md5: file.md5 });
    }
  } else if (top === '_layers') {
    if (addLink(group, group.layers, path, rest))
      group.linkListing.set(
        path,
        file.md5 === undefined ? { size: file.size } : { size: file.size, md5: file.md5 },
      );
  }
}

/** `<alg>/<hex>/link` below `revisions/` or `_layers/`; false when it is not one (a problem). */
function addLink(group: Group, into: Map<string, string>, path: string, rest: string[]): boolean {
  if (rest.length !== 3 || rest[2] !== 'link') {
    group.problems.push({
      path,
      reason: 'unexpected-path',
      message: `${path} is not an <algorithm>/<hex>/link file; ignored`,
    });
    return false;
  }
  const parsed = parseDigest(`${rest[0]}:${rest[1]}`);
  if (parsed.ok) into.set(formatDigest(parsed.digest), path);
  else group.problems.push({ path, reason: parsed.reason, message: `${path}: ${parsed.message}` });
  return parsed.ok;
}

function finish(group: Group, layersListed: boolean): RepositoryEntry | undefined {
  if (!group.hasManifests) return undefined;
  const path = group.name === '' ? REPOSITORIES_ROOT : `${REPOSITORIES_ROOT}/${group.name}`;
  const check = checkRepositoryName(group.name);
  if (!check.ok) {
    return { kind: 'invalid-name', name: group.name, path, reason: check.reason, message: check.message };
  }
  const tags = [...group.tags.entries()]
    .map(([name, t]): TagEntry => {
      const { currentLinkPath, currentLinkMd5: md5, history, currentLinkFile } = t;
      const tag: TagEntry =
        currentLinkPath === undefined || md5 === undefined
          ? { name, currentLinkPath }
          : { name, currentLinkPath, currentLinkListing: { md5, history } };
      if (currentLinkFile !== undefined) linkFiles.set(tag, currentLinkFile);
      return tag;
    })
    .sort((a, b) => compareBytewise(a.name, b.name));
  return {
    kind: 'repository',
    name: group.name,
    path,
    tags,
    revisions: group.revisions,
    layers: group.layers,
    linkListing: group.linkListing,
    layersListed,
    problems: group.problems,
  };
}

/**
 * The repository (or namespace folder) a path below the repositories root belongs to: its segments
 * before the first `_`-prefixed one; undefined outside the root.
 */
export function repositoryOfPath(path: string): string | undefined {
  const segments = segmentsOf(path);
  if (segments === undefined) return undefined;
  const k = firstUnderscore(segments);
  return (k === -1 ? segments : segments.slice(0, k)).filter((s) => s !== '').join('/');
}

function segmentsOf(path: string): string[] | undefined {
  if (!path.startsWith(`${REPOSITORIES_ROOT}/`)) return undefined;
  return path.slice(REPOSITORIES_ROOT.length + 1).split('/');
}

function firstUnderscore(segments: readonly string[]): number {
  return segments.findIndex((s) => s.startsWith('_'));
}
