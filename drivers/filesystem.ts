/**
 * Filesystem backend: driver path `/docker/...` is `<rootdirectory>/docker/...` on disk (spec §1.1).
 * Small reads go through a pool of worker threads doing synchronous I/O in batches (see
 * fs-reader-pool.ts); walks read directories synchronously, children sorted so that full paths come
 * out in bytewise order. Paths can never leave the root: `..`/empty components are rejected, and
 * every opened file is checked against the real root (symlinks included).
 */
import { availableParallelism } from 'node:os';
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { BaseDriver } from './base.js';
import type {
  CallOptions,
  ContentResult,
  FileInfo,
  GetContentOptions,
  ListEntry,
  StatInfo,
  WalkOptions,
} from './driver.js';
import {
  backendFailure,
  ContentTooLargeError,
  InvalidPathError,
  PathNotFoundError,
  StorageError,
  UnreadablePathError,
  type StorageDriverError,
} from './errors.js';
import { FileReaderPool, ReadStatus, type ReadResult } from './fs-reader-pool.js';
import { childPath, compareBytewise, dirPrefix, sortForWalk, subtreeBefore } from './paths.js';
import { resolveConcurrency } from './requests.js';
import { silentLogger } from './silent-logger.js';

export { DEFAULT_ROOT_DIRECTORY } from './filesystem-params.js';
import { DEFAULT_ROOT_DIRECTORY } from './filesystem-params.js';

export interface FilesystemDriverOptions {
  readonly rootDirectory?: string;
  /** Reader threads: floor 1, default min(4, available parallelism). */
  readonly threads?: number;
  readonly logger?: Logger;
}

const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR']);
/** Faults of one entry, not of the storage (ENOTREG: the reader pool's "not a regular file"). */
const ENTRY_FAULT_CODES = new Set(['EACCES', 'EPERM', 'ELOOP', 'ENXIO', 'ENAMETOOLONG', 'ENOTREG']);

interface Child {
  readonly name: string;
  readonly isDir: boolean;
  /** Known for symlinks (stat'ed to follow them); plain files are stat'ed only when asked. */
  readonly stats?: fs.Stats;
}

/**
 * A walked file whose size and time are read (one lstat) on first access: a walk of 240,000 link
 * files spends a fifth of its time in lstat, and most callers only want the paths. The getters are
 * own enumerable properties, so spreading or serialising the object reads them like plain fields.
 */
function lazyFileInfo(path: string, file: string): FileInfo {
  let stats: fs.Stats | undefined | null = null;
  // A file deleted since the walk saw it reads as empty, as a concurrent delete would.
  const load = (): fs.Stats | undefined =>
    stats === null ? (stats = fs.lstatSync(file, { throwIfNoEntry: false })) : stats;
  return {
    path,
    get size(): number {
      return load()?.size ?? 0;
    },
    get modTime(): Date | undefined {
      return load()?.mtime;
    },
  };
}

/**
 * Every call is one request (no retries, no probes), so BaseDriver counts them; a walk counts the
 * directories it reads.
 */
export class FilesystemDriver extends BaseDriver {
  declare readonly name: 'filesystem';
  readonly listingMd5 = false;
  readonly directoryWalk = true;
  readonly root: string;
  private readonly realRoot: string;
  private readonly pool: FileReaderPool;
  private readonly logger: Logger;

