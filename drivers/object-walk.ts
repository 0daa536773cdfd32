/**
 * Walking an object store (S3, GCS): listings without a delimiter (one request per 1,000 keys), with
 * directories inferred from the sorted keys, `prune` honoured by restarting the listing just past the
 * pruned prefix, and large walks split into key ranges listed concurrently and merged back in order
 * with bounded buffering. Backends supply one paged list call; everything else is shared.
 */
import type { FileInfo, ListEntry, WalkOptions } from './driver.js';
import { PathNotFoundError } from './errors.js';
import { checkPageOrder, directoryWalk, ListingOrderError } from './listing-order.js';
import { compareBytewise } from './paths.js';
import { Prefetch } from './prefetch.js';

export interface ObjectEntry {
  readonly key: string;
  readonly size: number;
  readonly modTime?: Date;
  /** Content MD5, lowercase hex, when the listing proves one (drivers/content-md5.ts). */
  readonly md5?: string;
}

export interface ListQuery {
  /** Key prefix; '' or ends with '/'. */
  readonly prefix: string;
  /** Group keys below the next '/' into `prefixes` (one level listing). */
  readonly delimiter: boolean;
  /** Only keys strictly after this one (bytewise). Ignored when `token` is given. */
  readonly startAfter?: string;
  /** Keys from this one on are not wanted (GCS endOffset; S3 lists past it and the walk stops). */
  readonly end?: string;
  readonly token?: string;
  readonly signal?: AbortSignal;
}

export interface ListPage {
  readonly objects: readonly ObjectEntry[];
  /** Common prefixes (each ends with '/'), only with `delimiter`. */
  readonly prefixes: readonly string[];
  readonly nextToken?: string;
}

/** What a driver has learnt about its store's listing order (one warning, then directory walks). */
export class ListingOrderState {
  unordered = false;

  constructor(private readonly warn: (message: string) => void) {}

  found(err: ListingOrderError): void {
    if (this.unordered) return;
    this.unordered = true;
    this.warn(
      `${err.message}; walking directory by directory from now on (one listing per directory, each sorted here)`,
    );
  }
}

export interface ObjectStore {
  readonly driver: string;
  readonly listingOrder: ListingOrderState;
  /** Key prefix of the driver root: '' or 'some/root/'. */
  readonly keyPrefix: string;
  listPage(query: ListQuery): Promise<ListPage>;
}

export interface ObjectWalkTuning {
  /** Ranges listed at the same time (1 = serial). */
  readonly rangeConcurrency: number;
  /** Pages each range may list ahead of the consumer. */
  readonly pagesAhead: number;
  /** How many directory levels below the prefix may be looked at to find ranges. */
  readonly maxSplitDepth: number;
  /** At most this many ranges per walk. */
  readonly maxRanges: number;
  /** Estimated keys a range should hold at least (smaller ranges waste requests). */
  readonly minKeysPerRange: number;
}

export const DEFAULT_WALK_TUNING: ObjectWalkTuning = {
  rangeConcurrency: 8,
  pagesAhead: 2,
  maxSplitDepth: 3,
  maxRanges: 32,
  minKeysPerRange: 5000,
};

/** Sorts after every key that starts with the same prefix (U+10FFFF is the largest code point). */
const PAST = '\u{10FFFF}';

export function keyOf(store: ObjectStore, path: string): string {
  return path === '/' ? store.keyPrefix : store.keyPrefix + path.slice(1);
}

export function dirKeyOf(store: ObjectStore, dir: string): string {
  return dir === '/' ? store.keyPrefix : `${store.keyPrefix}${dir.slice(1)}/`;
}

export function pathOf(store: ObjectStore, key: string): string {
  const rel = key.slice(store.keyPrefix.length);
  return `/${rel.endsWith('/') ? rel.slice(0, -1) : rel}`;
}

/** Immediate children of a directory (one-level listings with a delimiter), sorted bytewise. */
export async function listChildren(
  store: ObjectStore,
  path: string,
  driverName: string,
  signal?: AbortSignal,
): Promise<ListEntry[]> {
  const entries: ListEntry[] = [];
  let token: string | undefined;
  do {
    const page = await store.listPage({ prefix: dirKeyOf(store, path), delimiter: true, token, signal });
    for (const p of page.prefixes) entries.push({ path: pathOf(store, p), isDir: true });
    for (const o of page.objects)
      if (!o.key.endsWith('/')) entries.push({ path: pathOf(store, o.key), isDir: false });
    token = page.nextToken;
  } while (token !== undefined);
  if (entries.length === 0) throw new PathNotFoundError(path, driverName);
  return entries.sort((a, b) => compareBytewise(a.path, b.path));
}

