/**
 * `regdb database migrate up|down|status|version|new` (spec §4.2, issue 2 §5): GitLab's flags and
 * output, plus `status -u` checking post-deployment migrations too.
 */
import { createInterface } from 'node:readline';
import { relative, isAbsolute } from 'node:path';
import { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import { MIGRATOR_NAMES, type MigrationKind } from '../db/migration-files.js';
import { createMigrationFile } from '../db/migration-new.js';
import { isUpToDate, migrationStatus, migrationVersions } from '../db/migration-status.js';
import { migrateDown, migrateUp } from '../db/migrator.js';
import { runBackgroundMigrations } from './background-runner.js';
import { configArgument, loadCommandConfig, nonNegativeInt, withDatabase } from './common.js';
import { renderTable } from './table.js';

/** Read like viper's bool (strconv.ParseBool) when `-s` is not given (spec §4.2). */
export const SKIP_POST_ENV = 'SKIP_POST_DEPLOYMENT_MIGRATIONS';

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** `-s` if given, else SKIP_POST_DEPLOYMENT_MIGRATIONS; a value that is not a bool is a usage error. */
export function skipPostDeployment(flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag) return true;
  const value = env[SKIP_POST_ENV];
  if (value === undefined || value === '') return false;
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new UsageError(`${SKIP_POST_ENV}: "${value}" is not a boolean (use true or false)`);
}

function out(text: string): void {
  process.stdout.write(text);
}

function printPlan(kind: MigrationKind, ids: readonly string[]): void {
  out(`${MIGRATOR_NAMES[kind]}:\n${ids.map((id) => `${id}\n`).join('')}`);
}

/** Errors from applying get GitLab's prefix (spec §4.2); usage errors pass unchanged. */
function migrationFailure(err: unknown): Error {
  if (err instanceof UsageError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`failed to run database migrations: ${message}`, { cause: err });
}

/** Standard input ended before an answer (Go's fmt.Scanln error text, spec §4.2 down). */
export class InputEofError extends Error {
  constructor() {
    super('failed to scan user input: EOF');
    this.name = 'InputEofError';
  }
}

/**
 * Reads one answer line. EOF before any answer is an error, as Go's fmt.Scanln reports it
 * (spec §4.2 down).
 */
export function readAnswer(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input, terminal: false });
    let answered = false;
    rl.once('line', (line) => {
      answered = true;
      rl.close();
      resolve(line.trim());
    });
    rl.once('close', () => {
      if (!answered) reject(new InputEofError());
    });
  });
}

export function isYes(answer: string): boolean {
  return /^y(es)?$/i.test(answer);
}

interface UpFlags {
  dryRun?: boolean;
  limit?: number;
  postDeployLimit?: number;
  skipPostDeployment?: boolean;
}

interface DownFlags {
  force?: boolean;
  dryRun?: boolean;
  limit?: number;
  postDeployLimit?: number;
}

/** The -d/-n/-p options `up` and `down` share (spec §4.2). */
const dryRunOption = () => new Option('-d, --dry-run', 'do not commit changes to the database');
const limitOption = () =>
  new Option('-n, --limit <n>', 'limit the number of migrations (all by default)').argParser(nonNegativeInt);
const postDeployLimitOption = () =>
  new Option(
    '-p, --post-deploy-limit <n>',
    'limit the number of post-deploy migrations (all by default)',
  ).argParser(nonNegativeInt);

function registerUp(migrate: Command): void {
  migrate
    .command('up')
    .description('apply pending migrations')
    .addArgument(configArgument())
    .addOption(dryRunOption())
    .addOption(limitOption())
    .addOption(postDeployLimitOption())
    .option('-s, --skip-post-deployment', `do not apply post deployment migrations (env ${SKIP_POST_ENV})`)
    .action(async (configArg: string | undefined, flags: UpFlags, cmd: Command) => {
      const skip = skipPostDeployment(flags.skipPostDeployment);
      const config = loadCommandConfig(configArg);
      await withDatabase(config, cmd, { checkVersion: true, usePrimary: true }, async (db, logger) => {
        let result;
        try {
          result = await migrateUp(db.pool, {
            dryRun: flags.dryRun ?? false,
            ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
            ...(flags.postDeployLimit !== undefined ? { postDeployLimit: flags.postDeployLimit } : {}),
            skipPostDeployment: skip,
            logger,
            onPlan: printPlan,
            runBackgroundMigrations,
          });
        } catch (err) {
          throw migrationFailure(err);
        }
        if (flags.dryRun) return;
        // regdb's own migration files (each baseline file once): the GitLab IDs the baseline
        // records are bookkeeping for GitLab's registry, not migrations that ran (README).
        out(
          `OK: applied ${result.applied.pre} pre-deployment migration(s), ` +
            `${result.applied.post} post-deployment migration(s) and ` +
            `${result.backgroundMigrations} background migration(s) in ${result.seconds.toFixed(3)}s\n`,
        );
      });
    });
}

