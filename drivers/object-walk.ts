/**
 * Walking an object store (S3, GCS): listings without a delimiter (one request per 1,000 keys), with
 * directories inferred from the sorted keys, `prune` honoured by restarting the listing just past the
 * pruned prefix, and large walks split into key ranges listed concurrently and merged back in order
 * with bounded buffering. Backends supply one paged list call; everything else is shared.
 */
import type { FileInfo, WalkOptions } from './driver.js';
import { PathNotFoundError } from './errors.js';
import { compareBytewise } from './paths.js';

export interface ObjectEntry {
  readonly key: string;
  readonly size: number;
  readonly modTime?: Date;
}

export interface ListQuery {
  /** Key prefix; '' or ends with '/'. */
  readonly prefix: string;
  /** Group keys below the next '/' into `prefixes` (one level listing). */
  readonly delimiter: boolean;
  /** Only keys strictly after this one (bytewise). Ignored when `token` is given. */
  readonly startAfter?: string;
  readonly token?: string;
  readonly signal?: AbortSignal;
}

export interface ListPage {
  readonly objects: readonly ObjectEntry[];
  /** Common prefixes (each ends with '/'), only with `delimiter`. */
  readonly prefixes: readonly string[];
  readonly nextToken?: string;
}

export interface ObjectStore {
  readonly driver: string;
  /** Key prefix of the driver root: '' or 'some/root/'. */
  readonly keyPrefix: string;
  listPage(query: ListQuery): Promise<ListPage>;
}

export interface ObjectWalkTuning {
  /** Ranges listed at the same time (1 = serial). */
  readonly rangeConcurrency: number;
  /** Pages each range may list ahead of the consumer. */
  readonly pagesAhead: number;
  /** How many directory levels below the prefix may be split into ranges. */
  readonly maxSplitDepth: number;
}

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

/** Tracks the directories implied by consecutive sorted keys and applies `prune` to each new one. */
class DirInference {
  private prev: string[] = [];
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
    const dirs = key.slice(this.base.length).split('/');
    dirs.pop();
    let same = 0;
    while (same < dirs.length && same < this.prev.length && dirs[same] === this.prev[same]) same++;
    for (let j = same; j < dirs.length; j++) {
      const dirKey = this.base + dirs.slice(0, j + 1).join('/') + '/';
      if (this.prune(pathOf(this.store, dirKey))) {
        this.skipPrefix = dirKey;
        this.prev = dirs.slice(0, j);
        return true;
      }
    }
    this.prev = dirs;
    return false;
  }
}

interface Range {
  readonly prefix: string;
  readonly startAfter?: string;
}

type Segment = { readonly range: Range } | { readonly file: FileInfo };