/** Tracks the directories implied by consecutive sorted keys and applies `prune` to each new one. */
class DirInference {
  /**
   * The directories already seen, as the key prefix that ends with the last of them ('' for none
   * below the base): a key shares its leading directories with it, and only directories after those
   * are new. Kept as one string so that a key costs a comparison, not a split into parts.
   */
  private seen = '';
  /** Key prefix of the subtree being skipped, if any. */
  skipPrefix: string | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly base: string,
    private readonly prune: ((dir: string) => boolean) | undefined,
  ) {}

  /** True when `key` lies in a pruned subtree. */
  skip(key: string): boolean {
    if (this.skipPrefix !== undefined) {
      if (key.startsWith(this.skipPrefix)) return true;
      this.skipPrefix = undefined;
    }
    if (!this.prune) return false;
    // The end of the directories key shares with `seen`: past the last '/' both have in common.
    const seen = this.seen;
    const limit = Math.min(seen.length, key.length);
    let same = this.base.length;
    for (let c = this.base.length; c < limit && key.charCodeAt(c) === seen.charCodeAt(c); c++)
      if (key.charCodeAt(c) === 47 /* '/' */) same = c + 1;
    for (let slash = key.indexOf('/', same); slash >= 0; slash = key.indexOf('/', slash + 1)) {
      const dirKey = key.slice(0, slash + 1);
      if (this.prune(pathOf(this.store, dirKey))) {
        this.skipPrefix = dirKey;
        this.seen = key.slice(0, same);
        return true;
      }
      same = slash + 1;
    }
    this.seen = key.slice(0, same);
    return false;
  }
}

/** Keys of `prefix` strictly after `startAfter` and strictly before `end`. */
interface Range {
  readonly prefix: string;
  readonly startAfter?: string;
  readonly end?: string;
}

/** Pages of one key range, prune applied; `first` lets the caller hand over a page already listed. */
async function* rangePages(
  store: ObjectStore,
  range: Range,
  options: WalkOptions,
  first?: { page: ListPage; inference: DirInference; lastKey?: string },
): AsyncGenerator<FileInfo[]> {
  const inference = first?.inference ?? new DirInference(store, range.prefix, options.prune);
  let page = first?.page;
  let startAfter = range.startAfter;
  let token: string | undefined;
  let lastKey = first?.lastKey;
  for (;;) {
    page ??= await store.listPage({
      prefix: range.prefix,
      delimiter: false,
      startAfter,
      end: range.end,
      token,
      signal: options.signal,
    });
    checkPageOrder(
      store.driver,
      page.objects.map((o) => o.key),
      token === undefined ? undefined : lastKey,
    );
    const { files, reachedEnd } = filePage(store, page, startAfter, range.end, inference);
    if (files.length > 0) yield files;
    if (page.nextToken === undefined || reachedEnd) return;
    const last = page.objects[page.objects.length - 1]?.key;
    lastKey = last ?? lastKey;
    if (inference.skipPrefix !== undefined && last !== undefined && last.startsWith(inference.skipPrefix)) {
      // The page ended inside a pruned subtree: jump past it instead of paging through it.
      startAfter = inference.skipPrefix + PAST;
      token = undefined;
    } else {
      token = page.nextToken;
    }
    page = undefined;
  }
}

function filePage(
  store: ObjectStore,
  page: ListPage,
  startAfter: string | undefined,
  end: string | undefined,
  inf: DirInference,
): { files: FileInfo[]; reachedEnd: boolean } {
  const files: FileInfo[] = [];
  for (const o of page.objects) {
    // GCS's startOffset is inclusive, and a key equal to a directory marker ("dir/") is no file.
    if (startAfter !== undefined && compareBytewise(o.key, startAfter) <= 0) continue;
    if (end !== undefined && compareBytewise(o.key, end) >= 0) return { files, reachedEnd: true };
    if (o.key.endsWith('/')) continue;
    if (inf.skip(o.key)) continue;
    const path = pathOf(store, o.key);
    files.push(
      o.md5 === undefined
        ? { path, size: o.size, modTime: o.modTime }
        : { path, size: o.size, modTime: o.modTime, md5: o.md5 },
    );
  }
  return { files, reachedEnd: false };
}

