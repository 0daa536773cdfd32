/**
 * Flag values of `regdb database import` (spec §4.3, issue 5 §1): Go-style durations and booleans,
 * and the validation messages GitLab prints, in GitLab's order.
 */
import { InvalidArgumentError } from 'commander';
import { UsageError } from '../errors.js';
import type { Step } from '../db/import-rows.js';
import { IMPORT_DEFAULTS } from '../importer/defaults.js';

export interface ImportFlags {
  dryRun?: boolean;
  rowCount?: boolean;
  preImport?: boolean;
  allRepositories?: boolean;
  commonBlobs?: boolean;
  logToStdout?: boolean;
  dynamicMediaTypes: boolean;
  importStatistics: boolean;
  preImportSkipRecent: number;
  logDirectory?: string;
  requireEmptyDatabase?: boolean;
  tagConcurrency?: number;
  /** Repositories at once; absent: the storage's default (IMPORT_DEFAULTS). */
  concurrency?: number;
  /** Storage requests in flight at most (object stores). */
  storageConcurrency?: number;
  batchSize: number;
  resume: boolean;
  strict?: boolean;
  referrers: boolean;
  gcTriggers?: boolean;
  report?: string;
  shard?: string;
  runId?: string;
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration (`72h`, `1h30m`, `0`), in milliseconds. */
export function parseGoDuration(value: string): number {
  if (value === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  let sign = 1;
  let s = value;
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1;
    s = s.slice(1);
  }
  re.lastIndex = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = re.lastIndex;
  }
  if (s === '' || at !== s.length) throw new InvalidArgumentError(`time: invalid duration "${value}"`);
  return sign * total;
}

/** A bool flag that also takes an explicit value, like cobra's `--dynamic-media-types=false`. */
export function parseBool(value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new InvalidArgumentError(`invalid boolean value "${value}"`);
}

export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('must be a positive integer.');
  return Number(value);
}

/** An integer of at least `min` (commander argument parser). */
export function intAtLeast(min: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min)
      throw new InvalidArgumentError(`must be an integer of at least ${min}.`);
    return Number(value);
  };
}

export function anyInt(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError('must be an integer.');
  return Number(value);
}

/** The steps to run; the step-flag rules and messages of spec §4.3. */
export function selectedSteps(f: Pick<ImportFlags, 'preImport' | 'allRepositories' | 'commonBlobs'>): Step[] {
  if (f.preImport && (f.allRepositories || f.commonBlobs)) {
    throw new UsageError("steps two or three can't be used with step one");
  }
  if (f.allRepositories && f.commonBlobs) throw new UsageError("step three can't be used with step two");
  if (f.preImport) return [1];
  if (f.allRepositories) return [2];
  if (f.commonBlobs) return [3];
  return [1, 2, 3];
}

/** `--tag-concurrency` range (spec §2.17); regdb accepts it on every backend (issue 5 §1). */
export function checkTagConcurrency(n: number | undefined): number {
  if (n === undefined) return IMPORT_DEFAULTS.tagConcurrency;
  if (n < 1 || n > 5) throw new UsageError('tag-concurrency must be between 1 and 5');
  return n;
}

/** `<RFC3339 time>-registry-import.log` (spec §2.16); the name contains `:`. */
export function logFileName(now: Date): string {
  return `${now.toISOString().replace(/\.\d{3}Z$/, 'Z')}-registry-import.log`;
}
