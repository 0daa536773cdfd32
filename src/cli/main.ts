#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50
/**
 * The shebang's node flags size V8's heap for a process that allocates briskly but keeps little (an
 * import keeps ~45 MB live): each young-generation semi-space is capped at 8 MiB (default 16), and
 * the old generation may grow to 1.5x what the last full collection kept before the next one
 * (default: up to 4x, chosen by V8). Together they take the import's peak resident set from ~265 to
 * ~168 MB (README, benchmarks). 8 rather than 4 MiB: from object storage, with ~140 requests in
 * flight, 4 MiB filled before their objects died, and the import spent 11 % more CPU collecting
 * (the 3,000-tag tree from GCS at 30 ms: 5.70 vs 5.05 CPU s, means of 9 and 5 runs; the default
 * corpus from a filesystem took no longer).
 * `env -S` is GNU coreutils >= 8.30 (Debian 10+).
 *
 * The `regdb` command. Each command file exports a `registerX(parent: Command)` function and is
 * registered in buildProgram() below. Errors are printed once, as `regdb: <message>`, and mapped onto
 * the exit status: 2 for usage and configuration errors, 1 for runtime failures (errors.ts).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { exitCodeOf } from '../errors.js';
import { packageVersion } from './common.js';
import { installInterruptHandlers, interruptedExitStatus, receivedSignal } from './interrupt.js';
import { registerImport, type ImportSeams } from './import.js';
import { registerImportStatus } from './import-status.js';
import { registerBackgroundMigrate } from './background-migrate.js';
import { registerInit } from './init.js';
import { registerMigrate } from './migrate.js';
import { registerVerify } from './verify.js';
import { registerInventory } from './estimate.js';

/** Commander outcomes that are not failures. */
const COMMANDER_SUCCESS = new Set(['commander.helpDisplayed', 'commander.version']);

/** What only tests pass in (fault injection); the `regdb` executable passes nothing. */
export type CliSeams = ImportSeams;

export function buildProgram(seams: CliSeams = {}): Command {
  const program = new Command('regdb')
    .description(
      "Imports a container registry's metadata from its storage into a GitLab-compatible PostgreSQL " +
        'metadata database, and manages that database.',
    )
    .version(packageVersion(), '-V, --version')
    .addOption(
      new Option('--log-level <level>', "log level (default: the config's log.level, else info)")
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
        .env('REGDB_LOG_LEVEL'),
    )
    .addOption(
      new Option(
        '--log-format <format>',
        "log line format (default: the config's log.formatter, else text on a terminal and JSON otherwise)",
      )
        .choices(['text', 'json'])
        .env('REGDB_LOG_FORMAT'),
    )
    .addOption(
      new Option('--log-file <path>', 'write log lines to this file instead of stderr').env('REGDB_LOG_FILE'),
    )
    // Settings below are inherited by every command created afterwards.
    .exitOverride()
    .showSuggestionAfterError(true);

  const database = program.command('database').description('manage the metadata database');
  registerInit(database);
  registerMigrate(database);
  registerBackgroundMigrate(program);
  registerImport(database, seams);
  registerVerify(database);
  registerInventory(program);
  registerImportStatus(database);

  return program;
}

/** Runs the CLI and returns the exit status (130/143 when SIGINT/SIGTERM stopped the command). */
export async function run(argv: readonly string[] = process.argv, seams: CliSeams = {}): Promise<number> {
  const program = buildProgram(seams);
  const removeHandlers = installInterruptHandlers();
  let status: number;
  try {
    await program.parseAsync([...argv]);
    status = 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message (or the help).
      status = COMMANDER_SUCCESS.has(err.code) ? 0 : 2;
    } else if (interruptedExitStatus() === undefined) {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`regdb: ${message}\n`);
      status = exitCodeOf(err);
    } else {
      status = 1;
    }
  } finally {
    removeHandlers();
  }
  const interrupted = interruptedExitStatus();
  if (interrupted !== undefined) {
    process.stderr.write(`regdb: stopped after ${receivedSignal()}\n`);
    return interrupted;
  }
  return status;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // npx and npm link start us through a symlink in node_modules/.bin.
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await run();
  process.exitCode = code;
  // Let stdout drain; then leave even if a library left a handle open.
  setTimeout(() => process.exit(code), 2000).unref();
}
