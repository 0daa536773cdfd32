/**
 * `regdb background-migrate status|pause|resume|run CONFIG` (spec §4.4). GitLab's order,
 * `background-migrate CONFIG status`, is accepted too.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { BbmInterruptedError } from '../bbm/errors.js';
import { statusName } from '../bbm/model.js';
import { MAX_JOB_RETRY_DEFAULT, parseMaxJobRetry, progressEstimate } from '../bbm/plan.js';
import { runBackgroundMigrationsSync, type SyncRunResult } from '../bbm/sync.js';
import { parseGoDuration } from '../config/duration.js';
import { createBbmStore } from '../db/bbm/pg-store.js';
import type { Database } from '../db/open.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { configArgument, loadCommandConfig, withDatabase } from './common.js';
import { interruptSignal } from './interrupt.js';
import { createProgressReporter } from './bbm-progress.js';
import { renderTable } from './table.js';

const SUBCOMMANDS = ['status', 'pause', 'resume', 'run'] as const;

/** GitLab waits 10 s between runs (spec §4.4). */
const DEFAULT_RETRY_INTERVAL = '10s';

interface RunFlags {
  maxJobRetry?: number;
  retryInterval?: string;
  maxRuns?: number;
}

/** Opens the config's database (primary host, PostgreSQL >= 15 checked: spec §4.1, §3.5) around `fn`. */
function withBbmDatabase<T>(
  configArg: string | undefined,
  cmd: Command,
  fn: (db: Database, logger: Logger) => Promise<T>,
): Promise<T> {
  const config = loadCommandConfig(configArg);
  return withDatabase(config, cmd, { checkVersion: true, usePrimary: true }, fn);
}

/** The `status` table: name, status and regdb's progress estimate, in id order. */
export async function statusTable(db: Database): Promise<string> {
  const rows = await createBbmStore(db.pool).list();
  return renderTable(
    ['Batched Background Migration', 'Status', 'Progress'],
    rows.map(({ migration, finishedJobs }) => [
      migration.name,
      statusName(migration.status),
      progressEstimate(migration, finishedJobs),
    ]),
  );
}

function parsePositiveInt(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw new InvalidArgumentError('must be a whole number of at least 1.');
  }
  return Number(text);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new BbmInterruptedError({ cause: signal.reason }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function runCommand(db: Database, flags: RunFlags, logger: Logger): Promise<void> {
  const retryMs = parseGoDuration(flags.retryInterval ?? DEFAULT_RETRY_INTERVAL);
  if (retryMs === undefined) {
    throw new UsageError(`--retry-interval: "${flags.retryInterval}" is not a duration such as 10s or 1m30s`);
  }
  const maxRuns = flags.maxRuns ?? 1;
  if (flags.retryInterval !== undefined && maxRuns < 2) {
    throw new UsageError(
      '--retry-interval needs --max-runs of 2 or more (without it, run stops at the first error)',
    );
  }
  const store = createBbmStore(db.pool);
  const resumed = await store.resume();
  if (resumed > 0) process.stderr.write(`resumed ${resumed} paused background migration(s)\n`);

  const started = Date.now();
  // SIGINT/SIGTERM abort the run: the current statement is cancelled and its job left for a retry.
  const signal = interruptSignal();
  let totals: SyncRunResult = { finished: 0, jobs: 0, rows: 0 };
  for (let runNumber = 1; ; runNumber++) {
    const pending = (await store.list()).filter((r) => statusName(r.migration.status) !== 'finished').length;
    const progress = createProgressReporter(process.stderr, { pending });
    try {
      const result = await runBackgroundMigrationsSync(store, {
        maxJobRetry: flags.maxJobRetry ?? MAX_JOB_RETRY_DEFAULT,
        logger,
        signal,
        onProgress: (e) => progress.onProgress(e),
      });
      totals = {
        finished: totals.finished + result.finished,
        jobs: totals.jobs + result.jobs,
        rows: totals.rows + result.rows,
      };
      break;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof BbmInterruptedError || runNumber >= maxRuns) {
        throw new Error(`running background migrations failed: ${message}`, { cause: err });
      }
      process.stderr.write(`running background migrations failed: ${message}\n`);
      process.stdout.write(`retrying run in ${flags.retryInterval ?? DEFAULT_RETRY_INTERVAL}...\n`);
      await sleep(retryMs, signal);
    } finally {
      progress.end();
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(3);
  process.stdout.write(
    `OK: finished ${totals.finished} background migration(s), ${totals.jobs} job(s), ` +
      `${totals.rows} row(s) updated in ${seconds}s\n`,
  );
  const paused = (await store.list()).filter((r) => statusName(r.migration.status) === 'paused').length;
  if (paused > 0) {
    process.stderr.write(
      `${paused} background migration(s) were paused while running; "regdb background-migrate run" resumes them\n`,
    );
  }
}

export function registerBackgroundMigrate(program: Command): void {
  const bm = program
    .command('background-migrate')
    .description('Manage batched background migrations: status, pause, resume, run')
    .usage('{status|pause|resume|run} [options] [CONFIG]');

  bm.command('status')
    .description('Show the batched background migrations, their status and estimated progress')
    .addArgument(configArgument())
    .action(async (config: string | undefined, _opts: unknown, cmd: Command) => {
      const table = await withBbmDatabase(config, cmd, (db) => statusTable(db));
      process.stdout.write(table);
    });

  bm.command('pause')
    .description('Pause active and running batched background migrations')
    .addArgument(configArgument())
    .action(async (config: string | undefined, _opts: unknown, cmd: Command) => {
      await withBbmDatabase(config, cmd, (db) => createBbmStore(db.pool).pause());
    });

  bm.command('resume')
    .description('Resume paused batched background migrations')
    .addArgument(configArgument())
    .action(async (config: string | undefined, _opts: unknown, cmd: Command) => {
      await withBbmDatabase(config, cmd, (db) => createBbmStore(db.pool).resume());
    });

  bm.command('run')
    .description(
      'Resume paused batched background migrations and run them all to the end; stops with an error ' +
        'when a job fails on every attempt',
    )
    .addArgument(configArgument())
    .option(
      '-r, --max-job-retry <n>',
      `Set the maximum number of job retry attempts (default ${MAX_JOB_RETRY_DEFAULT}, must be between 1 and 10)`,
      (v: string) => parseMaxJobRetry(v),
    )
    .option(
      '--max-runs <n>',
      'run again after an error, up to this many runs in all (default 1)',
      parsePositiveInt,
    )
    .option(
      '--retry-interval <duration>',
      `wait between runs, with --max-runs (default ${DEFAULT_RETRY_INTERVAL})`,
    )
    .action(async (config: string | undefined, flags: RunFlags, cmd: Command) => {
      await withBbmDatabase(config, cmd, (db, logger) => runCommand(db, flags, logger));
    });

  // GitLab's order: background-migrate CONFIG {status|pause|resume|run} [flags].
  bm.argument('[config]')
    .argument('[subcommand]')
    .argument('[rest...]')
    .allowUnknownOption()
    .action(async (config: string | undefined, sub: string | undefined, rest: string[]) => {
      const known = (s: string | undefined): boolean =>
        SUBCOMMANDS.includes(s as (typeof SUBCOMMANDS)[number]);
      if (config === undefined || !known(sub) || known(config)) {
        throw new UsageError(
          `background-migrate: expected one of ${SUBCOMMANDS.join(', ')}, e.g. "regdb background-migrate status config.yml"`,
        );
      }
      await bm.parseAsync([sub as string, config, ...rest], { from: 'user' });
    });
}
