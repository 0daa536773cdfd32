/**
 * Read-only views of the bookkeeping tables: `migrate status`, `status -u` and `version`
 * (spec §4.2). Nothing here creates a table.
 */
import type pg from 'pg';
import { gitlabMigrationIds } from './gitlab-baseline.js';
import { loadAllMigrations, migrationsDir, type MigrationKind } from './migration-files.js';
import { formatAppliedAt, highestId, unknownIds } from './migration-plan.js';
import { readApplied } from './migration-records.js';

export interface StatusRow {
  /** The ID, with ` (unknown)` appended when neither regdb nor the baseline's GitLab list knows it. */
  readonly migration: string;
  /** Go `time.Time.String()` in UTC; empty for a pending migration. */
  readonly applied: string;
}

export interface KindStatus {
  readonly kind: MigrationKind;
  readonly rows: StatusRow[];
  /** regdb migrations not recorded as applied. */
  readonly pending: string[];
}

function kindsFor(skipPostDeployment: boolean | undefined): MigrationKind[] {
  return skipPostDeployment ? ['pre'] : ['pre', 'post'];
}

/**
 * One table per kind: regdb's migrations (applied or pending) and unknown applied IDs, sorted by
 * plain string order (spec §4.2). The GitLab IDs recorded by the baseline are not listed: the
 * baseline row stands for them.
 */
export async function migrationStatus(
  pool: pg.Pool,
  opts: { skipPostDeployment?: boolean; migrationsDir?: string } = {},
): Promise<KindStatus[]> {
  const all = loadAllMigrations(opts.migrationsDir ?? migrationsDir());
  const client = await pool.connect();
  try {
    const result: KindStatus[] = [];
    for (const kind of kindsFor(opts.skipPostDeployment)) {
      const records = await readApplied(client, kind);
      const rows: StatusRow[] = all[kind].map((m) => {
        const at = records.has(m.id) ? records.get(m.id) : undefined;
        return {
          migration: m.id,
          applied: at === undefined ? '' : at === null ? 'unknown time' : formatAppliedAt(at),
        };
      });
      for (const id of unknownIds(all[kind], records.keys(), gitlabMigrationIds()[kind])) {
        const at = records.get(id);
        rows.push({ migration: `${id} (unknown)`, applied: at ? formatAppliedAt(at) : 'unknown time' });
      }
      rows.sort((a, b) => (a.migration < b.migration ? -1 : a.migration > b.migration ? 1 : 0));
      const pending = all[kind].filter((m) => !records.has(m.id)).map((m) => m.id);
      result.push({ kind, rows, pending });
    }
    return result;
  } finally {
    client.release();
  }
}

/**
 * `status -u`: are all of regdb's migrations recorded? Unlike GitLab (which looks at pre-deployment
 * only), post-deployment migrations count too unless `skipPostDeployment`.
 */
export async function isUpToDate(
  pool: pg.Pool,
  opts: { skipPostDeployment?: boolean; migrationsDir?: string } = {},
): Promise<boolean> {
  const status = await migrationStatus(pool, opts);
  return status.every((s) => s.pending.length === 0);
}

/** `version`: the highest recorded ID per kind (numeric prefix, then ID), undefined when none. */
export async function migrationVersions(pool: pg.Pool): Promise<Record<MigrationKind, string | undefined>> {
  const client = await pool.connect();
  try {
    const pre = await readApplied(client, 'pre');
    const post = await readApplied(client, 'post');
    return { pre: highestId(pre.keys()), post: highestId(post.keys()) };
  } finally {
    client.release();
  }
}
