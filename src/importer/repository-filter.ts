/**
 * `--repository NAME` and `--repository-prefix GROUP/` (issue 14 §3): an import of some repositories
 * only. GitLab's importer has single-repository import (`Import`, `PreImport`) but no CLI for it
 * (spec §2.1). A filtered run imports steps one and two for the selected repositories; step three
 * (every blob in common storage) is not repository-scoped and is left to a full import. The run
 * checkpoints under its own scope, and a later full import merges the rest with the same
 * find-before-insert rules, so nothing is written twice.
 */
import { PathNotFoundError } from '../../drivers/errors.js';
import type { StorageDriver } from '../../drivers/driver.js';
import { UsageError } from '../errors.js';
import { checkRepositoryName } from '../registry/names.js';
import { manifestsPath, repositoryPath, REPOSITORIES_ROOT } from '../registry/paths.js';

export interface RepositoryFilter {
  /** Exact repository paths. */
  readonly names: readonly string[];
  /** Subtrees: `group/` selects `group` itself and every repository below it. */
  readonly prefixes: readonly string[];
}

/** The filter the flags describe; null when neither flag was given. Bad values are usage errors. */
export function parseRepositoryFilter(
  names: readonly string[] = [],
  prefixes: readonly string[] = [],
): RepositoryFilter | null {
  if (names.length === 0 && prefixes.length === 0) return null;
  for (const n of names) {
    const check = checkRepositoryName(n);
    if (!check.ok) throw new UsageError(`invalid --repository "${n}": ${check.message}`);
  }
  const normalised = prefixes.map((p) => {
    const bare = p.replace(/\/+$/, '');
    const check = checkRepositoryName(bare);
    if (!check.ok) throw new UsageError(`invalid --repository-prefix "${p}": ${check.message}`);
    return `${bare}/`;
  });
  return { names: [...new Set(names)].sort(), prefixes: [...new Set(normalised)].sort() };
}

export function inRepositoryFilter(name: string, filter: RepositoryFilter | null | undefined): boolean {
  if (!filter) return true;
  if (filter.names.includes(name)) return true;
  return filter.prefixes.some((p) => name.startsWith(p) || `${name}/` === p);
}

/** Part of the checkpoint scope: a filtered run never resumes from (or clears) a full run's checkpoints. */
export function filterScope(filter: RepositoryFilter | null | undefined): string {
  if (!filter) return '';
  return ` repositories=${JSON.stringify([...filter.names, ...filter.prefixes.map((p) => p + '*')])}`;
}

/**
 * Where the walk starts: a single selected name or prefix is walked alone (its nested repositories
 * are filtered out again); several are found by one walk of the whole root.
 */
export function filterWalkRoot(filter: RepositoryFilter | null | undefined): string {
  if (!filter) return REPOSITORIES_ROOT;
  const all = [...filter.names, ...filter.prefixes.map((p) => p.slice(0, -1))];
  return all.length === 1 ? repositoryPath(all[0]!) : REPOSITORIES_ROOT;
}

/**
 * Every name must be a repository in storage and every prefix a folder there; an unknown one is a
 * usage error, found before anything is written.
 */
export async function checkRepositoryFilter(
  driver: StorageDriver,
  filter: RepositoryFilter | null,
  signal?: AbortSignal,
): Promise<void> {
  if (!filter) return;
  const exists = async (path: string): Promise<boolean> => {
    try {
      return (await driver.stat(path, { signal })).isDir;
    } catch (err) {
      if (err instanceof PathNotFoundError) return false;
      throw err;
    }
  };
  for (const n of filter.names) {
    if (!(await exists(manifestsPath(n))))
      throw new UsageError(
        `unknown repository "${n}": storage has no ${manifestsPath(n)} (check the name, without a host part)`,
      );
  }
  for (const p of filter.prefixes) {
    const dir = repositoryPath(p.slice(0, -1));
    if (!(await exists(dir)))
      throw new UsageError(`unknown repository prefix "${p}": storage has no folder ${dir}`);
  }
}
