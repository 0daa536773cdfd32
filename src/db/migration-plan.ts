/**
 * Pure planning rules of `regdb database migrate` (spec §3.5, §4.2): which migrators run, which
 * migrations each applies, unknown IDs.
 */
import { UsageError } from '../errors.js';
import { compareMigrationIds, type Migration, type MigrationKind } from './migration-files.js';

export interface MigratorChoice {
  readonly kind: MigrationKind;
  /** 0 = all. */
  readonly limit: number;
}

export interface LimitOptions {
  /** `-n`; undefined when the flag was not given. */
  readonly limit?: number;
  /** `-p`; undefined when the flag was not given. */
  readonly postDeployLimit?: number;
  /** `-s` (or SKIP_POST_DEPLOYMENT_MIGRATIONS); only `up` has it. */
  readonly skipPostDeployment?: boolean;
}

export const BOTH_LIMITS_MESSAGE = 'both pre and post migration limits must be greater than or equal to 1';

/**
 * The migrator selection table of spec §4.2, in `up` order (pre, then post). `down` runs the same
 * selection in reverse. A limit <= 0 alone means all, as in GitLab.
 */
export function selectMigrators(opts: LimitOptions): MigratorChoice[] {
  const n = opts.limit;
  const p = opts.postDeployLimit;
  let chosen: MigratorChoice[];
  if (n !== undefined && p !== undefined) {
    if (n < 1 || p < 1) throw new UsageError(BOTH_LIMITS_MESSAGE);
    chosen = [
      { kind: 'pre', limit: n },
      { kind: 'post', limit: p },
    ];
  } else if (n !== undefined) {
    chosen = [{ kind: 'pre', limit: Math.max(n, 0) }];
  } else if (p !== undefined) {
    chosen = [{ kind: 'post', limit: Math.max(p, 0) }];
  } else {
    chosen = [
      { kind: 'pre', limit: 0 },
      { kind: 'post', limit: 0 },
    ];
  }
  // `-s` drops the post migrator afterwards, which is why `-s -p` selects nothing.
  return opts.skipPostDeployment ? chosen.filter((c) => c.kind === 'pre') : chosen;
}

function take<T>(items: T[], limit: number): T[] {
  return limit > 0 ? items.slice(0, limit) : items;
}

/** Migrations not yet applied, in order (earlier gaps are caught up too), at most `limit` (0 = all). */
export function planUp(
  migrations: readonly Migration[],
  applied: ReadonlySet<string>,
  limit = 0,
): Migration[] {
  return take(
    migrations.filter((m) => !applied.has(m.id)),
    limit,
  );
}

/** Applied migrations newest first, at most `limit` (0 = all). */
export function planDown(
  migrations: readonly Migration[],
  applied: ReadonlySet<string>,
  limit = 0,
): Migration[] {
  return take(migrations.filter((m) => applied.has(m.id)).reverse(), limit);
}

/** Applied IDs that neither regdb's migrations nor the baseline's GitLab list know, in order. */
export function unknownIds(
  migrations: readonly Migration[],
  applied: Iterable<string>,
  gitlabIds: readonly string[],
): string[] {
  const known = new Set<string>([...migrations.map((m) => m.id), ...gitlabIds]);
  return [...applied].filter((id) => !known.has(id)).sort(compareMigrationIds);
}

/** sql-migrate's planning error for an unknown applied ID (spec §3.5). */
export function unknownMigrationMessage(id: string): string {
  return `Unable to create migration plan because of ${id}: unknown migration in database`;
}

/** Highest ID in migration order, or undefined. */
export function highestId(ids: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const id of ids) if (best === undefined || compareMigrationIds(id, best) > 0) best = id;
  return best;
}

/**
 * Go's `time.Time.String()` for a UTC instant given as `YYYY-MM-DD HH:MI:SS.ffffff` (PostgreSQL's
 * microseconds): trailing fractional zeros trimmed, then ` +0000 UTC` (spec §4.2 status).
 */
export function formatAppliedAt(utc: string): string {
  const [base, frac = ''] = utc.split('.');
  const trimmed = frac.replace(/0+$/, '');
  return `${base}${trimmed === '' ? '' : `.${trimmed}`} +0000 UTC`;
}
