/**
 * `--shard I/N`: a process imports the repositories whose path hashes to I (and the blob prefixes that
 * hash to I in step three), so N processes can share one registry (issue 5 §3). The key is the whole
 * repository path, not its top-level namespace (issue 13 §2): one large group spreads over all N
 * shards instead of landing on one. It depends on nothing but the path and N, so it is the same on
 * every restart and every machine. Shards that meet on a namespace or a blob insert it once
 * (`ON CONFLICT DO NOTHING`, src/db/import-sql.ts).
 */
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';

export interface Shard {
  readonly index: number;
  readonly count: number;
}

export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index < count)) {
    throw new UsageError(`invalid --shard "${value}": use I/N with 0 <= I < N, for example 0/3`);
  }
  return { index, count };
}

/** Stable across runs and machines: the first 4 bytes of SHA-256 of the key, modulo N. */
export function shardOf(key: string, count: number): number {
  return createHash('sha256').update(key, 'utf8').digest().readUInt32BE(0) % count;
}

export function inShard(key: string, shard: Shard | null): boolean {
  return shard === null || shard.count === 1 || shardOf(key, shard.count) === shard.index;
}

/**
 * `prune` for a shard's walk of a directory tree (filesystem): also skips the own directories
 * (`_manifests`, `_layers`) of every repository of another shard, so N shards do not each list the
 * whole tree (measured: list requests grew N-fold, and the import's CPU seconds with them). The
 * namespace directories above are still walked, so nested repositories of this shard are found.
 * Object stores list a whole subtree in pages anyway, where pruning would cost requests: not used there.
 */
export function pruneOtherShards(
  prune: (dirPath: string) => boolean,
  repositoriesRoot: string,
  shard: Shard,
): (dirPath: string) => boolean {
  return (dirPath) => {
    if (prune(dirPath)) return true;
    if (!dirPath.startsWith(`${repositoriesRoot}/`)) return false;
    const cut = dirPath.lastIndexOf('/');
    const last = dirPath.slice(cut + 1);
    if (!last.startsWith('_') || cut <= repositoriesRoot.length) return false;
    const repository = dirPath.slice(repositoriesRoot.length + 1, cut);
    // Only a repository's own directory: nothing above it may start with '_' (that is inside one).
    if (repository.split('/').some((s) => s.startsWith('_'))) return false;
    return !inShard(repository, shard);
  };
}
