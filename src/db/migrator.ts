/**
 * Applies and reverts regdb's schema migrations (spec §3.5, §4.2; issue 2 §4-5). Planning and
 * applying happen under one session-level advisory lock, so concurrent runs apply each migration
 * once. Every migration runs in its own transaction together with its record row, unless it is
 * marked no-transaction.
 */
import type pg from 'pg';
import { silentLogger, type Logger } from '../log.js';
import { MIGRATE_LOCK_KEY, withSessionLock } from './advisory-lock.js';
import {
  baselineMigrations,
  effectiveApplied,
  gitlabIdsHolder,
  gitlabMigrationIds,
  isBaselineId,
  partialGitLabMessage,
} from './gitlab-baseline.js';
import type { Interop } from './gitlab-baseline.js';
import { loadAllMigrations, migrationsDir, type Migration, type MigrationKind } from './migration-files.js';
import {
  planDown,
  planUp,
  selectMigrators,
  unknownIds,
  unknownMigrationMessage,
  type LimitOptions,
} from './migration-plan.js';
import { ensureRecordTable, insertRecords, readApplied, type AppliedRecords } from './migration-records.js';
import { runMigration, type RunTarget } from './migration-run.js';
import { inTransaction } from './transaction.js';
import { ensureBackgroundMigrations, type BackgroundMigrationRunner } from './migration-bbm.js';

export interface MigrateOptions extends LimitOptions {
  /** Plan only; nothing is written (not even the bookkeeping tables). */
  readonly dryRun?: boolean;
  readonly logger?: Logger;
  /** Folder with `pre/` and `post/`; default `REGDB_MIGRATIONS_DIR` or the bundled migrations. */
  readonly migrationsDir?: string;
  /** Called with each migrator's plan before it is applied (the CLI prints it). */
  readonly onPlan?: (kind: MigrationKind, ids: readonly string[]) => void;
  /**
   * Runs batched background migrations synchronously (new installs, `-- regdb:requires-bbm`). Given
   * by the composition root (src/cli/background-runner.ts), so src/db does not depend on src/bbm;
   * without it such a migration stops with a message saying so.
   */
  readonly runBackgroundMigrations?: BackgroundMigrationRunner;
}

export interface UpResult {
  readonly plan: Record<MigrationKind, string[]>;
  /** regdb migration files applied, each baseline file once; not the GitLab IDs the baseline records. */
  readonly applied: Record<MigrationKind, number>;
  /** Background migrations the sync runner finished (spec §5.4). */
  readonly backgroundMigrations: number;
  /** Summed apply time. */
  readonly seconds: number;
  /** Kinds whose baseline was recorded as applied because GitLab had migrated the database. */
  readonly adopted: MigrationKind[];
}

export interface DownOptions extends Omit<MigrateOptions, 'skipPostDeployment' | 'runBackgroundMigrations'> {
  /** Asked once with the whole plan, after `onPlan`; false stops without changes. */
  readonly confirm?: (plan: Record<MigrationKind, string[]>) => Promise<boolean>;
  /** Called after each migrator has applied its down migrations. */
  readonly onApplied?: (kind: MigrationKind, count: number, seconds: number) => void;
}

export interface DownResult {
  readonly plan: Record<MigrationKind, string[]>;
  readonly applied: Record<MigrationKind, number>;
  /** False when `confirm` declined (nothing was changed). */
  readonly confirmed: boolean;
}

/** What one migrator sees: files, records, and how the database relates to GitLab's IDs. */
interface KindState {
  readonly kind: MigrationKind;
  readonly migrations: Migration[];
  readonly gitlabIds: readonly string[];
  /** Holder of the GitLab IDs of this kind: the last baseline migration. */
  readonly holder: string | undefined;
  readonly records: AppliedRecords;
  readonly interop: Interop;
  /** Applied IDs, counting an adopted (GitLab-built) baseline as applied. */
  readonly applied: Set<string>;
}

async function loadKind(
  client: pg.ClientBase,
  kind: MigrationKind,
  migrations: Migration[],
): Promise<KindState> {
  const gitlabIds = gitlabMigrationIds()[kind];
  const records = await readApplied(client, kind);
  const unknown = unknownIds(migrations, records.keys(), gitlabIds);
  if (unknown[0] !== undefined) throw new Error(unknownMigrationMessage(unknown[0]));
  const { interop, applied } = effectiveApplied(migrations, records.keys(), gitlabIds);
  return { kind, migrations, gitlabIds, holder: gitlabIdsHolder(migrations), records, interop, applied };
}

/**
 * Up: the last baseline file records GitLab's IDs (only then is the schema at GitLab's point).
 * Down: any baseline file removes them (the first one reverted breaks that point), which also
 * holds for a database whose records were written when the baseline had fewer files.
 */
function targetOf(state: KindState, m: Migration, direction: 'up' | 'down'): RunTarget {
  const holds = direction === 'up' ? m.id === state.holder : isBaselineId(m.id);
  return { kind: state.kind, gitlabIds: holds ? state.gitlabIds : [] };
}

function emptyPlan(): Record<MigrationKind, string[]> {
  return { pre: [], post: [] };
}

/**
 * Runs `fn` on one client holding the migrate lock. On failure the client is discarded, so a broken
 * transaction or a lock that could not be released never goes back to the pool.
 */
