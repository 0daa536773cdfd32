/**
 * `regdb database import [flags] CONFIG` (spec §4.3, issue 5): GitLab's flags plus regdb's own.
 * Thin: validate flags in GitLab's order, build the driver and the database, call the importer,
 * print the summary. Exit 0 on success even with reported skips, 1 on failure, 2 on usage errors.
 */
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { createDriver, OBJECT_STORE_CONCURRENCY } from '../../drivers/factory.js';
import type { ImportEvents } from '../db/import-events.js';
import { databaseHasRows } from '../db/import-writer.js';
import { migrateUp, pendingMigrations } from '../db/migrator.js';
import { chooseDataDir } from '../db/embedded.js';
import { openDatabase } from '../db/open.js';
import { UsageError } from '../errors.js';
import { IMPORT_DEFAULTS } from '../importer/defaults.js';
import { ImportFailure, runImport } from '../importer/run.js';
import { countWork } from '../importer/work-count.js';
import { deriveRunId, ShardRun } from '../importer/shard-run.js';
import { createLogger, type Logger } from '../log.js';
import { announceEmbedded, configArgument, loadCommandConfig, logSettings } from './common.js';
import {
  anyInt,
  checkTagConcurrency,
  parseBool,
  parseGoDuration,
  intAtLeast,
  positiveInt,
  selectedSteps,
  type ImportFlags,
} from './import-flags.js';
import { importLogPath } from './import-log.js';
import { createImportProgress, summary } from './import-output.js';
import { interruptSignal } from './interrupt.js';
import {
  addCutoverOptions,
  cutoverOptions,
  withConnectionLimit,
  type CutoverFlags,
} from './import-cutover-flags.js';
import { checkRepositoryFilter } from '../importer/repository-filter.js';
import { estimateCommand } from './estimate.js';
import { runReport } from './import-status.js';
import { checkRunId, resolveShard, runIdentity } from './shard-flags.js';
import { runBackgroundMigrations } from './background-runner.js';

const PENDING_MESSAGE =
  "there are pending database migrations, use the 'regdb database migrate up' command to check and apply them";

/** Fault injection for the kill tests (test/helpers/import-events-entry.ts); unset in production. */
export interface ImportSeams {
  readonly importEvents?: ImportEvents;
}

