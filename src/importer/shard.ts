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
