/**
 * Runs a child process and measures it: wall time and peak resident set size (VmHWM). With GNU time
 * installed the peak comes from the kernel's rusage of the exited child (exact); otherwise
 * /proc/<pid>/status is polled, which can miss growth in the last poll interval.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measured {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly seconds: number;
  /** Peak RSS in bytes. */
  readonly peakRss: number;
  readonly peakRssSource: 'rusage' | 'proc-poll';
  /** User and system CPU seconds of the child (GNU time), undefined without GNU time. */
  readonly cpuSeconds?: { readonly user: number; readonly system: number };
  readonly stdout: string;
  readonly stderr: string;
}

const GNU_TIME = '/usr/bin/time';

function hasGnuTime(): boolean {
  if (!existsSync(GNU_TIME)) return false;
  const r = spawnSync(GNU_TIME, ['-f', '%M', '-o', '/dev/null', 'true']);
  return r.status === 0;
}

function vmHwm(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function runMeasured(
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; echoStderr?: boolean } = {},
): Promise<Measured> {
  const gnu = hasGnuTime();
  const tmp = mkdtempSync(join(tmpdir(), 'regdb-bench-time-'));
  const timeFile = join(tmp, 'rss');
  const [cmd, argv] = gnu
    ? [GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, command, ...args]]
    : [command, [...args]];
  const started = process.hrtime.bigint();
  const child = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (opts.echoStderr === true) process.stderr.write(d);
  });
  let polled = 0;
  const poll = gnu
    ? undefined
    : setInterval(() => {
        if (child.pid !== undefined) polled = Math.max(polled, vmHwm(child.pid) ?? 0);
      }, 100);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve({ code: c, signal: s }));
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (poll) clearInterval(poll);
  let peakRss = polled;
  let cpuSeconds: Measured['cpuSeconds'];
  if (gnu) {
    // GNU time prints "Command exited with non-zero status N" before the figures on failures.
    const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
    const [rss, user, system] = (lines[lines.length - 1] ?? '').split(' ').map(Number);
    peakRss = (rss ?? NaN) * 1024;
    cpuSeconds = { user: user ?? NaN, system: system ?? NaN };
  }
  rmSync(tmp, { recursive: true, force: true });
  return {
    code,
    signal,
    seconds,
    peakRss,
    peakRssSource: gnu ? 'rusage' : 'proc-poll',
    ...(cpuSeconds ? { cpuSeconds } : {}),
    stdout,
    stderr,
  };
}

/** Runs a shell command line and returns its wall time; throws on a non-zero exit. */
export function timeShell(script: string, cwd: string): number {
  const started = process.hrtime.bigint();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`"${script}" failed in ${cwd}: ${r.stderr.toString().trim()}`);
  return seconds;
}