async function withMigrateLock<T>(
  pool: pg.Pool,
  logger: Logger,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    const result = await withSessionLock(
      client,
      MIGRATE_LOCK_KEY,
      () => fn(client),
      () =>
        logger.info('another regdb migrate run holds the migration lock on this database; waiting for it'),
    );
    client.release();
    return result;
  } catch (err) {
    client.release(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

/** `regdb database migrate up` (spec §4.2). */
export async function migrateUp(pool: pg.Pool, opts: MigrateOptions = {}): Promise<UpResult> {
  const logger = opts.logger ?? silentLogger;
  const choices = selectMigrators(opts);
  const all = loadAllMigrations(opts.migrationsDir ?? migrationsDir());
  return withMigrateLock(pool, logger, async (client) => {
    const result: UpResult = {
      plan: emptyPlan(),
      applied: { pre: 0, post: 0 },
      backgroundMigrations: 0,
      seconds: 0,
      adopted: [],
    };
    let bbmFinished = 0;
    let elapsedMs = 0;
    for (const { kind, limit } of choices) {
      const state = await loadKind(client, kind, all[kind]);
      if (state.interop.state === 'gitlab-partial')
        throw new Error(partialGitLabMessage(kind, state.interop));
      const newInstall = state.records.size === 0;
      const plan = planUp(state.migrations, state.applied, limit);
      result.plan[kind] = plan.map((m) => m.id);
      if (state.interop.state === 'gitlab-complete' && !opts.dryRun) {
        const baseline = baselineMigrations(state.migrations).map((m) => m.id);
        try {
          await inTransaction(client, () => insertRecords(client, kind, baseline));
        } catch (err) {
          throw new Error(`recording the regdb baseline on a GitLab-migrated database`, { cause: err });
        }
        result.adopted.push(kind);
        logger.info(
          { kind, baseline },
          'GitLab had migrated this database to the baseline: recorded the regdb baseline as applied',
        );
      }
      if (plan.length > 0) opts.onPlan?.(kind, result.plan[kind]);
      if (opts.dryRun) continue;
      await ensureRecordTable(client, kind);
      for (const m of plan) {
        const started = performance.now();
        if (m.requiredBbms.length > 0) {
          bbmFinished += await ensureBackgroundMigrations(pool, client, m, {
            newInstall,
            logger,
            run: opts.runBackgroundMigrations,
          });
        }
        logger.info({ kind, migration: m.id }, 'applying migration');
        await runMigration(client, targetOf(state, m, 'up'), m, 'up', logger);
        elapsedMs += performance.now() - started;
        result.applied[kind] += 1;
      }
    }
    return { ...result, backgroundMigrations: bbmFinished, seconds: elapsedMs / 1000 };
  });
}

/** `regdb database migrate down` (spec §4.2): post first, then pre; the baseline also removes GitLab's IDs. */
export async function migrateDown(pool: pg.Pool, opts: DownOptions = {}): Promise<DownResult> {
  const logger = opts.logger ?? silentLogger;
  const choices = selectMigrators({ limit: opts.limit, postDeployLimit: opts.postDeployLimit }).reverse();
  const all = loadAllMigrations(opts.migrationsDir ?? migrationsDir());
  return withMigrateLock(pool, logger, async (client) => {
    const plan = emptyPlan();
    const steps: { state: KindState; migrations: Migration[] }[] = [];
    for (const { kind, limit } of choices) {
      const state = await loadKind(client, kind, all[kind]);
      const migrations = planDown(state.migrations, state.applied, limit);
      plan[kind] = migrations.map((m) => m.id);
      if (migrations.length > 0) opts.onPlan?.(kind, plan[kind]);
      steps.push({ state, migrations });
    }
    const applied = { pre: 0, post: 0 };
    if (opts.dryRun) return { plan, applied, confirmed: true };
    const anything = steps.some((s) => s.migrations.length > 0);
    if (anything && opts.confirm && !(await opts.confirm(plan))) return { plan, applied, confirmed: false };
    for (const { state, migrations } of steps) {
      const started = performance.now();
      for (const m of migrations) {
        logger.info({ kind: state.kind, migration: m.id }, 'reverting migration');
        await runMigration(client, targetOf(state, m, 'down'), m, 'down', logger);
        applied[state.kind] += 1;
      }
      opts.onApplied?.(state.kind, applied[state.kind], (performance.now() - started) / 1000);
    }
    return { plan, applied, confirmed: true };
  });
}

/**
 * Migrations `migrate up` would apply (no limits), without writing anything: the importer's
 * pending-migration check (spec §2.18). Unknown IDs are ignored here; `up` reports them.
 */
export async function pendingMigrations(
  pool: pg.Pool,
  opts: { migrationsDir?: string } = {},
): Promise<{ pre: string[]; post: string[] }> {
  const all = loadAllMigrations(opts.migrationsDir ?? migrationsDir());
  const client = await pool.connect();
  try {
    const result = emptyPlan();
    for (const kind of ['pre', 'post'] as const) {
      const records = await readApplied(client, kind);
      const { applied } = effectiveApplied(all[kind], records.keys(), gitlabMigrationIds()[kind]);
      result[kind] = planUp(all[kind], applied).map((m) => m.id);
    }
    return result;
  } finally {
    client.release();
  }
}
