/**
 * Where `database import` writes its detailed log (issue 11 §5, issue 16 §5). Never the working
 * directory by default:
 * 1. `--log-to-stdout`: stdout;
 * 2. the global `--log-file` (or REGDB_LOG_FILE): that file, as for every command;
 * 3. `--log-directory`: a new timestamped file there (GitLab's flag);
 * 4. the embedded server: a `logs` folder beside its data directory;
 * 5. a configured server: $XDG_STATE_HOME/regdb/logs (default ~/.local/state/regdb/logs).
 * The path is printed on stderr when the import starts.
 */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { DatabaseConfig } from '../config/types.js';
import { logFileName } from './import-flags.js';

export interface ImportLogChoice {
  logToStdout?: boolean;
  logFile?: string;
  logDirectory?: string;
  /** The embedded server's data directory once chosen (db/embedded.ts chooseDataDir). */
  embeddedDataDir?: string;
}

/** The directory of the detailed log when no flag names one. */
export function defaultLogDirectory(
  database: DatabaseConfig,
  embeddedDataDir: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (database.kind === 'embedded') return join(dirname(embeddedDataDir ?? database.dataDir), 'logs');
  const state =
    env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : undefined;
  return join(state ?? join(homedir(), '.local', 'state'), 'regdb', 'logs');
}

/** The detailed log's file, or undefined for stdout. */
export function importLogPath(
  database: DatabaseConfig,
  choice: ImportLogChoice,
  started: Date,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (choice.logToStdout === true) return undefined;
  if (choice.logFile !== undefined) return resolve(choice.logFile);
  const dir =
    choice.logDirectory !== undefined
      ? resolve(choice.logDirectory)
      : defaultLogDirectory(database, choice.embeddedDataDir, env);
  return join(dir, logFileName(started));
}
