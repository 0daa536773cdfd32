/**
 * The checks every driver method makes before it sends anything, in one place: the path is a valid
 * driver path (InvalidPathError naming the driver) and the caller has not given up yet (the signal's
 * reason). Counting, retries and the driver name on backend errors are the RequestRunner's
 * (requests.ts), the one wrapper every backend request goes through.
 */
import type { CallOptions } from './driver.js';
import { validatePath } from './paths.js';

/** Returns `path` once it is checked. */
export function checkCall(driver: string, path: string, options?: CallOptions): string {
  validatePath(path, driver);
  options?.signal?.throwIfAborted();
  return path;
}
