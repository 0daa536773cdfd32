/**
 * REGISTRY_* environment overrides (spec §4.5): `REGISTRY_DATABASE_<KEY>` with `_` between nesting
 * levels (REGISTRY_DATABASE_POOL_MAXOPEN) and `REGISTRY_STORAGE_<DRIVER>_<PARAM>`. Variables are
 * applied sorted by name; values are YAML-decoded; storage map keys are matched case-insensitively
 * and stored lower-cased.
 *
 * The config is kept as two trees of the same shape (see source.ts): `typed` holds YAML-decoded
 * values, `text` the scalars' source text, so that string-typed keys keep "0123" as written, as the
 * registry's type-directed decoding does.
 */
import { parse } from 'yaml';
import type { ConfigTrees, Tree } from './source.js';

const DATABASE_PREFIX = 'REGISTRY_DATABASE_';
const STORAGE_PREFIX = 'REGISTRY_STORAGE_';

/** Storage section keys. `s3_v2` comes before `s3` because `S3_V2_BUCKET` also starts with `S3_`. */
const STORAGE_KEYS = [
  's3_v2',
  's3aws',
  's3',
  'filesystem',
  'gcs',
  'maintenance',
  'cache',
  'delete',
  'redirect',
];
const DRIVER_KEYS = new Set(['s3_v2', 's3aws', 's3', 'filesystem', 'gcs']);

/** Admin connection parameters of `regdb database init`: not config keys. */
const IGNORED_DATABASE_KEYS = new Set(['admin']);

/** Maps a dotted config path ("database.pool.maxopen") to the variable that set it. */
export type EnvOrigins = Map<string, string>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decode(raw: string): unknown {
  try {
    return parse(raw);
  } catch {
    // Not valid YAML on its own (e.g. "a: b: c"): keep the text as a string.
    return raw;
  }
}

function setPath(root: Tree, path: readonly string[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (isTree(next)) {
      node = next;
    } else {
      const fresh: Tree = {};
      node[key] = fresh;
      node = fresh;
    }
  }
  node[path[path.length - 1] as string] = value;
}

function storagePath(rest: string): string[] | undefined {
  const lower = rest.toLowerCase();
  for (const key of STORAGE_KEYS) {
    if (lower === key) return [key];
    if (lower.startsWith(`${key}_`)) {
      const param = lower.slice(key.length + 1);
      if (param === '') return undefined;
      // Driver parameters are a flat map whose keys may contain '_' (checksum_disabled);
      // reserved sections nest (maintenance.uploadpurging.enabled).
      return DRIVER_KEYS.has(key) ? [key, param] : [key, ...param.split('_')];
    }
  }
  return undefined;
}

/**
 * Applies the REGISTRY_DATABASE_* and REGISTRY_STORAGE_* variables to both trees, in name order.
 * Returns where each overridden key came from, for error messages. A REGISTRY_STORAGE_ variable
 * naming no storage key is returned in `unknown` for the caller to report.
 */
export function applyEnvOverrides(
  trees: ConfigTrees,
  env: NodeJS.ProcessEnv,
): { origins: EnvOrigins; unknown: string[] } {
  const origins: EnvOrigins = new Map();
  const unknown: string[] = [];
  const names = Object.keys(env)
    .filter((n) => n.startsWith(DATABASE_PREFIX) || n.startsWith(STORAGE_PREFIX))
    .sort();
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined) continue;
    let path: string[] | undefined;
    if (name.startsWith(DATABASE_PREFIX)) {
      const parts = name.slice(DATABASE_PREFIX.length).toLowerCase().split('_');
      if (parts.some((p) => p === '') || IGNORED_DATABASE_KEYS.has(parts[0] as string)) continue;
      path = ['database', ...parts];
    } else {
      const sp = storagePath(name.slice(STORAGE_PREFIX.length));
      if (sp === undefined) {
        unknown.push(name);
        continue;
      }
      path = ['storage', ...sp];
    }
    setPath(trees.typed, path, decode(raw));
    setPath(trees.text, path, raw);
    origins.set(path.join('.'), name);
  }
  return { origins, unknown };
}
