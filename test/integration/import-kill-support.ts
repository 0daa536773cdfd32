/**
 * Shared by the kill and shard tests: a synthetic registry tree (scripts/gen-synthetic), a config
 * pointing an import at it and at a test database, and `regdb database import` run as a real child
 * process whose exit status or killing signal is reported.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestDatabase } from '../helpers/db.js';
import { BIN, childResult, REPO_ROOT, runCli } from '../helpers/cli.js';
import { cliNodeFlags } from '../../scripts/lib/node-flags.js';
import { addCanary, DB_PASSWORD_CANARY } from '../helpers/canaries.js';
import { KILL_ENV } from '../helpers/import-kill-events.js';
import { dumpTables, type Dump } from '../helpers/golden.js';
import type { CorpusParams } from '../../scripts/lib/synthetic-plan.js';
import { writeCorpus, type CorpusSummary } from '../../scripts/lib/synthetic-writer.js';

export interface SyntheticTree {
  readonly root: string;
  readonly summary: CorpusSummary;
  remove(): void;
}

export function syntheticTree(params: CorpusParams): SyntheticTree {
  const root = mkdtempSync(join(tmpdir(), 'regdb-synthetic-'));
  const summary = writeCorpus(root, params);
  return { root, summary, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * Writes a config for `db` and the tree at `root` (or the given `storage:` section's lines); returns
 * its path (in `dir`).
 */
export function writeImportConfig(
  dir: string,
  db: TestDatabase,
  root: string,
  storage: readonly string[] = ['  filesystem:', `    rootdirectory: ${JSON.stringify(root)}`],
): string {
  const c = db.config;
  if (c.password !== undefined) addCanary(c.password);
  const lines = [
    'version: 0.1',
    'database:',
    `  host: ${JSON.stringify(c.host)}`,
    `  port: ${c.port}`,
    ...(c.user !== undefined ? [`  user: ${JSON.stringify(c.user)}`] : []),
    // A server that asks for no password (trust) never sees it: the canary stands in (canaries.ts).
    `  password: ${JSON.stringify(c.password ?? DB_PASSWORD_CANARY)}`,
    `  dbname: ${JSON.stringify(c.dbname ?? db.name)}`,
    `  sslmode: ${c.sslmode}`,
    'storage:',
    ...storage,
  ];
  const file = join(dir, `${db.name}.yml`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export interface ImportRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `regdb database import [args] config` with the built CLI (cli.ts), logs into `logDir`. */
export function runImportProcess(
  config: string,
  args: readonly string[],
  logDir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<ImportRun> {
  const cliArgs = ['database', 'import', '--log-directory', logDir, ...args, config];
  if (env[KILL_ENV] === undefined) return runCli(cliArgs, { env });
  // With a kill point, the built CLI runs behind the tests' entry that injects ImportEvents.
  const child = spawn(
    process.execPath,
    [
      ...cliNodeFlags(BIN),
      '--import',
      'tsx',
      join(REPO_ROOT, 'test', 'helpers', 'import-events-entry.ts'),
      ...cliArgs,
    ],
    { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return childResult(child);
}

/**
 * Every table the import writes, normalised (test/helpers/golden.ts). On its own connection with JIT
 * off: the dump's correlated subqueries over 64 partitions of unanalysed tables make PostgreSQL JIT-
 * compile hundreds of functions per query (minutes for a small tree instead of a second).
 */
export async function importDump(db: TestDatabase): Promise<Dump> {
  const pool = new pg.Pool({ connectionString: db.url, options: '-c jit=off', max: 1 });
  pool.on('error', () => undefined);
  try {
    return await dumpTables(pool);
  } finally {
    await pool.end();
  }
}

export function describeRun(r: ImportRun): string {
  return `exit ${r.code ?? r.signal}\n${r.stderr.slice(-2000)}\n${r.stdout.slice(-2000)}`;
}
