/**
 * `regdb database init [flags] [config]` (issue 2 §6): creates the configured role (with its
 * password), the database owned by it and the btree_gist extension, as an administrator given by
 * flags or REGISTRY_DATABASE_ADMIN_*. Safe to run again: a second run reports "exists" everywhere.
 */
import { Option, type Command } from 'commander';
import type { Config, ServerDatabaseConfig } from '../config/types.js';
import { ensureExtension, initDatabaseObjects, type InitReport } from '../db/init.js';
import { ConfigError } from '../errors.js';
import { commandLogger, configArgument, loadCommandConfig, nonNegativeInt, withDatabase } from './common.js';

interface InitFlags {
  adminUser: string;
  adminPassword?: string;
  adminHost?: string;
  adminPort?: number;
  adminDbname: string;
}

export function formatReport(report: InitReport, role: string, dbname: string): string {
  return [
    `role "${role}": ${report.role}`,
    `database "${dbname}" (owner "${role}"): ${report.database}`,
    `extension btree_gist in "${dbname}": ${report.extension}`,
  ].join('\n');
}

/** The administrator's connection: the configured server's TLS settings, the admin's identity. */
export function adminConfigOf(db: ServerDatabaseConfig, flags: InitFlags): ServerDatabaseConfig {
  const { password: _password, user: _user, dbname: _dbname, ...rest } = db;
  return {
    ...rest,
    host: flags.adminHost ?? db.host,
    port: flags.adminPort ?? db.port,
    user: flags.adminUser,
    dbname: flags.adminDbname,
    ...(flags.adminPassword !== undefined ? { password: flags.adminPassword } : {}),
  };
}

async function runInit(config: Config, flags: InitFlags, cmd: Command): Promise<string> {
  const db = config.database;
  if (db.kind === 'embedded') {
    // regdb's own server: its user is the superuser and the database is created when it starts.
    return withDatabase(config, cmd, {}, async (open) => {
      const extension = await ensureExtension(open.pool);
      return formatReport({ role: 'exists', database: 'exists', extension }, db.user, db.dbname);
    });
  }
  if (db.user === undefined || db.user === '') {
    throw new ConfigError(`${config.path}: database.user: required by "database init" (the role to create)`);
  }
  if (db.dbname === undefined || db.dbname === '') {
    throw new ConfigError(
      `${config.path}: database.dbname: required by "database init" (the database to create)`,
    );
  }
  const report = await initDatabaseObjects(
    adminConfigOf(db, flags),
    { role: db.user, dbname: db.dbname, ...(db.password !== undefined ? { password: db.password } : {}) },
    { logger: commandLogger(cmd, config) },
  );
  return formatReport(report, db.user, db.dbname);
}

export function registerInit(database: Command): void {
  database
    .command('init')
    .description('create the configured role, its database and the btree_gist extension (idempotent)')
    .addOption(
      new Option('--admin-user <name>', 'administrator role to connect as')
        .env('REGISTRY_DATABASE_ADMIN_USER')
        .default('postgres'),
    )
    .addOption(
      new Option(
        '--admin-password <password>',
        'administrator password (prefer the environment variable)',
      ).env('REGISTRY_DATABASE_ADMIN_PASSWORD'),
    )
    .addOption(
      new Option('--admin-host <host>', 'server to connect to (default: database.host)').env(
        'REGISTRY_DATABASE_ADMIN_HOST',
      ),
    )
    .addOption(
      new Option('--admin-port <port>', 'port to connect to (default: database.port)')
        .env('REGISTRY_DATABASE_ADMIN_PORT')
        .argParser(nonNegativeInt),
    )
    .addOption(
      new Option('--admin-dbname <name>', 'maintenance database to connect to')
        .env('REGISTRY_DATABASE_ADMIN_DBNAME')
        .default('postgres'),
    )
    .addArgument(configArgument())
    .action(async (configArg: string | undefined, flags: InitFlags, cmd: Command) => {
      const config = loadCommandConfig(configArg);
      process.stdout.write(`${await runInit(config, flags, cmd)}\n`);
    });
}
