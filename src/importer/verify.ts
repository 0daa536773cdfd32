/**
 * `regdb database verify` (issue 14 §2): compares the database with storage, read-only on both sides
 * (a READ ONLY snapshot, src/db/verify-queries.ts; storage is only listed, read and stat'ed).
 *
 * Scope: every repository by default; `--sample N` N of them spread evenly over the sorted names;
 * `--repository R` one. Repository names are always compared in full (both lists are cheap). `--full`
 * also compares all of common blob storage with the blobs table, both ways (what step three imports).
 */
import pLimit from 'p-limit';
import type { StorageDriver } from '../../drivers/driver.js';
import { PathNotFoundError } from '../../drivers/errors.js';
import type { Database } from '../db/open.js';
import { VerifySnapshot, type DbRepository } from '../db/verify-queries.js';
import { UsageError } from '../errors.js';
import { enumerateBlobs } from '../registry/blobs.js';
import { formatDigest, parseDigest } from '../registry/digest.js';
import { BLOBS_ROOT, blobDataPath, repositoryPath, REPOSITORIES_ROOT } from '../registry/paths.js';
import {
  groupRepositories,
  pruneRepositoryWalk,
  pruneRepositoryWalkAndLayers,
  type Repository,
} from '../registry/repositories.js';
import { StorageReads } from './storage-reads.js';
import {
  blobsToStat,
  compareBlob,
  compareBlobs,
  compareRepository,
  DIFFERENCE_KINDS,
  type Difference,
  type DifferenceKind,
  type StorageRepository,
} from './verify-compare.js';