/** The immediate child (a key prefix ending in '/') of `prefix` that `key` lies in, or undefined for a file. */
function childOf(prefix: string, key: string): string | undefined {
  const cut = key.indexOf('/', prefix.length);
  return cut < 0 ? undefined : key.slice(0, cut + 1);
}

/**
 * Cuts what is left of `range` after `resumeAfter` into at most `tuning.maxRanges` ranges at child
 * directory boundaries. How many depends on the key density seen in the first page: ranges of fewer
 * than `minKeysPerRange` keys would cost more requests than they save time. A range whose only
 * child is one directory (blobs/ holds only sha256/) is split one level further.
 */
async function split(
  store: ObjectStore,
  range: Range,
  resumeAfter: string,
  firstPage: readonly ObjectEntry[],
  options: WalkOptions,
  tuning: ObjectWalkTuning,
  depth = 1,
): Promise<Range[]> {
  const dirs: string[] = [];
  let files = 0;
  let token: string | undefined;
  do {
    const page = await store.listPage({
      prefix: range.prefix,
      delimiter: true,
      token,
      signal: options.signal,
    });
    for (const p of page.prefixes)
      if (compareBytewise(p, resumeAfter) > 0 || resumeAfter.startsWith(p)) dirs.push(p);
    for (const o of page.objects) if (compareBytewise(o.key, resumeAfter) > 0) files++;
    token = page.nextToken;
  } while (token !== undefined);
  dirs.sort(compareBytewise);
  const whole: Range = { prefix: range.prefix, startAfter: resumeAfter, end: range.end };
  if (dirs.length === 1 && files === 0 && depth < tuning.maxSplitDepth) {
    const only = dirs[0]!;
    // Below `only` the ranges' own prune checks start one level down: check `only` itself here.
    if (!resumeAfter.startsWith(only) && options.prune?.(pathOf(store, only))) return [];
    return split(store, { prefix: only, end: range.end }, resumeAfter, firstPage, options, tuning, depth + 1);
  }
  // Density: keys per child in the first page (which ended at resumeAfter).
  const seen = new Set(firstPage.map((o) => childOf(range.prefix, o.key)).filter((c) => c !== undefined));
  const perChild = firstPage.length / Math.max(1, seen.size);
  const estimate = perChild * dirs.length;
  const count = Math.min(
    tuning.maxRanges,
    dirs.length,
    Math.max(1, Math.ceil(estimate / tuning.minKeysPerRange)),
  );
  if (count <= 1) return [whole];
  // Boundaries at evenly spaced child directories after the one resumeAfter lies in.
  const later = dirs.filter((d) => !resumeAfter.startsWith(d));
  const bounds: string[] = [];
  for (let i = 1; i < count; i++) {
    const b = later[Math.floor((i * later.length) / count)];
    if (b !== undefined && b !== bounds[bounds.length - 1]) bounds.push(b);
  }
  const ranges: Range[] = [];
  let lower = resumeAfter;
  for (const b of bounds) {
    ranges.push({ prefix: range.prefix, startAfter: lower, end: b });
    // Keys >= b: startAfter b itself only excludes a "b" directory-marker object, never a file.
    lower = b;
  }
  ranges.push({ prefix: range.prefix, startAfter: lower, end: range.end });
  return ranges;
}

/**
 * Every object below directory `prefix` in bytewise key order, as FileInfo. The first page is listed
 * serially (a small walk costs one request); if more follow, the rest is split into ranges. Every
 * page is checked for binary key order before any of it is yielded; a store that lists otherwise
 * makes the walk go on as a directory walk (drivers/listing-order.ts).
 */