export function registerImport(database: Command, seams: ImportSeams = {}): void {
  const cmd = database
    .command('import')
    .description(
      "import a registry's metadata from its storage into the database. Untagged manifests are not " +
        'imported, except referrers of imported manifests (see --no-referrers).',
    )
    .addArgument(configArgument())
    .option('-d, --dry-run', 'do not commit changes to the database')
    .option(
      '-c, --row-count',
      'count and log number of rows across relevant database tables on (pre)import completion',
    )
    .option('-p, --pre-import', 'import immutable repository-scoped data to speed up a following import')
    .addOption(
      new Option('-1, --step-one', 'perform step one of a multi-step import: alias for pre-import').implies({
        preImport: true,
      }),
    )
    .option('-r, --all-repositories', 'import all repository-scoped data')
    .addOption(
      new Option(
        '-2, --step-two',
        'perform step two of a multi-step import: alias for all-repositories',
      ).implies({ allRepositories: true }),
    )
    .option('-B, --common-blobs', 'import all blob metadata from common storage')
    .addOption(
      new Option(
        '-3, --step-three',
        'perform step three of a multi-step import: alias for common-blobs',
      ).implies({ commonBlobs: true }),
    )
    .option('-l, --log-to-stdout', 'write detailed log to stdout instead of showing progress')
    .addOption(
      new Option('-m, --dynamic-media-types [bool]', 'record unknown media types during import')
        .argParser(parseBool)
        .default(true),
    )
    .addOption(new Option('--no-dynamic-media-types', 'fail (skip) on unknown configuration media types'))
    .addOption(
      new Option('-i, --import-statistics [bool]', 'record import statistics')
        .argParser(parseBool)
        .default(true),
    )
    .addOption(new Option('--no-import-statistics', 'do not record import statistics'))
    .addOption(
      new Option(
        '--pre-import-skip-recent <duration>',
        'skip pre importing repositories pre imported more recently than this, 0 disables',
      )
        .argParser(parseGoDuration)
        .default(IMPORT_DEFAULTS.preImportSkipRecentMs, '72h'),
    )
    .option(
      '--log-directory <dir>',
      'directory that detail log files will be written to, ignored when --log-to-stdout is used',
    )
    .option(
      '-e, --require-empty-database',
      'abort unless the repositories, manifests, blobs and tags tables are empty',
    )
    .addOption(
      new Option(
        '-t, --tag-concurrency <n>',
        'tag links read at once (1-5), on every storage backend',
      ).argParser(anyInt),
    )
    .addOption(
      new Option(
        '--concurrency <n>',
        `repositories read at once (default ${IMPORT_DEFAULTS.concurrency} from a filesystem, ${IMPORT_DEFAULTS.objectStoreConcurrency} from S3 or GCS)`,
      ).argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--storage-concurrency <n>',
        `most S3 or GCS requests in flight, at least ${OBJECT_STORE_CONCURRENCY.floor}; the limit adapts below it, halving on SlowDown or 429 (default ${OBJECT_STORE_CONCURRENCY.default}, or the config's maxconcurrency)`,
      ).argParser(intAtLeast(OBJECT_STORE_CONCURRENCY.floor)),
    )
    .addOption(
      new Option('--batch-size <rows>', 'rows per COPY batch (one transaction)')
        .argParser(positiveInt)
        .default(IMPORT_DEFAULTS.batchRows),
    )
    .option('--no-resume', 'ignore the checkpoints of an interrupted run and start over')
    .option('--strict', "stop at the first condition GitLab's importer treats as fatal")
    .option(
      '--no-referrers',
      "GitLab's behaviour: drop untagged referrers and leave subject_id and artifact_media_type_id NULL",
    )
    .option(
      '--gc-triggers',
      "queue GC rows through GitLab's row triggers, one row at a time, even where regdb can write them set-based",
    )
    .option('--report <file>', 'write the summary as JSON, with up to 20 example paths per skip reason')
    .option(
      '--shard <I/N|auto>',
      'import only the repositories (and blob prefixes) of shard I of N; auto: from JOB_COMPLETION_INDEX and REGDB_SHARD_COUNT',
    )
    .option(
      '--run-id <id>',
      'the sharded run this shard belongs to (default: derived from the config, N and the steps)',
    );
  addCutoverOptions(cmd).action(async (configArg: string | undefined, flags: ImportFlags, cmd: Command) => {
    await importCommand(configArg, flags, cmd, seams);
  });
}

