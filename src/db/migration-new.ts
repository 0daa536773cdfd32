/** `regdb database migrate new`: a timestamped migration file from `templates/` (issue 2 §5). */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import {
  MIGRATION_NAME_PATTERN,
  parseMigrationFile,
  sourceMigrationsDir,
  type MigrationKind,
} from './migration-files.js';

/** `YYYYMMDDHHMMSS` in UTC. */
export function migrationTimestamp(now: Date): string {
  return now
    .toISOString()
    .replace(/\.\d{3}Z$/, '')
    .replace(/[-:T]/g, '');
}

/** Validates the name (exit 2 on a bad one) and builds `<timestamp>_regdb_<name>`. */
export function newMigrationId(name: string, now: Date): string {
  if (!MIGRATION_NAME_PATTERN.test(name)) {
    throw new UsageError(
      `invalid migration name "${name}": use lower-case letters, digits and underscores, starting with a letter`,
    );
  }
  // `<ts>_regdb_baseline*` IDs hold the GitLab migration IDs (gitlab-baseline.ts).
  if (name === 'baseline' || name.startsWith('baseline_')) {
    throw new UsageError(`invalid migration name "${name}": names starting with "baseline" are reserved`);
  }
  return `${migrationTimestamp(now)}_regdb_${name}`;
}

export function renderTemplate(kind: MigrationKind, id: string): string {
  const template = readFileSync(new URL(`./templates/${kind}.sql`, import.meta.url), 'utf8');
  return template.replaceAll('{{ID}}', id);
}

/** Writes the file (never overwriting one) and returns its path. */
export function createMigrationFile(opts: {
  name: string;
  postDeployment?: boolean;
  now?: Date;
  dir?: string;
}): string {
  const kind: MigrationKind = opts.postDeployment ? 'post' : 'pre';
  const id = newMigrationId(opts.name, opts.now ?? new Date());
  const folder = join(opts.dir ?? sourceMigrationsDir(), kind);
  const file = join(folder, `${id}.sql`);
  const text = renderTemplate(kind, id);
  parseMigrationFile(id, kind, file, text); // the template must always give a loadable file
  mkdirSync(folder, { recursive: true });
  try {
    writeFileSync(file, text, { flag: 'wx' });
  } catch (err) {
    throw new Error(`cannot create migration file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return file;
}
