/**
 * Helpers shared by the commands: the CONFIG argument, the root logger from the global flags, the
 * config and the database, opened and closed around the command's work.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Argument, InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { openDatabase, type Database, type OpenOptions } from '../db/open.js';
import { UsageError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';

/** Global flags (main.ts). */
export interface GlobalOptions {
  logLevel?: string;
  logFile?: string;
  logFormat?: 'text' | 'json';
}

/** Level, format and file of the command's log: flags (and REGDB_LOG_*) over the config's `log:` section. */
export function logSettings(
  cmd: Command,
  config: Pick<Config, 'log'> | undefined,
): { level: string; format?: 'text' | 'json'; file?: string } {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const format = g.logFormat ?? config?.log.formatter;
  return {
    level: g.logLevel ?? config?.log.level ?? 'info',
    ...(format !== undefined ? { format } : {}),
    ...(g.logFile !== undefined ? { file: g.logFile } : {}),
  };
}

/** The trailing `[config]` argument every command takes (spec §4.1). */
export function configArgument(): Argument {
  return new Argument('[config]', 'path of the registry config.yml (default: $REGISTRY_CONFIGURATION_PATH)');
}

const loggers = new WeakMap<Command, Logger>();

/**
 * The root logger, built once per program from --log-level/--log-format/--log-file and the config's
 * `log:` section; stderr by default, so stdout stays for results.
 */
export function commandLogger(cmd: Command, config?: Pick<Config, 'log'>): Logger {
  let root: Command = cmd;
  while (root.parent !== null) root = root.parent;
  const cached = loggers.get(root);
  if (cached !== undefined) return cached;
  const s = logSettings(cmd, config);
  let logger: Logger;
  try {
    logger = createLogger({
      level: s.level,
      destination: s.file !== undefined ? { file: s.file } : 'stderr',
      ...(s.format !== undefined ? { format: s.format } : {}),
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  loggers.set(root, logger);
  return logger;
}

/** Loads the config named by the CONFIG argument (or REGISTRY_CONFIGURATION_PATH). */
export function loadCommandConfig(
  configArg: string | undefined,
  opts: { requireStorage?: boolean } = {},
): Config {
  return loadConfig({
    ...(configArg !== undefined ? { path: configArg } : {}),
    requireStorage: opts.requireStorage ?? false,
  });
}

/** Tells the user how to reach the embedded server (stderr: stdout is for results). */
export function announceEmbedded(db: Database): void {
  if (!db.embedded || db.url === undefined) return;
  if (db.closedFolder !== undefined) {
    process.stderr.write(
      `regdb: the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${db.closedFolder}: ` +
        `its data lives in ${db.dataDir} instead (set database.embeddeddir to choose)\n`,
    );
  }
  const pw = db.passwordFile !== undefined ? ` (password in ${db.passwordFile})` : '';
  process.stderr.write(`regdb: embedded PostgreSQL: psql ${db.url}${pw}\n`);
}

/** Opens the config's database, runs `fn`, and always closes it (and stops an embedded server). */
export async function withDatabase<T>(
  config: Config,
  cmd: Command,
  opts: Omit<OpenOptions, 'logger'>,
  fn: (db: Database, logger: Logger) => Promise<T>,
): Promise<T> {
  const logger = commandLogger(cmd, config);
  const db = await openDatabase(config.database, { ...opts, logger });
  announceEmbedded(db);
  try {
    return await fn(db, logger);
  } finally {
    await db.close();
  }
}

/** commander argParser for a non-negative integer flag value (bad values exit with status 2). */
export function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a non-negative integer.');
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('is too large.');
  return n;
}

/** The package version, read from package.json above this module (src/ or dist/src/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'regdb' && pkg.version !== undefined) return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}