  constructor(opts: FilesystemDriverOptions = {}) {
    super('filesystem', 'calls');
    const root = opts.rootDirectory ?? DEFAULT_ROOT_DIRECTORY;
    if (!root.startsWith('/')) throw new InvalidPathError(root, this.name, 'rootdirectory must be absolute');
    this.root = root.length > 1 ? root.replace(/\/+$/, '') : root;
    this.logger = opts.logger ?? silentLogger;
    try {
      this.realRoot = fs.realpathSync.native(this.root);
    } catch (err) {
      // The root may not exist yet (nothing written); reads will then simply find nothing.
      if (!NOT_FOUND_CODES.has((err as NodeJS.ErrnoException).code ?? ''))
        throw this.ioFailure('open root', this.root, err);
      this.realRoot = this.root;
    }
    const threads = resolveConcurrency(opts.threads, {
      floor: 1,
      default: Math.min(4, availableParallelism()),
    });
    this.pool = new FileReaderPool(threads, this.realRoot);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  protected async statChecked(path: string): Promise<StatInfo> {
    const st = this.statInside(path, this.onDisk(path));
    if (!st) throw new PathNotFoundError(path, this.name);
    const isDir = st.isDirectory();
    return { path, isDir, size: isDir ? 0 : st.size, modTime: st.mtime };
  }

  protected async listChecked(path: string): Promise<ListEntry[]> {
    const children = this.readChildren(path, this.onDisk(path), false);
    if (!children) throw new PathNotFoundError(path, this.name);
    return children
      .map((c) => ({ path: childPath(path, c.name), isDir: c.isDir }))
      .sort((a, b) => compareBytewise(a.path, b.path));
  }

  protected async *walkChecked(prefix: string, options: WalkOptions): AsyncGenerator<FileInfo> {
    const { prune, startAfter, signal, emptyDirectories, onUnreadable } = options;
    // One directory read, one list request: the calls BaseDriver cannot see.
    this.requests.list++;
    const top = this.readChildren(prefix, this.onDisk(prefix), true, true, onUnreadable);
    if (!top) throw new PathNotFoundError(prefix, this.name);
    // Depth-first over sorted children; each frame holds one directory's remaining children.
    const stack: Array<{ dir: string; children: Child[]; next: number }> = [
      { dir: prefix, children: top, next: 0 },
    ];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      if (frame.next >= frame.children.length) {
        stack.pop();
        continue;
      }
      const child = frame.children[frame.next++]!;
      const path = childPath(frame.dir, child.name);
      if (child.isDir) {
        if (startAfter !== undefined && subtreeBefore(path, startAfter)) continue;
        if (prune?.(path)) continue;
        signal?.throwIfAborted();
        this.requests.list++;
        const children = this.readChildren(path, this.onDisk(path), true, false, onUnreadable);
        if (children && children.length > 0) stack.push({ dir: path, children, next: 0 });
        else if (children && emptyDirectories) {
          const marker = `${path}/`;
          if (startAfter === undefined || compareBytewise(marker, startAfter) > 0) {
            yield { path: marker, size: 0, isDir: true };
          }
        }
      } else {
        if (startAfter !== undefined && compareBytewise(path, startAfter) <= 0) continue;
        yield child.stats
          ? { path, size: child.stats.size, modTime: child.stats.mtime }
          : lazyFileInfo(path, this.onDisk(path));
      }
    }
  }

  protected async readChecked(path: string, options: GetContentOptions): Promise<Buffer> {
    const { maxBytes } = options;
    return this.unpack(path, maxBytes, await this.pool.read(this.onDisk(path), maxBytes));
  }

  protected readManyChecked(paths: readonly string[], options: GetContentOptions): Promise<ContentResult[]> {
    return Promise.all(
      paths.map(async (path): Promise<ContentResult> => {
        try {
          return { path, content: await this.readChecked(path, options) };
        } catch (error) {
          if (error instanceof StorageError) return { path, error };
          throw error;
        }
      }),
    );
  }

  protected async readerChecked(path: string, options: CallOptions & { offset?: number }): Promise<Readable> {
    const file = this.onDisk(path);
    let handle: fs.promises.FileHandle;
    try {
      // Checked before opening, as in the reader pool: never outside the root, never a FIFO.
      const st = this.statInside(path, file);
      if (!st || st.isDirectory()) throw new PathNotFoundError(path, this.name);
      if (!st.isFile()) throw new UnreadablePathError(path, this.name, 'not a regular file');
      handle = await fs.promises.open(
        fs.realpathSync.native(file),
        fs.constants.O_RDONLY | fs.constants.O_NONBLOCK,
      );
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw this.translate('open', path, err);
    }
    return handle.createReadStream({ start: options.offset ?? 0, signal: options.signal });
  }

  protected async putChecked(path: string, content: Buffer, options?: CallOptions): Promise<void> {
    const file = this.onDisk(path);
    try {
      await fs.promises.mkdir(dirname(file), { recursive: true });
      const real = await fs.promises.realpath(dirname(file));
      if (!this.isInside(real))
        throw new InvalidPathError(path, this.name, 'resolves outside the root directory');
      // Write beside, then rename: readers never see a half-written file.
      const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      await fs.promises.writeFile(tmp, content, { signal: options?.signal });
      await fs.promises.rename(tmp, file);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw this.translate('write', path, err);
    }
  }

