/**
 * Interoperability with GitLab's registry (issue 2 §4). regdb's baseline migrations
 * (`<ts>_regdb_baseline*`) build the schema GitLab's migrations build up to the IDs in
 * `data/gitlab-migration-ids.json`; applying the baseline records those IDs too, so GitLab's
 * registry sees a fully migrated database, and a database GitLab migrated to that point is
 * adopted without running the baseline's SQL.
 */
import { readFileSync } from 'node:fs';
import { compareMigrationIds, type Migration, type MigrationKind } from './migration-files.js';

export const BASELINE_ID_PATTERN = /^\d{14}_regdb_baseline(?:_[a-z0-9_]*)?$/;

export type GitLabMigrationIds = Readonly<Record<MigrationKind, readonly string[]>>;

let cached: GitLabMigrationIds | undefined;

/** The GitLab migration IDs regdb's baseline corresponds to (184 pre, 10 post; spec §3.5). */
export function gitlabMigrationIds(): GitLabMigrationIds {
  if (cached) return cached;
  const file = new URL('./data/gitlab-migration-ids.json', import.meta.url);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the GitLab migration ID list ${file.pathname}`, { cause: err });
  }
  const pre = (parsed as { pre_deployment?: unknown }).pre_deployment;
  const post = (parsed as { post_deployment?: unknown }).post_deployment;
  const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (!isIds(pre) || !isIds(post)) {
    throw new Error(`${file.pathname}: expected {"pre_deployment": [ids], "post_deployment": [ids]}`);
  }
  cached = {
    pre: [...pre].sort(compareMigrationIds),
    post: [...post].sort(compareMigrationIds),
  };
  return cached;
}

export function isBaselineId(id: string): boolean {
  return BASELINE_ID_PATTERN.test(id);
}

/** The baseline migrations of one kind, in order. */
export function baselineMigrations(migrations: readonly Migration[]): Migration[] {
  return migrations.filter((m) => isBaselineId(m.id));
}

/**
 * The migration that records (up) and deletes (down) the GitLab IDs of its kind: the last baseline
 * file, because only once it has run is the schema at GitLab's point.
 */
export function gitlabIdsHolder(migrations: readonly Migration[]): string | undefined {
  return baselineMigrations(migrations).at(-1)?.id;
}

export type Interop =
  /** No baseline row and no GitLab ID: a new database (or one regdb has not touched). */
  | { readonly state: 'none' }
  /** At least one regdb baseline row: regdb's own bookkeeping. */
  | { readonly state: 'regdb' }
  /** Every GitLab ID and no baseline row: GitLab migrated it to the baseline's point. */
  | { readonly state: 'gitlab-complete' }
  /** Some GitLab IDs but not all: an older GitLab schema regdb cannot build on. */
  | { readonly state: 'gitlab-partial'; readonly lastFound: string; readonly lastExpected: string };

export function classifyInterop(
  migrations: readonly Migration[],
  applied: ReadonlySet<string>,
  gitlabIds: readonly string[],
): Interop {
  if (baselineMigrations(migrations).some((m) => applied.has(m.id))) return { state: 'regdb' };
  const found = gitlabIds.filter((id) => applied.has(id));
  if (found.length === 0) return { state: 'none' };
  if (found.length === gitlabIds.length) return { state: 'gitlab-complete' };
  const sorted = [...found].sort(compareMigrationIds);
  return {
    state: 'gitlab-partial',
    lastFound: sorted.at(-1) as string,
    lastExpected: [...gitlabIds].sort(compareMigrationIds).at(-1) as string,
  };
}

/** The one-line error for a database at an older GitLab schema. */
export function partialGitLabMessage(
  kind: MigrationKind,
  interop: { lastFound: string; lastExpected: string },
) {
  const what = kind === 'pre' ? 'pre-deployment' : 'post-deployment';
  return (
    `this database was migrated by GitLab's container registry only up to ${what} migration ` +
    `${interop.lastFound}, older than the schema regdb builds on (${interop.lastExpected}): ` +
    `upgrade it with GitLab's \`registry database migrate up\` to ${interop.lastExpected}, ` +
    `or start from an empty database`
  );
}

/**
 * The applied set regdb plans with: the recorded IDs, plus the baseline migrations when GitLab
 * migrated the database to the baseline's point (they are recorded on the next `up`).
 */
export function effectiveApplied(
  migrations: readonly Migration[],
  recorded: Iterable<string>,
  gitlabIds: readonly string[],
): { interop: Interop; applied: Set<string> } {
  const applied = new Set(recorded);
  const interop = classifyInterop(migrations, applied, gitlabIds);
  if (interop.state === 'gitlab-complete') for (const m of baselineMigrations(migrations)) applied.add(m.id);
  return { interop, applied };
}
