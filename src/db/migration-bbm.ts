/**
 * `-- regdb:requires-bbm`: a migration that needs batched background migrations finished first
 * (spec §3.5 "RequiredBBMs"). On a new install they are run synchronously (spec §5.4); otherwise an
 * unfinished one stops `migrate up` with GitLab's message.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Migration } from './migration-files.js';

/** batched_background_migrations.status value `finished` (spec §5.1). */
const BBM_STATUS_FINISHED = 2;

/** Internal callers of the sync worker retry a job up to 5 times (spec §5.4). */
const MAX_JOB_RETRY = 5;

export type BackgroundMigrationRunner = (
  pool: pg.Pool,
  opts: { names?: string[]; maxJobRetry: number; logger: Logger },
) => Promise<{ finished: number }>;

async function unfinished(client: pg.ClientBase, names: readonly string[]): Promise<string[]> {
  const res = await client.query<{ name: string }>(
    `SELECT n.name FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord)
      WHERE NOT EXISTS (SELECT 1 FROM batched_background_migrations b WHERE b.name = n.name AND b.status = $2)
      ORDER BY n.ord`,
    [names, BBM_STATUS_FINISHED],
  );
  return res.rows.map((r) => r.name);
}

function notCompleteMessage(id: string, names: readonly string[]): string {
  return (
    `schema migration: ${id} failed on ensuring batched background migration: [${names.join(' ')}]: ` +
    'background migration must be complete before proceeding'
  );
}

/**
 * Makes sure the BBMs `m` requires are finished. Returns how many background migrations the sync
 * runner finished on the way (the "B" of the `migrate up` summary).
 */
export async function ensureBackgroundMigrations(
  pool: pg.Pool,
  client: pg.ClientBase,
  m: Migration,
  opts: { newInstall: boolean; logger: Logger; run: BackgroundMigrationRunner | undefined },
): Promise<number> {
  let pending: string[];
  try {
    pending = await unfinished(client, m.requiredBbms);
  } catch (err) {
    throw new Error(
      `schema migration: ${m.id} failed on ensuring batched background migration: [${m.requiredBbms.join(' ')}]: ` +
        (err instanceof Error ? err.message : String(err)),
      { cause: err },
    );
  }
  if (pending.length === 0) return 0;
  if (!opts.newInstall) throw new Error(notCompleteMessage(m.id, pending));
  // The migrate lock holds one pooled connection; the runner's work statements need another.
  const max = pool.options.max ?? 10;
  if (max < 2) {
    throw new Error(
      `schema migration: ${m.id} needs background migrations run, which needs a pool of at least 2 ` +
        `connections: raise database.pool.maxopen (now ${max})`,
    );
  }
  if (opts.run === undefined) {
    throw new Error(
      `schema migration: ${m.id} needs background migrations run on this new install, and this ` +
        'caller of migrateUp gave no runner: pass runBackgroundMigrations (src/cli/background-runner.ts)',
    );
  }
  opts.logger.info(
    { migration: m.id, names: pending },
    'new install: running required background migrations',
  );
  const { finished } = await opts.run(pool, {
    names: pending,
    maxJobRetry: MAX_JOB_RETRY,
    logger: opts.logger,
  });
  const still = await unfinished(client, pending);
  if (still.length > 0) throw new Error(notCompleteMessage(m.id, still));
  return finished;
}