  protected async deleteChecked(path: string): Promise<void> {
    const file = this.onDisk(path);
    try {
      const real = await fs.promises.realpath(dirname(file));
      if (!this.isInside(real))
        throw new InvalidPathError(path, this.name, 'resolves outside the root directory');
      await fs.promises.unlink(file);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      if (NOT_FOUND_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return;
      throw this.translate('delete', path, err);
    }
  }

  private onDisk(path: string): string {
    return path === '/' ? this.root : this.root === '/' ? path : this.root + path;
  }

  private isInside(real: string): boolean {
    return real === this.realRoot || real.startsWith(dirPrefix(this.realRoot));
  }

  /** lstat, following a symlink only when its target stays inside the root. */
  private statInside(path: string, file: string): fs.Stats | undefined {
    try {
      const real = fs.realpathSync.native(file);
      if (!this.isInside(real))
        throw new InvalidPathError(path, this.name, 'resolves outside the root directory');
      return fs.statSync(real);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      if (NOT_FOUND_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw this.translate('stat', path, err);
    }
  }

  /**
   * A directory's children with types and sizes, or undefined when `dir` is missing or not a
   * directory. Symlinks are followed only inside the root; others are skipped with a warning.
   */
  private readChildren(
    path: string,
    dir: string,
    forWalk: boolean,
    verify = true,
    onUnreadable?: (path: string, reason: string) => void,
  ): Child[] | undefined {
    // Below the walk's top, one unreadable entry is reported and left out; the top still throws.
    const skip = (child: string, reason: string): void => {
      if (onUnreadable) onUnreadable(child, reason);
      else this.logger.warn({ driver: this.name, path: child }, `${reason}, skipped`);
    };
    let entries: fs.Dirent[];
    try {
      // Below a verified directory, children are plain directories or already-verified symlinks.
      if (verify && path !== '/' && !this.isInside(fs.realpathSync.native(dir))) {
        throw new InvalidPathError(path, this.name, 'resolves outside the root directory');
      }
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (err instanceof StorageError) throw err;
      if (NOT_FOUND_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
      const failure = this.translate('list', path, err);
      if (verify || !(failure instanceof UnreadablePathError)) throw failure;
      skip(path, failure.reason);
      return undefined;
    }
    const children: Child[] = [];
    for (const entry of entries) {
      const full = `${dir}/${entry.name}`;
      // readdir decodes names as UTF-8, replacing invalid bytes: such a name cannot be opened again.
      if (entry.name.includes('\uFFFD') && !validName(dir, entry.name)) {
        skip(childPath(path, entry.name), 'name is not valid UTF-8');
        continue;
      }
      let isDir = entry.isDirectory();
      if (isDir && !forWalk) {
        children.push({ name: entry.name, isDir });
        continue;
      }
      if (!isDir && !entry.isFile() && !entry.isSymbolicLink()) {
        if (forWalk) skip(childPath(path, entry.name), 'not a regular file or directory');
        continue;
      }
      try {
        if (entry.isSymbolicLink()) {
          const real = fs.realpathSync.native(full);
          if (!this.isInside(real)) {
            skip(childPath(path, entry.name), 'symlink leaves the root');
            continue;
          }
          const st = fs.statSync(real);
          isDir = st.isDirectory();
          if (!isDir && !st.isFile()) {
            skip(childPath(path, entry.name), 'symlink to a FIFO, socket or device');
            continue;
          }
          children.push({ name: entry.name, isDir, stats: isDir ? undefined : st });
        } else {
          children.push({ name: entry.name, isDir });
        }
      } catch (err) {
        // Vanished between readdir and stat: a concurrent delete, not an error for a walk.
        if (NOT_FOUND_CODES.has((err as NodeJS.ErrnoException).code ?? '')) continue;
        const failure = this.translate('stat', childPath(path, entry.name), err);
        if (failure instanceof UnreadablePathError) skip(failure.path, failure.reason);
        else throw failure;
      }
    }
    return forWalk ? sortForWalk(children) : children;
  }

  private unpack(path: string, maxBytes: number, r: ReadResult): Buffer {
    switch (r.status) {
      case ReadStatus.Ok:
        return r.content;
      case ReadStatus.NotFound:
        return this.throwError(new PathNotFoundError(path, this.name, { cause: r.code }));
      case ReadStatus.Escapes:
        return this.throwError(new InvalidPathError(path, this.name, 'resolves outside the root directory'));
      case ReadStatus.TooLarge:
        return this.throwError(new ContentTooLargeError(path, this.name, maxBytes, r.size));
      default:
        if (ENTRY_FAULT_CODES.has(r.code ?? ''))
          return this.throwError(new UnreadablePathError(path, this.name, r.message, { cause: r.code }));
        return this.throwError(
          backendFailure(this.name, {
            operation: 'read',
            path,
            attempts: 1,
            cause: Object.assign(new Error(r.message), { code: r.code }),
          }),
        );
    }
  }

  private throwError(err: Error): never {
    throw err;
  }

  private translate(operation: string, path: string, err: unknown): StorageError {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (NOT_FOUND_CODES.has(code) || code === 'EISDIR')
      return new PathNotFoundError(path, this.name, { cause: err });
    if (ENTRY_FAULT_CODES.has(code))
      return new UnreadablePathError(path, this.name, (err as Error).message, { cause: err });
    return this.ioFailure(operation, path, err);
  }

  private ioFailure(operation: string, path: string, err: unknown): StorageDriverError {
    return backendFailure(this.name, { operation, path, attempts: 1, cause: err });
  }
}

/** Does `name`, as readdir decoded it, name an entry of `dir`? False when its bytes were not UTF-8. */
function validName(dir: string, name: string): boolean {
  return fs
    .readdirSync(dir, { encoding: 'buffer' })
    .some((b) => b.toString('utf8') === name && Buffer.from(name).equals(b));
}
