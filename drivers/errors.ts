/**
 * Typed storage errors, translated at the edge of each driver (STYLE.md, "Errors are typed classes
 * translated at the edge"): S3 NoSuchKey/404, GCS 404 and ENOENT all become PathNotFoundError.
 * The backend's original error is kept as `cause`.
 */

/** Base class of every error a driver throws on purpose. */
export class StorageError extends Error {
  constructor(
    message: string,
    /** Driver name (filesystem, s3aws, s3_v2, gcs). */
    readonly driver: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Nothing exists at `path` (no file, and for walk/list/stat no directory either). */
export class PathNotFoundError extends StorageError {
  constructor(
    readonly path: string,
    driver: string,
    options?: { cause?: unknown },
  ) {
    super(`${driver}: path not found: ${path}`, driver, options);
  }
}

/** `path` is not a valid driver path, or resolves outside the driver's root (symlinks). */
export class InvalidPathError extends StorageError {
  constructor(
    readonly path: string,
    driver: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${driver}: invalid path ${JSON.stringify(path)}: ${reason}`, driver, options);
  }
}

/** The object is larger than the caller's `maxBytes` cap. */
export class ContentTooLargeError extends StorageError {
  constructor(
    readonly path: string,
    driver: string,
    readonly maxBytes: number,
    /** The object's size when the backend reported it, else undefined (only "more than maxBytes" is known). */
    readonly size?: number,
  ) {
    super(
      `${driver}: content of ${path} is larger than the limit of ${maxBytes} bytes` +
        (size === undefined ? '' : ` (${size} bytes)`),
      driver,
    );
  }
}

/** Any other backend failure, after retries where the failure was transient. */
export class StorageDriverError extends StorageError {
  constructor(
    message: string,
    driver: string,
    readonly details: {
      readonly operation: string;
      readonly path?: string;
      /** Attempts made, including the first one. */
      readonly attempts: number;
      readonly cause: unknown;
    },
  ) {
    super(message, driver, { cause: details.cause });
  }

  get operation(): string {
    return this.details.operation;
  }

  get attempts(): number {
    return this.details.attempts;
  }
}

/**
 * A backend failure in the words every driver uses: `<driver>: <operation> [<path>] failed: <why>`,
 * or `failed after N attempts (N-1 retries)` when `retriesExhausted` (a transient failure that kept
 * failing). The original error is the `cause`.
 */
export function backendFailure(
  driver: string,
  details: {
    readonly operation: string;
    readonly path?: string;
    readonly attempts: number;
    readonly cause: unknown;
  },
  retriesExhausted = false,
): StorageDriverError {
  const { operation, path, attempts, cause } = details;
  const what = `${driver}: ${operation}${path ? ` ${path}` : ''}`;
  const why = cause instanceof Error ? cause.message : String(cause);
  const message = retriesExhausted
    ? `${what} failed after ${attempts} attempts (${attempts - 1} retries): ${why}`
    : `${what} failed: ${why}`;
  return new StorageDriverError(message, driver, details);
}

/**
 * This one entry cannot be read, while others can: a permission denied, a symlink loop, a name too
 * long, a FIFO, socket or device where a file belongs, a name that is not valid UTF-8. A fault of the
 * item, not of the storage: callers skip and report it.
 */
export class UnreadablePathError extends StorageError {
  constructor(
    readonly path: string,
    driver: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${driver}: cannot read ${path}: ${reason}`, driver, options);
  }
}
