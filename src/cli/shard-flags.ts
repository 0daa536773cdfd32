/**
 * `--shard I/N|auto` and `--run-id` of `regdb database import` (issue 13). `auto` reads the shard from
 * the environment a Kubernetes Indexed Job gives each pod: `JOB_COMPLETION_INDEX` (set by Kubernetes)
 * and the shard count from `REGDB_SHARD_COUNT` (set by the manifest to the Job's `completions`).
 */
import { UsageError } from '../errors.js';
import type { Config } from '../config/types.js';
import { parseShard, type Shard } from '../importer/shard.js';

export const JOB_INDEX_ENV = 'JOB_COMPLETION_INDEX';
export const SHARD_COUNT_ENV = 'REGDB_SHARD_COUNT';

export function resolveShard(value: string, env: NodeJS.ProcessEnv = process.env): Shard {
  if (value !== 'auto') return parseShard(value);
  const index = env[JOB_INDEX_ENV];
  const count = env[SHARD_COUNT_ENV];
  if (index === undefined || count === undefined) {
    throw new UsageError(
      `--shard auto needs ${JOB_INDEX_ENV} (set by a Kubernetes Indexed Job) and ${SHARD_COUNT_ENV} ` +
        `(the Job's completions) in the environment; ${index === undefined ? JOB_INDEX_ENV : SHARD_COUNT_ENV} is not set`,
    );
  }
  try {
    return parseShard(`${index}/${count}`);
  } catch {
    throw new UsageError(
      `--shard auto: ${JOB_INDEX_ENV}="${index}" and ${SHARD_COUNT_ENV}="${count}" do not make a shard I/N ` +
        'with 0 <= I < N',
    );
  }
}

/** `--run-id`: printable, short, no spaces (it is a key in regdb_import.runs and shown in tables). */
export function checkRunId(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(value)) {
    throw new UsageError(
      `invalid --run-id "${value}": use up to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

/** Storage parameters that say where the registry is (never credentials). */
const LOCATION_KEYS = ['rootdirectory', 'bucket', 'region', 'regionendpoint'];

/** Where the registry and the database are, without secrets: what makes shards one run. */
export function runIdentity(config: Config): string {
  const storage = config.storage;
  const location = storage
    ? LOCATION_KEYS.map((k) => `${k}=${String(storage.parameters[k] ?? '')}`).join(';')
    : '';
  const db = config.database;
  const database =
    db.kind === 'server' ? `${db.host}:${db.port}/${db.dbname ?? ''}` : `embedded:${db.dataDir}`;
  return `${storage?.driver ?? ''};${location};${database}`;
}
