/**
 * Runs the shipped regdb CLI as a child process, as an installed `regdb` runs: the npm bin
 * `dist/src/cli/main.js` (built by `npm ci`; the integration global setup rebuilds a stale dist,
 * build.ts) under this node with the node flags of its shebang line. Real exit status, signal,
 * stdout and stderr.
 *
 * Every run is scanned for the secret canaries (canaries.ts): stdout, stderr, the files named by
 * `--report` and everything under `--log-directory`. A canary found fails the run's promise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliNodeFlags } from '../../scripts/lib/node-flags.js';
import { findCanaries, scanFiles } from './canaries.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The npm bin (package.json "bin"). */
export const BIN = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to this process's environment; a key set to undefined is removed. */
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
  /** More files or folders to scan for canaries after the run. */
  scan?: readonly string[];
  /** Run this executable (e.g. an installed `node_modules/.bin/regdb`, by its shebang) instead. */
  bin?: string;
}

/** `[node, ...shebang flags, dist/src/cli/main.js]`: what `regdb` starts. */
export function regdbCommand(): { command: string; args: string[] } {
  return { command: process.execPath, args: [...cliNodeFlags(BIN), BIN] };
}

/** Import log files of a log folder (`<time>-registry-import.log`); tests keep configs there too. */
function importLogs(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.endsWith('registry-import.log'))
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** Files the CLI writes that its arguments name: `--report FILE`, the logs of `--log-directory DIR`. */
function writtenPaths(args: readonly string[]): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    const next = args[i + 1];
    if (a === '--report' && next !== undefined) out.push(next);
    else if (a === '--log-directory' && next !== undefined) out.push(...importLogs(next));
    else if (a.startsWith('--report=')) out.push(a.slice('--report='.length));
    else if (a.startsWith('--log-directory=')) out.push(...importLogs(a.slice('--log-directory='.length)));
  });
  return out;
}

/** Throws when a canary is in the result or in the files the run wrote. */
export function assertNoCanaries(r: CliResult, args: readonly string[], scan: readonly string[] = []): void {
  const found = [
    ...findCanaries(r.stdout, 'stdout'),
    ...findCanaries(r.stderr, 'stderr'),
    ...scanFiles([...writtenPaths(args), ...scan]),
  ];
  if (found.length > 0) {
    throw new Error(`secret canary leaked by \`regdb ${args.join(' ')}\`: ${found.join('; ')}`);
  }
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Resolves when the process ended (and its output was scanned for canaries). */
  readonly done: Promise<CliResult>;
}

/**
 * What a child process started with stdout and stderr piped printed, and how it ended (exit status or
 * signal), once it closed. `onStderr` sees all of stderr so far each time more arrives.
 */
export function childResult(child: ChildProcess, onStderr?: (stderr: string) => void): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
      onStderr?.(stderr);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Starts `regdb args`; `done` settles when it exits, killed or not. */
export function startCli(args: readonly string[], opts: CliOptions = {}): RunningCli {
  const { command, args: base } = opts.bin !== undefined ? { command: opts.bin, args: [] } : regdbCommand();
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const child = spawn(command, [...base, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = childResult(child).then((r) => {
    assertNoCanaries(r, args, opts.scan);
    return r;
  });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(opts.input ?? '');
  return { child, done };
}

export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}