/** Pages of one key range, prune applied; `first` lets the caller hand over a page already listed. */
async function* rangePages(
  store: ObjectStore,
  range: Range,
  options: WalkOptions,
  first?: { page: ListPage; inference: DirInference },
): AsyncGenerator<FileInfo[]> {
  const inference = first?.inference ?? new DirInference(store, range.prefix, options.prune);
  let page = first?.page;
  let startAfter = range.startAfter;
  let token: string | undefined;
  for (;;) {
    page ??= await store.listPage({
      prefix: range.prefix,
      delimiter: false,
      startAfter,
      token,
      signal: options.signal,
    });
    const out = filePage(store, page, startAfter, inference);
    if (out.length > 0) yield out;
    if (page.nextToken === undefined) return;
    const last = page.objects[page.objects.length - 1]?.key;
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
  inf: DirInference,
): FileInfo[] {
  const out: FileInfo[] = [];
  for (const o of page.objects) {
    // GCS's startOffset is inclusive, and a key equal to a directory marker ("dir/") is no file.
    if (startAfter !== undefined && compareBytewise(o.key, startAfter) <= 0) continue;
    if (o.key.endsWith('/')) continue;
    if (inf.skip(o.key)) continue;
    out.push({ path: pathOf(store, o.key), size: o.size, modTime: o.modTime });
  }
  return out;
}

/** Pulls from a generator ahead of its consumer, at most `depth` items buffered. */
class Prefetch<T> {
  private readonly buffer: T[] = [];
  private done = false;
  private error: unknown;
  private waiter: (() => void) | undefined;
  private space: (() => void) | undefined;

  constructor(
    gen: AsyncGenerator<T>,
    private readonly depth: number,
  ) {
    void this.pump(gen);
  }

  private async pump(gen: AsyncGenerator<T>): Promise<void> {
    try {
      for await (const item of gen) {
        this.buffer.push(item);
        this.wake();
        while (this.buffer.length >= this.depth) await new Promise<void>((r) => (this.space = r));
      }
    } catch (err) {
      this.error = err ?? new Error('range listing failed');
    }
    this.done = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *items(): AsyncGenerator<T> {
    for (;;) {
      if (this.buffer.length > 0) {
        yield this.buffer.shift() as T;
        const s = this.space;
        this.space = undefined;
        s?.();
        continue;
      }
      if (this.error !== undefined) throw this.error;
      if (this.done) return;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
}

/** Splits what is left of `range` after `resumeAfter` by its immediate children. */
async function split(
  store: ObjectStore,
  range: Range,
  resumeAfter: string | undefined,
  options: WalkOptions,
): Promise<Segment[]> {
  const dirs: string[] = [];
  const files: ObjectEntry[] = [];
  let token: string | undefined;
  do {
    const page = await store.listPage({
      prefix: range.prefix,
      delimiter: true,
      token,
      signal: options.signal,
    });
    dirs.push(...page.prefixes);
    files.push(...page.objects);
    token = page.nextToken;
  } while (token !== undefined);
  const children: Array<{ key: string; dir: boolean; entry?: ObjectEntry }> = [
    ...dirs.map((key) => ({ key, dir: true })),
    ...files.map((entry) => ({ key: entry.key, dir: false, entry })),
  ].sort((a, b) => compareBytewise(a.key, b.key));
  const segments: Segment[] = [];
  for (const child of children) {
    if (!child.dir) {
      if (resumeAfter !== undefined && compareBytewise(child.key, resumeAfter) <= 0) continue;
      if (child.key.endsWith('/')) continue;
      const e = child.entry!;
      segments.push({ file: { path: pathOf(store, e.key), size: e.size, modTime: e.modTime } });
      continue;
    }
    const within = resumeAfter !== undefined && resumeAfter.startsWith(child.key);
    if (resumeAfter !== undefined && !within && compareBytewise(child.key, resumeAfter) <= 0) continue;
    if (options.prune?.(pathOf(store, child.key))) continue;
    segments.push({ range: within ? { prefix: child.key, startAfter: resumeAfter } : { prefix: child.key } });
  }
  return segments;
}

/**
 * Every object below directory `prefix` in bytewise key order, as FileInfo. The first page is listed
 * serially (a small walk costs one request); if more follow, the rest is split into ranges.
 */
export async function* walkObjects(
  store: ObjectStore,
  prefix: string,
  options: WalkOptions,
  tuning: ObjectWalkTuning,
): AsyncGenerator<FileInfo> {
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
    for await (const files of rangePages(store, { prefix: base, startAfter }, options, { page, inference })) {
      yield* files;
    }
    return;
  }
  yield* filePage(store, page, startAfter, inference);
  const last = page.objects[page.objects.length - 1]!.key;
  const resumeAfter =
    inference.skipPrefix !== undefined && last.startsWith(inference.skipPrefix)
      ? inference.skipPrefix + PAST
      : last;

  let segments = await split(store, { prefix: base }, resumeAfter, options);
  // A lone range (blobs/ has only sha256/) is split one level further, a bounded number of times.
  for (let depth = 1; depth < tuning.maxSplitDepth; depth++) {
    const ranges = segments.filter((s): s is { range: Range } => 'range' in s);
    if (ranges.length !== 1) break;
    const only = ranges[0]!.range;
    const at = segments.findIndex((s) => 'range' in s);
    const inner = await split(store, only, only.startAfter ?? resumeAfter, options);
    segments = [...segments.slice(0, at), ...inner, ...segments.slice(at + 1)];
  }

  // Ranges start in order, at most rangeConcurrency at a time, each buffering a few pages.
  const started: Array<Prefetch<FileInfo[]> | undefined> = segments.map(() => undefined);
  let nextToStart = 0;
  const startMore = (from: number): void => {
    let running = 0;
    for (let i = from; i < segments.length && running < tuning.rangeConcurrency; i++) {
      const seg = segments[i]!;
      if (!('range' in seg)) continue;
      running++;
      if (i >= nextToStart) {
        started[i] = new Prefetch(rangePages(store, seg.range, options), tuning.pagesAhead);
        nextToStart = i + 1;
      }
    }
  };
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if ('file' in seg) {
      yield seg.file;
      continue;
    }
    startMore(i);
    for await (const files of started[i]!.items()) yield* files;
    started[i] = undefined;
  }
}
