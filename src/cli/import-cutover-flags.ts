/**
 * The import flags of issue 14 ("before and after cutover"): which repositories, untagged manifests,
 * tag times, and the writer's pace and connections. Registered on `regdb database import` and turned
 * into importer options here, so import.ts only calls these two functions.
 */
import { Option, type Command } from 'commander';
import type { Config } from '../config/types.js';
import { UsageError } from '../errors.js';
import { parseRepositoryFilter, type RepositoryFilter } from '../importer/repository-filter.js';
import { TAG_TIMESTAMP_CHOICES, type TagTimestamps } from '../importer/tag-timestamps.js';
import type { Step } from '../db/import-rows.js';
import { positiveInt } from './import-flags.js';

export interface CutoverFlags {
  estimate?: boolean;
  repository?: string[];
  repositoryPrefix?: string[];
  danglingManifests?: boolean;
  tagTimestamps?: TagTimestamps;
  maxRowsPerSecond?: number;
  maxDbConnections?: number;
}

/** Seconds of rows in one batch under `--max-rows-per-second`. */
const BATCH_SECONDS = 5;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function addCutoverOptions(cmd: Command): Command {
  return cmd
    .option(
      '--estimate',
      'do not import: count what storage holds from listings and predict each step’s time (as regdb inventory)',
    )
    .addOption(
      new Option(
        '--repository <name>',
        'import only this repository (repeatable); steps one and two, rerunnable, a later full import adds the rest',
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--repository-prefix <group/>',
        'import only the repositories below this path, and the one named by it (repeatable)',
      ).argParser(collect),
    )
    .option(
      '--dangling-manifests',
      "also import manifests no tag references (every revision of a repository), with their layers and references; GitLab's default leaves them out",
    )
    .addOption(
      new Option(
        '--tag-timestamps <source>',
        "tags' created_at/updated_at: import (GitLab: the import time) or storage (last-modified time of the tag's current link)",
      )
        .choices(TAG_TIMESTAMP_CHOICES)
        .default('import'),
    )
    .addOption(
      new Option(
        '--max-rows-per-second <n>',
        'pace the writer to insert at most this many rows a second (for a PostgreSQL shared with production)',
      ).argParser(positiveInt),
    )
    .addOption(
      new Option(
        '--max-db-connections <n>',
        'open at most this many PostgreSQL connections (at least 2: one holds the import lock); overrides database.pool.maxopen',
      ).argParser(positiveInt),
    );
}

export interface CutoverOptions {
  readonly steps: Step[];
  readonly repositories: RepositoryFilter | null;
  readonly danglingManifests: boolean;
  readonly tagTimestamps: TagTimestamps;
  readonly maxRowsPerSecond?: number;
  readonly batchRows: number;
}

/**
 * Checks the combinations and returns the importer's options. A repository filter leaves out step
 * three (common storage is not per repository): asking for it alone is a conflict.
 */
export function cutoverOptions(
  flags: CutoverFlags,
  steps: Step[],
  batchRows: number,
  shard: unknown,
): CutoverOptions {
  const repositories = parseRepositoryFilter(flags.repository, flags.repositoryPrefix);
  let selected = steps;
  if (repositories) {
    if (steps.length === 1 && steps[0] === 3)
      throw new UsageError(
        '--repository and --repository-prefix cannot be used with --common-blobs (step three imports all of common storage)',
      );
    if (shard !== null && shard !== undefined)
      throw new UsageError('--repository and --repository-prefix cannot be used with --shard');
    selected = steps.filter((s) => s !== 3);
  }
  if (flags.maxDbConnections !== undefined && flags.maxDbConnections < 2)
    throw new UsageError('--max-db-connections must be at least 2: one connection holds the import lock');
  const rate = flags.maxRowsPerSecond;
  return {
    steps: selected,
    repositories,
    danglingManifests: flags.danglingManifests ?? false,
    tagTimestamps: flags.tagTimestamps ?? 'import',
    // A batch is at most five seconds' rows: small enough that the pace holds over a few seconds,
    // large enough that a batch's fixed cost (staging, ANALYZE, 64-partition merges) stays small.
    batchRows: rate !== undefined ? Math.min(batchRows, rate * BATCH_SECONDS) : batchRows,
    ...(rate !== undefined ? { maxRowsPerSecond: rate } : {}),
  };
}

/** `--max-db-connections`: the pool gets all but the import lock's own connection. */
export function withConnectionLimit(config: Config, flags: CutoverFlags): Config {
  const n = flags.maxDbConnections;
  if (n === undefined || config.database === undefined) return config;
  return { ...config, database: { ...config.database, pool: { ...config.database.pool, maxOpen: n - 1 } } };
}
