/**
 * Migration files: `<dir>/pre/<id>.sql` and `<dir>/post/<id>.sql` (format in notes/common.md).
 * Parsing and ordering are pure; only `loadMigrations` touches the filesystem.
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type MigrationKind = 'pre' | 'post';

/** GitLab-compatible migrator names (spec §4.2). */
export const MIGRATOR_NAMES: Readonly<Record<MigrationKind, string>> = {
  pre: 'pre-deployment',
  post: 'post-deployment',
};

export interface Migration {
  readonly id: string;
  readonly kind: MigrationKind;
  /** Absolute path of the file it came from (for error messages). */
  readonly file: string;
  /**
   * `-- regdb:no-transaction` (both directions), `-- regdb:no-transaction-up` or
   * `-- regdb:no-transaction-down` (sql-migrate's DisableTransactionUp/Down, spec §3.5): that
   * direction's statements (split by sql-split.ts) run one by one outside a transaction, for CREATE
   * INDEX CONCURRENTLY, or for DDL on more objects than one transaction can lock (the baseline's
   * 64-way partitioned tables take about 8,900 locks in one transaction; the server's lock table
   * holds max_locks_per_transaction x max_connections, 6,400 by default).
   */
  readonly noTransaction: { readonly up: boolean; readonly down: boolean };
  /** `-- regdb:requires-bbm a,b`: batched background migrations that must be finished first. */
  readonly requiredBbms: readonly string[];
  readonly up: string;
  readonly down: string;
}

/** `<14-digit UTC timestamp>_regdb_<snake_name>`: the `regdb` infix never collides with GitLab's IDs. */
export const MIGRATION_ID_PATTERN = /^(\d{14})_regdb_[a-z][a-z0-9_]*$/;

/** Name given to `migrate new`. */
export const MIGRATION_NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Env var naming a directory with `pre/` and `post/` used instead of the bundled migrations (tests). */
export const MIGRATIONS_DIR_ENV = 'REGDB_MIGRATIONS_DIR';

const DIRECTIVE = /^--\s*regdb:([a-z-]+)(?:\s+(.*?))?\s*$/;

/** Numeric prefix as int64 (BigInt), then the whole ID: sql-migrate's order (spec §3.5). */
export function compareMigrationIds(a: string, b: string): number {
  const na = numericPrefix(a);
  const nb = numericPrefix(b);
  if (na !== nb) return na < nb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function numericPrefix(id: string): bigint {
  const m = /^(\d+)/.exec(id);
  // IDs without a numeric prefix (never written by regdb or GitLab) sort first, as in sql-migrate.
  return m?.[1] === undefined ? -1n : BigInt(m[1]);
}

/** Is the text only whitespace and `--` comment lines? */
function isBlank(sql: string): boolean {
  return sql.split('\n').every((line) => {
    const t = line.trim();
    return t === '' || t.startsWith('--');
  });
}

/**
 * Parses one migration file. Throws an Error naming the file for anything malformed: missing or
 * repeated `up`/`down` markers, SQL before `-- regdb:up`, unknown directives.
 */
export function parseMigrationFile(id: string, kind: MigrationKind, file: string, text: string): Migration {
  const fail = (msg: string): never => {
    throw new Error(`invalid migration file ${file}: ${msg}`);
  };
  if (!MIGRATION_ID_PATTERN.test(id)) {
    fail(`the file name must be <14-digit UTC timestamp>_regdb_<name>.sql with a lower-case snake_case name`);
  }
  const noTransaction = { up: false, down: false };
  let requiredBbms: string[] = [];
  let section = 'header' as 'header' | 'up' | 'down';
  const up: string[] = [];
  const down: string[] = [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  for (const [index, line] of lines.entries()) {
    const where = `line ${index + 1}`;
    const d = DIRECTIVE.exec(line.trim());
    if (d) {
      const [, name, arg] = d;
      switch (name) {
        case 'up':
          if (section !== 'header') fail(`${where}: "-- regdb:up" must appear once, before "-- regdb:down"`);
          section = 'up';
          continue;
        case 'down':
          if (section !== 'up') fail(`${where}: "-- regdb:down" must appear once, after "-- regdb:up"`);
          section = 'down';
          continue;
        case 'no-transaction':
        case 'no-transaction-up':
        case 'no-transaction-down':
          if (section !== 'header') fail(`${where}: "-- regdb:${name}" must come before "-- regdb:up"`);
          if (name !== 'no-transaction-down') noTransaction.up = true;
          if (name !== 'no-transaction-up') noTransaction.down = true;
          continue;
        case 'requires-bbm': {
          if (section !== 'header') fail(`${where}: "-- regdb:requires-bbm" must come before "-- regdb:up"`);
          const names = (arg ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '');
          if (names.length === 0)
            fail(`${where}: "-- regdb:requires-bbm" needs a comma-separated list of names`);
          requiredBbms = [...requiredBbms, ...names];
          continue;
        }
        default:
          fail(`${where}: unknown directive "-- regdb:${name}"`);
      }
    }
    if (section === 'header') {
      const t = line.trim();
      if (t !== '' && !t.startsWith('--')) fail(`${where}: SQL before "-- regdb:up"`);
      continue;
    }
    (section === 'up' ? up : down).push(line);
  }
  if (section === 'header') fail('missing "-- regdb:up"');
  if (section === 'up') fail('missing "-- regdb:down"');
  const migration: Migration = {
    id,
    kind,
    file,
    noTransaction,
    requiredBbms,
    up: up.join('\n').trim(),
    down: down.join('\n').trim(),
  };
  return migration;
}

/** Is there anything to execute in this SQL section? */
export function hasStatements(sql: string): boolean {
  return !isBlank(sql);
}

/** Migrations shipped with regdb, next to this module (src/db/ under tsx, dist/src/db/ after build). */
export function bundledMigrationsDir(): string {
  return fileURLToPath(new URL('./migrations/', import.meta.url));
}

/** `REGDB_MIGRATIONS_DIR` when set (resolved against the working directory), else the bundled ones. */
export function migrationsDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[MIGRATIONS_DIR_ENV];
  return override !== undefined && override !== '' ? resolve(override) : bundledMigrationsDir();
}

/**
 * Where `migrate new` writes: `REGDB_MIGRATIONS_DIR` when set, else the checkout's
 * `src/db/migrations` (also when running the compiled CLI from dist/, so new files land in the sources).
 */
export function sourceMigrationsDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[MIGRATIONS_DIR_ENV];
  if (override !== undefined && override !== '') return resolve(override);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'src', 'db', 'migrations');
    const parent = dirname(dir);
    if (parent === dir) return bundledMigrationsDir();
    dir = parent;
  }
}

/** Reads and parses `<dir>/<kind>/*.sql`, sorted by ID. A missing kind folder means no migrations. */
export function loadMigrations(dir: string, kind: MigrationKind): Migration[] {
  const folder = join(dir, kind);
  if (!existsSync(folder)) return [];
  if (!statSync(folder).isDirectory()) throw new Error(`migrations folder ${folder} is not a directory`);
  const migrations = readdirSync(folder)
    .filter((name) => name.endsWith('.sql'))
    .map((name) => {
      const file = join(folder, name);
      return parseMigrationFile(name.slice(0, -'.sql'.length), kind, file, readFileSync(file, 'utf8'));
    });
  return migrations.sort((a, b) => compareMigrationIds(a.id, b.id));
}

/** Both kinds from one migrations directory. */
export function loadAllMigrations(dir: string): Record<MigrationKind, Migration[]> {
  return { pre: loadMigrations(dir, 'pre'), post: loadMigrations(dir, 'post') };
}
