/**
 * `regdb inventory` / `regdb database import --estimate` (issue 14 §1): what an import would find,
 * from listings only (no manifest is read), per top-level namespace, and how long each step should
 * take on this store and this database.
 *
 * Counted from one walk of the repositories root (tag history pruned) and one of common blob storage:
 * repositories, tags, manifest revisions, `_layers` links, blobs and their bytes. With `sampleEvery`
 * > 1 only every n-th top-level namespace (by name) is listed and counts are scaled up; the output
 * says so. Rates: a timed sample of small reads (tag `current/link` files, then blob stats), and the
 * listing's own pace; the database side is measured by the caller (a COPY probe, src/db/copy-probe.ts)
 * and passed to `predict` (pure).
 */
import pLimit from 'p-limit';
import type { StorageDriver } from '../../drivers/driver.js';
import { PathNotFoundError } from '../../drivers/errors.js';
import { enumerateBlobs } from '../registry/blobs.js';
import { topLevelNamespace } from '../registry/names.js';
import { BLOBS_ROOT, blobDataPath, REPOSITORIES_ROOT } from '../registry/paths.js';
import { groupRepositories, pruneRepositoryWalkWithoutTagHistory } from '../registry/repositories.js';
import { inShard } from './shard.js';

export interface Counts {
  repositories: number;
  tags: number;
  manifests: number;
  layerLinks: number;
}

export interface Inventory {
  readonly namespaces: Record<string, Counts>;
  readonly total: Counts & { blobs: number; blobBytes: string };
  /** 1: every namespace was listed; n: one in n, counts scaled by n. */
  readonly sampleEvery: number;
  /** The driver lists directories (filesystem): step two's walk leaves `_layers` out. */
  readonly directoryWalk: boolean;
  readonly listingSeconds: { repositories: number; blobs: number };
  /** Storage requests per second at the import's concurrency, from the timed sample. */
  readonly readRate: { linkReadsPerSecond: number; statsPerSecond: number; sampled: number };
}

export interface InventoryOptions {
  /** List one top-level namespace in n (hash of the name), scale counts by n. */
  readonly sampleEvery: number;
  /** Reads in the timed sample (each kind). */
  readonly sampleReads: number;
  /** Reads at once in the sample (the import's per-repository read concurrency). */
  readonly concurrency: number;
  readonly onProgress?: (what: string, n: number) => void;
  readonly signal?: AbortSignal;
}

const zero = (): Counts => ({ repositories: 0, tags: 0, manifests: 0, layerLinks: 0 });

export async function takeInventory(driver: StorageDriver, opts: InventoryOptions): Promise<Inventory> {
  const sample = opts.sampleEvery > 1 ? { index: 0, count: opts.sampleEvery } : null;
  const namespaces: Record<string, Counts> = {};
  const tagLinks: string[] = [];
  const t0 = performance.now();
  let repos = 0;
  try {
    const files = driver.walk(REPOSITORIES_ROOT, {
      prune: pruneRepositoryWalkWithoutTagHistory,
      emptyDirectories: true,
      signal: opts.signal,
    });
    for await (const e of groupRepositories(files)) {
      if (e.kind !== 'repository') continue;
      const ns = topLevelNamespace(e.name);
      if (!inShard(ns, sample)) continue;
      const c = (namespaces[ns] ??= zero());
      c.repositories++;
      c.tags += e.tags.length;
      c.manifests += e.revisions.size;
      c.layerLinks += e.layers.size;
      for (const t of e.tags)
        if (t.currentLinkPath !== undefined && tagLinks.length < opts.sampleReads)
          tagLinks.push(t.currentLinkPath);
      if (++repos % 100 === 0) opts.onProgress?.('repositories', repos);
    }
  } catch (err) {
    if (!(err instanceof PathNotFoundError)) throw err;
  }
  const t1 = performance.now();
  let blobs = 0;
  let blobBytes = 0n;
  const blobPaths: string[] = [];
  try {
    for await (const b of enumerateBlobs(driver.walk(BLOBS_ROOT, { signal: opts.signal }))) {
      if (b.kind !== 'blob') continue;
      if (sample && !inShard(b.digest.hex.slice(0, 2), sample)) continue;
      blobs++;
      blobBytes += b.size;
      if (blobPaths.length < opts.sampleReads) blobPaths.push(blobDataPath(b.digest));
      if (blobs % 1000 === 0) opts.onProgress?.('blobs', blobs);
    }
  } catch (err) {
    if (!(err instanceof PathNotFoundError)) throw err;
  }
  const t2 = performance.now();
  const readRate = await timedReads(driver, tagLinks, blobPaths, opts);

  const n = opts.sampleEvery;
  const total = zero();
  for (const c of Object.values(namespaces)) {
    for (const k of Object.keys(total) as (keyof Counts)[]) {
      c[k] *= n;
      total[k] += c[k];
    }
  }
  return {
    namespaces,
    total: { ...total, blobs: blobs * n, blobBytes: (blobBytes * BigInt(n)).toString() },
    sampleEvery: n,
    directoryWalk: driver.directoryWalk,
    listingSeconds: { repositories: ((t1 - t0) / 1000) * n, blobs: ((t2 - t1) / 1000) * n },
    readRate,
  };
}

/** Small reads (links) and stats at the import's concurrency: requests per second of each. */
async function timedReads(
  driver: StorageDriver,
  links: readonly string[],
  blobs: readonly string[],
  opts: InventoryOptions,
): Promise<Inventory['readRate']> {
  const limit = pLimit(opts.concurrency);
  const rate = async (paths: readonly string[], one: (p: string) => Promise<unknown>): Promise<number> => {
    if (paths.length === 0) return 0;
    const t = performance.now();
    await Promise.all(paths.map((p) => limit(() => one(p).catch(() => undefined))));
    return paths.length / Math.max((performance.now() - t) / 1000, 1e-6);
  };
  const linkReadsPerSecond = await rate(links, (p) =>
    driver.getContent(p, { maxBytes: 4096, signal: opts.signal }),
  );
  const statsPerSecond = await rate(blobs, (p) => driver.stat(p, { signal: opts.signal }));
  return { linkReadsPerSecond, statsPerSecond, sampled: links.length + blobs.length };
}