function registerDown(migrate: Command): void {
  migrate
    .command('down')
    .description('revert applied migrations (post-deployment first)')
    .addArgument(configArgument())
    .option('-f, --force', 'no confirmation message')
    .addOption(dryRunOption())
    .addOption(limitOption())
    .addOption(postDeployLimitOption())
    .action(async (configArg: string | undefined, flags: DownFlags, cmd: Command) => {
      const config = loadCommandConfig(configArg);
      await withDatabase(config, cmd, { checkVersion: true, usePrimary: true }, async (db, logger) => {
        try {
          await migrateDown(db.pool, {
            dryRun: flags.dryRun ?? false,
            ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
            ...(flags.postDeployLimit !== undefined ? { postDeployLimit: flags.postDeployLimit } : {}),
            logger,
            onPlan: printPlan,
            confirm: async () => {
              if (flags.force) return true;
              out('Preparing to apply the above down migrations. Are you sure? [y/N] ');
              return isYes(await readAnswer());
            },
            onApplied: (kind, count, seconds) =>
              out(`OK: applied ${count} ${MIGRATOR_NAMES[kind]} migration(s) in ${seconds.toFixed(3)}s\n`),
          });
        } catch (err) {
          throw err instanceof InputEofError ? err : migrationFailure(err);
        }
      });
    });
}

function registerStatus(migrate: Command): void {
  migrate
    .command('status')
    .description('show migration status')
    .addArgument(configArgument())
    .option('-u, --up-to-date', 'check if all known migrations are applied (post-deployment ones too)')
    .option('-s, --skip-post-deployment', `ignore post deployment migrations (env ${SKIP_POST_ENV})`)
    .action(
      async (
        configArg: string | undefined,
        flags: { upToDate?: boolean; skipPostDeployment?: boolean },
        cmd,
      ) => {
        const skip = skipPostDeployment(flags.skipPostDeployment);
        const config = loadCommandConfig(configArg);
        await withDatabase(config, cmd as Command, { checkVersion: true, usePrimary: true }, async (db) => {
          if (flags.upToDate) {
            out(`${await isUpToDate(db.pool, { skipPostDeployment: skip })}\n`);
            return;
          }
          for (const { kind, rows } of await migrationStatus(db.pool, { skipPostDeployment: skip })) {
            out(`${MIGRATOR_NAMES[kind]}\n`);
            out(
              renderTable(
                ['Migration', 'Applied'],
                rows.map((r) => [r.migration, r.applied]),
              ),
            );
          }
        });
      },
    );
}

function registerVersion(migrate: Command): void {
  migrate
    .command('version')
    .description('show the current migration version')
    .addArgument(configArgument())
    .action(async (configArg: string | undefined, _flags: unknown, cmd: Command) => {
      const config = loadCommandConfig(configArg);
      await withDatabase(config, cmd, { checkVersion: true, usePrimary: true }, async (db) => {
        const v = await migrationVersions(db.pool);
        out(`${MIGRATOR_NAMES.pre}:${v.pre ?? 'Unknown'}\n${MIGRATOR_NAMES.post}:${v.post ?? 'Unknown'}\n`);
      });
    });
}

function registerNew(migrate: Command): void {
  migrate
    .command('new')
    .description('create a timestamped migration file from the template (src/db/migrations/{pre,post})')
    .argument('<name>', 'snake_case name: lower-case letters, digits and underscores, starting with a letter')
    .option('--post-deployment', 'create a post-deployment migration')
    .action((name: string, flags: { postDeployment?: boolean }) => {
      const file = createMigrationFile({ name, postDeployment: flags.postDeployment ?? false });
      const rel = relative(process.cwd(), file);
      out(`${rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file}\n`);
    });
}

/** Registers `migrate` under `regdb database`. */
export function registerMigrate(database: Command): void {
  const migrate = database.command('migrate').description('manage database schema migrations');
  registerUp(migrate);
  registerDown(migrate);
  registerStatus(migrate);
  registerVersion(migrate);
  registerNew(migrate);
}
