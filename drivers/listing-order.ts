/**
 * What an object walk does when a store does not list in binary key order (S3, GCS, Ceph and MinIO
 * do; an S3-compatible store may not). The fast walk checks every page before yielding any of it:
 * keys strictly increasing within the page and after everything yielded before. On the first page
 * that is not, it stops and the walk goes on from the last path it yielded as a directory walk: one
 * delimiter listing per directory, each sorted here, so the order no longer depends on the store.
 * That costs one request per directory instead of one per 1,000 keys, so the store remembers the
 * finding (one warning per driver, and later walks start as directory walks).
 *
 * Limit: a page is checked against what came before it, so a store whose FIRST out-of-order key
 * arrives on a later page than keys that sort after it has already had those keys yielded; the
 * directory walk then yields only what sorts after them, and the walk throws ListingOrderError for
 * what it cannot place rather than dropping it silently.
 */
import type { FileInfo, WalkOptions } from './driver.js';
import { StorageError } from './errors.js';
import { compareBytewise } from './paths.js';

/** A listing page whose keys are not in binary order (internal to the walk). */
export class ListingOrderError extends StorageError {
  constructor(
    driver: string,
    readonly key: string,
    readonly after: string,
  ) {
    super(
      `${driver}: the store listed ${JSON.stringify(key)} after ${JSON.stringify(after)}, ` +
        'not in binary key order as S3 and GCS do',
      driver,
    );
  }
}

/** Throws ListingOrderError unless `keys` are strictly increasing and all after `after`. */
export function checkPageOrder(driver: string, keys: readonly string[], after: string | undefined): void {
  let prev = after;
  for (const key of keys) {
    if (prev !== undefined && compareBytewise(prev, key) >= 0) throw new ListingOrderError(driver, key, prev);
    prev = key;
  }
}

export interface DirectoryListing {
  /** Files directly in the directory, as FileInfo (key-relative paths resolved by the caller). */
  readonly files: readonly FileInfo[];
  /** Driver paths of its subdirectories. */
  readonly dirs: readonly string[];
}

/**
 * Every file below `dir` in bytewise path order, from one listing per directory (`listDir`), each
 * sorted here; subtrees wholly at or before `after` are not listed, `prune` is honoured.
 */
export async function* directoryWalk(
  dir: string,
  listDir: (dir: string) => Promise<DirectoryListing>,
  options: WalkOptions,
  after: string | undefined,
): AsyncGenerator<FileInfo> {
  const { files, dirs } = await listDir(dir);
  const entries: Array<{ sortKey: string; file?: FileInfo; dir?: string }> = [];
  for (const f of files) entries.push({ sortKey: f.path, file: f });
  for (const d of dirs) entries.push({ sortKey: `${d}/`, dir: d });
  entries.sort((a, b) => compareBytewise(a.sortKey, b.sortKey));
  for (const e of entries) {
    if (e.file !== undefined) {
      if (after === undefined || compareBytewise(e.file.path, after) > 0) yield e.file;
      continue;
    }
    const sub = e.dir!;
    if (after !== undefined && compareBytewise(e.sortKey, after) <= 0 && !after.startsWith(e.sortKey))
      continue;
    if (options.prune?.(sub)) continue;
    yield* directoryWalk(sub, listDir, options, after);
  }
}