async function importCommand(
  configArg: string | undefined,
  flags: ImportFlags & CutoverFlags,
  cmd: Command,
  seams: ImportSeams,
): Promise<void> {
  if (flags.estimate) return estimateCommand(configArg, {}, cmd);
  const gitlabSteps = selectedSteps(flags);
  const config = withConnectionLimit(loadCommandConfig(configArg, { requireStorage: true }), flags);
  const tagConcurrency = checkTagConcurrency(flags.tagConcurrency);
  const shard = flags.shard !== undefined ? resolveShard(flags.shard) : null;
  if (flags.runId !== undefined && shard === null) throw new UsageError('--run-id needs --shard');
  const runId = flags.runId !== undefined ? checkRunId(flags.runId) : undefined;
  const cutover = cutoverOptions(flags, gitlabSteps, flags.batchSize, shard);
  const steps = cutover.steps;
  if (config.storage === undefined) throw new UsageError('no storage configuration provided');

  const started = new Date();
  const log = logSettings(cmd, config);
  const embeddedDataDir =
    config.database.kind === 'embedded' ? (await chooseDataDir(config.database)).dataDir : undefined;
  const logPath = importLogPath(
    config.database,
    {
      ...(flags.logToStdout === true ? { logToStdout: true } : {}),
      ...(log.file !== undefined ? { logFile: log.file } : {}),
      ...(flags.logDirectory !== undefined ? { logDirectory: flags.logDirectory } : {}),
      ...(embeddedDataDir !== undefined ? { embeddedDataDir } : {}),
    },
    started,
  );
  let logger: Logger;
  try {
    logger = createLogger({
      level: log.level,
      destination: logPath === undefined ? 'stdout' : { file: logPath },
      ...(log.format !== undefined ? { format: log.format } : {}),
    });
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  const progress = !flags.logToStdout ? createImportProgress(process.stderr) : undefined;
  if (logPath !== undefined)
    process.stderr.write(`registry import starting, detailed log written to: ${logPath}\n`);

  const driver = await createDriver(config.storage, {
    logger,
    ...(flags.storageConcurrency !== undefined ? { concurrency: flags.storageConcurrency } : {}),
  });
  const db = await openDatabase(config.database, { logger });
  announceEmbedded(db);
  const run =
    shard !== null && !(flags.dryRun ?? false)
      ? ShardRun.create(
          db.pool,
          runId ?? deriveRunId(runIdentity(config), shard.count, steps),
          shard,
          steps,
          {
            fresh: !flags.resume,
            logger,
          },
        )
      : undefined;
  let counting: AbortController | undefined;
  let counted: Promise<void> | undefined;
  try {
    await checkRepositoryFilter(driver, cutover.repositories);
    if (db.embedded) {
      await migrateUp(db.pool, { logger, runBackgroundMigrations });
    } else {
      const pending = await pendingMigrations(db.pool);
      if (pending.pre.length + pending.post.length > 0) throw new Error(PENDING_MESSAGE);
    }
    if (flags.requireEmptyDatabase && (await databaseHasRows(db.pool))) throw new Error('non-empty database');
    if (progress !== undefined) {
      // Counted beside step one, not before it: on a large tree with a cold cache the count's
      // directory listings took 40 s (10x corpus), all of it added to the import's wall time.
      // Progress lines show a total from the moment it is known.
      counting = new AbortController();
      const signal = AbortSignal.any([interruptSignal(), counting.signal]);
      counted = countWork(driver, {
        repositories: steps.includes(1) || steps.includes(2),
        blobs: steps.includes(3),
        shard,
        filter: cutover.repositories,
        signal,
      }).then(
        (totals) => progress.setTotals(totals),
        (err: unknown) => {
          if (!signal.aborted)
            logger.warn({ err }, 'could not count the work ahead: progress shows no totals');
        },
      );
    }
    const report = await runImport(
      {
        pool: db.pool,
        driver,
        logger,
        onProgress: progress ? (s, found) => progress.update(s, found) : undefined,
        signal: interruptSignal(),
        run,
        events: seams.importEvents,
      },
      {
        steps,
        dryRun: flags.dryRun ?? false,
        importStatistics: flags.importStatistics,
        rowCount: flags.rowCount ?? false,
        resume: flags.resume,
        dynamicMediaTypes: flags.dynamicMediaTypes,
        referrers: flags.referrers,
        setBasedGc: !(flags.gcTriggers ?? false),
        strict: flags.strict ?? false,
        concurrency:
          flags.concurrency ??
          (driver.directoryWalk ? IMPORT_DEFAULTS.concurrency : IMPORT_DEFAULTS.objectStoreConcurrency),
        tagConcurrency,
        batchRows: cutover.batchRows,
        shard,
        repositories: cutover.repositories,
        danglingManifests: cutover.danglingManifests,
        tagTimestamps: cutover.tagTimestamps,
        ...(cutover.maxRowsPerSecond !== undefined ? { maxRowsPerSecond: cutover.maxRowsPerSecond } : {}),
        skipRecentCutoff:
          flags.preImportSkipRecent > 0 ? new Date(started.getTime() - flags.preImportSkipRecent) : null,
        now: started,
      },
    ).finally(() => progress?.done());
    process.stdout.write(summary(report));
    if (flags.report !== undefined)
      await writeFile(
        flags.report,
        JSON.stringify({ ...(report.toJSON() as object), ...(await runReport(db.pool, run)) }, null, 2) +
          '\n',
      );
    if (logPath !== undefined) process.stderr.write('registry import complete\n');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (err instanceof ImportFailure && flags.report !== undefined) {
      await writeFile(
        flags.report,
        JSON.stringify(
          { ...(err.report.toJSON() as object), ...(await runReport(db.pool, run)), error: err.message },
          null,
          2,
        ) + '\n',
      );
    }
    throw new Error(`failed to import metadata: ${(err as Error).message}`, { cause: err });
  } finally {
    counting?.abort();
    await counted;
    await driver.close();
    await db.close();
    logger.flush?.();
  }
}