export async function* walkObjects(
  store: ObjectStore,
  prefix: string,
  options: WalkOptions,
  tuning: ObjectWalkTuning,
): AsyncGenerator<FileInfo> {
  if (store.listingOrder.unordered) {
    yield* sortedWalk(store, prefix, options, options.startAfter);
    return;
  }
  let last: string | undefined = options.startAfter;
  let yielded = 0;
  try {
    for await (const files of walkPages(store, prefix, options, tuning)) {
      checkPageOrder(
        store.driver,
        files.map((f) => f.path),
        last,
      );
      yield* files;
      yielded += files.length;
      last = files[files.length - 1]?.path ?? last;
    }
    return;
  } catch (err) {
    if (!(err instanceof ListingOrderError)) throw err;
    store.listingOrder.found(err);
  }
  if (yielded > 0) {
    // Keys before `last` may still be unlisted: count what a sorted walk finds there against what
    // was yielded. Equal counts mean the yielded set was complete (it is a subset of the same set).
    let before = 0;
    for await (const f of sortedWalk(store, prefix, options, options.startAfter)) {
      if (compareBytewise(f.path, last!) > 0) break;
      before++;
    }
    if (before !== yielded) {
      throw new ListingOrderError(store.driver, `${before - yielded} key(s) before ${last}`, last!);
    }
  }
  yield* sortedWalk(store, prefix, options, last);
}

/** A directory walk over delimiter listings, each directory sorted here (listing-order.ts). */
function sortedWalk(
  store: ObjectStore,
  prefix: string,
  options: WalkOptions,
  after: string | undefined,
): AsyncGenerator<FileInfo> {
  return directoryWalk(
    prefix,
    async (dir) => {
      const files: FileInfo[] = [];
      const dirs: string[] = [];
      let token: string | undefined;
      do {
        const page = await store.listPage({
          prefix: dirKeyOf(store, dir),
          delimiter: true,
          token,
          signal: options.signal,
        });
        for (const p of page.prefixes) dirs.push(pathOf(store, p));
        for (const o of page.objects) {
          if (o.key.endsWith('/')) continue;
          const path = pathOf(store, o.key);
          files.push(
            o.md5 === undefined
              ? { path, size: o.size, modTime: o.modTime }
              : { path, size: o.size, modTime: o.modTime, md5: o.md5 },
          );
        }
        token = page.nextToken;
      } while (token !== undefined);
      if (dir === prefix && files.length === 0 && dirs.length === 0 && after === options.startAfter) {
        throw new PathNotFoundError(prefix, store.driver);
      }
      return { files, dirs };
    },
    options,
    after,
  );
}

/** The fast walk: pages of FileInfo in listing order (checked by the caller). */
async function* walkPages(
  store: ObjectStore,
  prefix: string,
  options: WalkOptions,
  tuning: ObjectWalkTuning,
): AsyncGenerator<FileInfo[]> {
  const base = dirKeyOf(store, prefix);
  const startAfter = options.startAfter === undefined ? undefined : keyOf(store, options.startAfter);
  const inference = new DirInference(store, base, options.prune);
  const page = await store.listPage({ prefix: base, delimiter: false, startAfter, signal: options.signal });
  if (page.objects.length === 0 && page.nextToken === undefined) {
    if (startAfter === undefined) throw new PathNotFoundError(prefix, store.driver);
    // Resuming past the end is fine; resuming in a prefix that does not exist is not (as on disk).
    const any = await store.listPage({ prefix: base, delimiter: true, signal: options.signal });
    if (any.objects.length === 0 && any.prefixes.length === 0)
      throw new PathNotFoundError(prefix, store.driver);
    return;
  }
  if (page.nextToken === undefined || tuning.rangeConcurrency <= 1) {
    yield* rangePages(store, { prefix: base, startAfter }, options, { page, inference });
    return;
  }
  checkPageOrder(
    store.driver,
    page.objects.map((o) => o.key),
    undefined,
  );
  const firstFiles = filePage(store, page, startAfter, undefined, inference).files;
  if (firstFiles.length > 0) yield firstFiles;
  const last = page.objects[page.objects.length - 1]!.key;
  const resumeAfter =
    inference.skipPrefix !== undefined && last.startsWith(inference.skipPrefix)
      ? inference.skipPrefix + PAST
      : last;
  const ranges = await split(store, { prefix: base }, resumeAfter, page.objects, options, tuning);

  // Ranges start in order, at most rangeConcurrency at a time, each buffering a few pages.
  const started: Array<Prefetch<FileInfo[]> | undefined> = ranges.map(() => undefined);
  let nextToStart = 0;
  try {
    for (let i = 0; i < ranges.length; i++) {
      while (nextToStart < ranges.length && nextToStart < i + tuning.rangeConcurrency) {
        started[nextToStart] = new Prefetch(
          rangePages(store, ranges[nextToStart]!, options),
          tuning.pagesAhead,
        );
        nextToStart++;
      }
      yield* started[i]!.items();
      started[i] = undefined;
    }
  } finally {
    for (const p of started) p?.cancel();
  }
}