export interface VerifyOptions {
  /** Check this many repositories (evenly spread); undefined: all. */
  readonly sample?: number;
  /** Also compare all of common blob storage with the blobs table. */
  readonly full: boolean;
  /** Only this repository. */
  readonly repository?: string;
  /** Repositories compared at once. */
  readonly concurrency: number;
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

/** Differences kept for the report (all are counted). */
const KEEP = 10_000;

export interface VerifyResult {
  readonly scope: 'all' | 'sample' | 'repository';
  readonly full: boolean;
  readonly repositories: { readonly storage: number; readonly database: number; readonly checked: number };
  readonly checked: { tags: number; manifests: number; layers: number; blobs: number };
  readonly counts: Record<DifferenceKind, number>;
  readonly differences: Difference[];
  /** Repository directories whose name the reference grammar rejects: not importable, not compared. */
  readonly invalidNames: string[];
  readonly equal: boolean;
}

/** Evenly spread picks of `n` out of `names` (sorted), the first and the last included. */
export function sampleNames(names: readonly string[], n: number): string[] {
  if (n >= names.length) return [...names];
  if (n === 1) return [names[0]!];
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(names[Math.round((i * (names.length - 1)) / (n - 1))]!);
  return out;
}

export async function verify(
  driver: StorageDriver,
  pool: Database['pool'],
  opts: VerifyOptions,
): Promise<VerifyResult> {
  const reads = new StorageReads(driver, opts.signal);
  const snapshot = await VerifySnapshot.open(pool);
  const counts = Object.fromEntries(DIFFERENCE_KINDS.map((k) => [k, 0])) as Record<DifferenceKind, number>;
  const differences: Difference[] = [];
  const seenBlobDiffs = new Set<string>();
  const add = (ds: readonly Difference[]) => {
    for (const d of ds) {
      if (d.repository === undefined) {
        const key = `${d.kind} ${d.digest ?? ''}`;
        if (seenBlobDiffs.has(key)) continue;
        seenBlobDiffs.add(key);
      }
      counts[d.kind]++;
      if (differences.length < KEEP) differences.push(d);
    }
  };
  const checked = { tags: 0, manifests: 0, layers: 0, blobs: 0 };
  try {
    const { valid, invalid } = await storageNames(driver, opts.signal);
    const inDb = await snapshot.repositoryPaths();
    const dbSet = new Set(inDb);
    const storageSet = new Set(valid);

    let selected: string[];
    let scope: VerifyResult['scope'] = 'all';
    if (opts.repository !== undefined) {
      scope = 'repository';
      if (!storageSet.has(opts.repository) && !dbSet.has(opts.repository))
        throw new UsageError(
          `unknown repository "${opts.repository}": neither storage nor the database has it`,
        );
      selected = [opts.repository];
    } else {
      for (const n of valid) if (!dbSet.has(n)) add([{ kind: 'repository-only-in-storage', repository: n }]);
      for (const n of inDb)
        if (!storageSet.has(n)) add([{ kind: 'repository-only-in-database', repository: n }]);
      const both = valid.filter((n) => dbSet.has(n));
      if (opts.sample !== undefined) {
        scope = 'sample';
        if (opts.sample > valid.length)
          throw new UsageError(
            `--sample ${opts.sample} is larger than the store: storage has ${valid.length} repositories`,
          );
        selected = sampleNames(both, opts.sample);
      } else selected = both;
    }

    // --full: every blob file's size, then the blobs table against it (both ways).
    let blobSizes: Map<string, bigint | null> | undefined;
    if (opts.full) {
      blobSizes = new Map();
      for await (const e of enumerateBlobs(driver.walk(BLOBS_ROOT, { signal: opts.signal })))
        if (e.kind === 'blob') blobSizes.set(formatDigest(e.digest), e.size);
      const matched = new Set<string>();
      for await (const b of snapshot.allBlobs()) {
        checked.blobs++;
        matched.add(b.digest);
        add(compareBlob(b, blobSizes.get(b.digest) ?? null));
      }
      for (const digest of blobSizes.keys())
        if (!matched.has(digest)) add([{ kind: 'blob-only-in-storage', digest }]);
    }
    const statCache = new Map<string, Promise<bigint | null>>();
    const sizeOf = (digest: string): Promise<bigint | null> => {
      if (blobSizes) return Promise.resolve(blobSizes.get(digest) ?? null);
      let p = statCache.get(digest);
      if (p === undefined) statCache.set(digest, (p = statBlob(driver, digest, opts.signal)));
      return p;
    };

    const limit = pLimit(opts.concurrency);
    let done = 0;
    await Promise.all(
      selected.map((name) =>
        limit(async () => {
          const db = await snapshot.repository(name);
          const repo = await storageRepository(driver, name, opts.signal);
          if (db === undefined && repo !== undefined)
            add([{ kind: 'repository-only-in-storage', repository: name }]);
          else if (db !== undefined && repo === undefined)
            add([{ kind: 'repository-only-in-database', repository: name }]);
          else if (db !== undefined && repo !== undefined) {
            const s = await readStorageSide(reads, repo, db, sizeOf);
            add(compareRepository(s, db));
            if (!opts.full) add(compareBlobs(db.blobs, s.blobSizes));
            checked.tags += s.tags.size;
            checked.manifests += db.manifests.size;
            checked.layers += db.layers.length;
            if (!opts.full) checked.blobs += db.blobs.length;
          }
          opts.onProgress?.(++done, selected.length);
        }),
      ),
    );
    const equal = Object.values(counts).every((n) => n === 0);
    return {
      scope,
      full: opts.full,
      repositories: { storage: valid.length, database: inDb.length, checked: selected.length },
      checked,
      counts,
      differences,
      invalidNames: invalid,
      equal,
    };
  } finally {
    await snapshot.close();
  }
}

/** Repository names in storage (one listing without `_layers`), valid and invalid apart. */
async function storageNames(
  driver: StorageDriver,
  signal?: AbortSignal,
): Promise<{ valid: string[]; invalid: string[] }> {
  const valid: string[] = [];
  const invalid: string[] = [];
  try {
    const files = driver.walk(REPOSITORIES_ROOT, {
      prune: pruneRepositoryWalkAndLayers,
      emptyDirectories: true,
      signal,
    });
    for await (const e of groupRepositories(files, { layersListed: false }))
      (e.kind === 'repository' ? valid : invalid).push(e.name);
  } catch (err) {
    if (!(err instanceof PathNotFoundError)) throw err;
  }
  return { valid: valid.sort(), invalid };
}

/** One repository's listing (its own folder; nested repositories are walked and dropped). */
async function storageRepository(
  driver: StorageDriver,
  name: string,
  signal?: AbortSignal,
): Promise<Repository | undefined> {
  try {
    const files = driver.walk(repositoryPath(name), {
      prune: pruneRepositoryWalk,
      emptyDirectories: true,
      signal,
    });
    for await (const e of groupRepositories(files))
      if (e.name === name) return e.kind === 'repository' ? e : undefined;
  } catch (err) {
    if (!(err instanceof PathNotFoundError)) throw err;
  }
  return undefined;
}

async function statBlob(driver: StorageDriver, digest: string, signal?: AbortSignal): Promise<bigint | null> {
  const d = parseDigest(digest);
  if (!d.ok) return null;
  try {
    const info = await driver.stat(blobDataPath(d.digest), { signal });
    return info.isDir ? null : BigInt(info.size);
  } catch (err) {
    if (err instanceof PathNotFoundError) return null;
    throw err;
  }
}

/** Tag links, the database's manifests as storage holds them, layer links and blob sizes. */
async function readStorageSide(
  reads: StorageReads,
  repo: Repository,
  db: DbRepository,
  sizeOf: (digest: string) => Promise<bigint | null>,
): Promise<StorageRepository> {
  const tags = new Map<string, string | null>();
  for (const t of repo.tags) {
    const link = t.currentLinkPath === undefined ? null : await reads.link(t.currentLinkPath);
    tags.set(t.name, link?.ok ? formatDigest(link.digest) : null);
  }
  const manifests = new Map<string, Buffer | null>();
  for (const digest of db.manifests.keys()) {
    const linkPath = repo.revisions.get(digest);
    const link = linkPath === undefined ? null : await reads.link(linkPath);
    if (!link?.ok) {
      manifests.set(digest, null);
      continue;
    }
    const read = await reads.blob(link.digest);
    manifests.set(digest, read.kind === 'payload' ? read.payload : null);
  }
  const blobSizes = new Map<string, bigint | null>();
  for (const digest of blobsToStat(db, manifests)) blobSizes.set(digest, await sizeOf(digest));
  return { path: repo.name, tags, manifests, layerLinks: new Set(repo.layers.keys()), blobSizes };
}
