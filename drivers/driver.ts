/**
 * The storage-driver contract every backend implements (filesystem, s3, gcs).
 *
 * Paths are driver paths as the registry uses them: absolute, '/'-separated, no trailing slash,
 * e.g. `/docker/registry/v2/repositories/group/image/_manifests/tags/latest/current/link`.
 * Each backend maps them onto its own root (rootdirectory / key prefix), spec §1.1.
 */
import type { Readable } from 'node:stream';

/** One object (file) in storage. Object stores have no directories, so walks yield files only. */
export interface FileInfo {
  /** Driver path of the object. */
  readonly path: string;
  /** Size in bytes (the filesystem driver stats the file on first access of size or modTime). */
  readonly size: number;
  /** Last modification time when the backend reports one. */
  readonly modTime?: Date;
  /**
   * MD5 of the content (lowercase hex) as the listing reports it: S3 from a 32-hex-digit ETag, GCS
   * from `md5Hash` (drivers/content-md5.ts); never on the filesystem. An S3 ETag may look like an MD5
   * without being one (SSE-KMS), so this only CONFIRMS expected content: equal to the MD5 of the bytes
   * a caller expects proves them; anything else means "read the object".
   */
  readonly md5?: string;
  /**
   * Set only on the markers `walk(…, { emptyDirectories: true })` yields for empty directories; such
   * a marker's path is the directory's path with a trailing '/', so it sorts where its children would.
   */
  readonly isDir?: true;
}

/** Result of `stat`: a file, or a directory (a prefix with at least one object below it). */
export interface StatInfo {
  readonly path: string;
  readonly isDir: boolean;
  /** 0 for directories. */
  readonly size: number;
  readonly modTime?: Date;
}

/** A child returned by `list`: its full driver path and whether it is a directory (prefix). */
export interface ListEntry {
  readonly path: string;
  readonly isDir: boolean;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /**
   * Object stores: when requests wait for a slot, lower numbers go first (default 0), arrival order
   * among equals (adaptive-limit.ts). The filesystem has no such queue and ignores it.
   */
  readonly priority?: number;
}

export interface WalkOptions extends CallOptions {
  /**
   * Called with a directory's driver path before anything below it is yielded; returning true skips
   * the whole subtree (the `_uploads` case). Must be a pure, cheap predicate.
   */
  readonly prune?: (dirPath: string) => boolean;
  /**
   * Best-effort resume hint: entries whose path is <= startAfter (bytewise) are not yielded.
   */
  readonly startAfter?: string;
  /**
   * Also yield a marker (`isDir: true`, path + '/') for every empty directory met. Object stores have
   * no directories, so only the filesystem ever yields one: an empty `_manifests` directory still
   * makes a repository (spec §1.3).
   */
  readonly emptyDirectories?: boolean;
  /**
   * Called for an entry below `prefix` that the walk cannot follow or name (a symlink loop or one
   * leaving the root, a permission denied, a FIFO or socket, a name not valid UTF-8); the walk then
   * goes on without it. Without this option such entries are only logged. `prefix` itself unreadable
   * still throws.
   */
  readonly onUnreadable?: (path: string, reason: string) => void;
}

export interface GetContentOptions extends CallOptions {
  /** Refuse (ContentTooLargeError) objects larger than this many bytes. */
  readonly maxBytes: number;
}

/** One result of `getContents`: the content, or the typed error for that path alone. */
export type ContentResult =
  | { readonly path: string; readonly content: Buffer; readonly error?: undefined }
  | { readonly path: string; readonly content?: undefined; readonly error: Error };

/** Requests sent to the backend, by kind; what an import reports as "storage requests". */
export interface RequestCounts {
  list: number;
  get: number;
  stat: number;
  put: number;
  delete: number;
}

export interface StorageDriver {
  /** The name GitLab records in import_statistics.storage_driver: filesystem, s3aws, s3_v2, gcs. */
  readonly name: string;

  /**
   * Whether `walk` reports `FileInfo.md5` wherever the backend knows a content MD5 (S3, GCS). An object
   * without one there is one the listing cannot vouch for; false (filesystem): no walk entry has one.
   */
  readonly listingMd5: boolean;

  /**
   * Whether a walk reads directory by directory (filesystem): a pruned subtree then costs nothing.
   * False on object stores, which list keys by prefix: pruning a subtree smaller than a listing page
   * restarts the listing past it, one more request than walking through it.
   */
  readonly directoryWalk: boolean;

  /** Stat a file or directory. Throws PathNotFoundError when neither exists. */
  stat(path: string, options?: CallOptions): Promise<StatInfo>;

  /** Immediate children of a directory, sorted bytewise by path. Throws PathNotFoundError. */
  list(path: string, options?: CallOptions): Promise<ListEntry[]>;

  /**
   * Every file below `prefix` (a directory path), in bytewise order of their full paths.
   * Throws PathNotFoundError (on first iteration) when nothing exists below `prefix`.
   */
  walk(prefix: string, options?: WalkOptions): AsyncIterable<FileInfo>;

  /**
   * Whole content of a small object, capped by maxBytes. Throws PathNotFoundError. The buffer may be
   * a view into a larger one shared with other results (a read batch, a response chunk, Node's
   * buffer pool): a caller that keeps it long copies it (ownBytes, src/importer/storage-reads.ts).
   */
  getContent(path: string, options: GetContentOptions): Promise<Buffer>;

  /**
   * Many small objects at once, results in the order of `paths`. Per-path failures (PathNotFoundError,
   * ContentTooLargeError, InvalidPathError, StorageDriverError after retries) come back as `error`
   * for that path; the call itself rejects only when aborted. Backends batch and parallelise these
   * within their concurrency limits.
   */
  getContents(paths: readonly string[], options: GetContentOptions): Promise<ContentResult[]>;

  /** A stream of a (large) object from `offset`. Throws PathNotFoundError. */
  reader(path: string, options?: CallOptions & { offset?: number }): Promise<Readable>;

  /** Write a small object (lockfiles, spec §1.8), replacing any existing one. */
  putContent(path: string, content: Buffer, options?: CallOptions): Promise<void>;

  /** Delete an object. Deleting a missing object is not an error (idempotent, spec §1.8). */
  delete(path: string, options?: CallOptions): Promise<void>;

  /** A snapshot of the requests sent so far. */
  requestCounts(): RequestCounts;

  /** Release sockets, worker threads and other resources. */
  close(): Promise<void>;
}
