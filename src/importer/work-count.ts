/**
 * What an import will go through, counted before it starts where that is cheap (issue 11 §6), so
 * progress has a total from the first line:
 * - repositories, on a storage that lists directory by directory (filesystem): one listing per
 *   namespace folder, nothing read. On object stores a listing per folder is one request per
 *   repository, so the count is left out there (progress then shows a count and a rate, no total).
 * - blob prefixes (`sha256/ab`), on every storage: one or two listings. Digests are uniform, so the
 *   share of prefixes done is the share of blobs done.
 * Both honour the shard; repositories also the --repository filter. A missing root counts as zero.
 */
import type { StorageDriver } from '../../drivers/driver.js';
import { PathNotFoundError } from '../../drivers/errors.js';
import { BLOBS_ROOT, REPOSITORIES_ROOT } from '../registry/paths.js';
import { inRepositoryFilter, type RepositoryFilter } from './repository-filter.js';
import { inShard, type Shard } from './shard.js';

export interface WorkCount {
  /** Repositories in the shard; undefined where counting them is not cheap. */
  readonly repositories?: number;
  /** Blob prefixes (`<algorithm>/<2 hex>`) in the shard. */
  readonly blobPrefixes: number;
}

/** A directory holding `_manifests` or `_layers` is a repository (the walk's rule, spec §1.2). */
const REPOSITORY_MARKERS = new Set(['_manifests', '_layers']);

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

async function listOrEmpty(driver: StorageDriver, path: string, signal?: AbortSignal) {
  try {
    return await driver.list(path, signal !== undefined ? { signal } : {});
  } catch (err) {
    if (err instanceof PathNotFoundError) return [];
    throw err;
  }
}

async function countRepositories(
  driver: StorageDriver,
  shard: Shard | null,
  filter: RepositoryFilter | null | undefined,
  signal?: AbortSignal,
): Promise<number> {
  let count = 0;
  const pending = [REPOSITORIES_ROOT];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    const children = (await listOrEmpty(driver, dir, signal)).filter((c) => c.isDir);
    const names = children.map((c) => baseName(c.path));
    if (dir !== REPOSITORIES_ROOT && names.some((n) => REPOSITORY_MARKERS.has(n))) {
      const name = dir.slice(REPOSITORIES_ROOT.length + 1);
      if (inShard(name, shard) && inRepositoryFilter(name, filter)) count++;
    }
    for (const c of children) if (!baseName(c.path).startsWith('_')) pending.push(c.path);
  }
  return count;
}

async function countBlobPrefixes(
  driver: StorageDriver,
  shard: Shard | null,
  signal?: AbortSignal,
): Promise<number> {
  let count = 0;
  for (const algorithm of await listOrEmpty(driver, BLOBS_ROOT, signal)) {
    if (!algorithm.isDir) continue;
    for (const prefix of await listOrEmpty(driver, algorithm.path, signal)) {
      if (!prefix.isDir) continue;
      if (inShard(`${baseName(algorithm.path)}/${baseName(prefix.path)}`, shard)) count++;
    }
  }
  return count;
}

export async function countWork(
  driver: StorageDriver,
  opts: {
    repositories: boolean;
    blobs: boolean;
    shard: Shard | null;
    filter?: RepositoryFilter | null;
    signal?: AbortSignal;
  },
): Promise<WorkCount> {
  const repositories =
    opts.repositories && driver.directoryWalk
      ? await countRepositories(driver, opts.shard, opts.filter, opts.signal)
      : undefined;
  const blobPrefixes = opts.blobs ? await countBlobPrefixes(driver, opts.shard, opts.signal) : 0;
  return { ...(repositories !== undefined ? { repositories } : {}), blobPrefixes };
}
