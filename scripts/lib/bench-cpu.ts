/**
 * Where this machine's CPU went while the import ran: all cores busy (/proc/stat), the import
 * processes (their rusage, from the caller), the object store's daemons (/proc/<pid>/stat), this
 * bench process (the proxy, and the GCS test server when it serves), and the rest (PostgreSQL, the
 * kernel, anything else running). On a small machine that hosts the store and the database beside
 * the importer, the import is bound by this sum, not by the importer alone.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuMark {
  readonly busyMs: number;
  readonly totalMs: number;
  readonly bench: NodeJS.CpuUsage;
  /** CPU seconds of the store's daemons, by pid (those readable now). */
  readonly store: ReadonlyMap<number, number>;
}

export interface MachineCpu {
  readonly cores: number;
  /** Seconds of all cores together (cores x wall) and how many of them were busy. */
  readonly availableSeconds: number;
  readonly busySeconds: number;
  readonly storeSeconds?: number;
  readonly benchSeconds: number;
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times (sysconf CLK_TCK; 100 on Linux when getconf is missing). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    clockTicks = r.status === 0 && Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** User + system CPU seconds of a process from /proc/<pid>/stat; undefined when it cannot be read. */
export function procCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / ticksPerSecond() : undefined;
}

/**
 * Busy and total milliseconds of all cores since boot. From /proc/stat's first line, which counts
 * what os.cpus() leaves out (softirq, where the kernel does the loopback network's work, steal and
 * iowait); from os.cpus() where there is no /proc.
 */
function coreMs(): { busyMs: number; totalMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
    if (Number.isFinite(busy) && Number.isFinite(idle! + iowait!)) {
      const ms = 1000 / ticksPerSecond();
      return { busyMs: busy * ms, totalMs: (busy + idle! + iowait!) * ms };
    }
  } catch {
    // no /proc: os.cpus() below
  }
  let busyMs = 0;
  let totalMs = 0;
  for (const { times: t } of cpus()) {
    const busy = t.user + t.nice + t.sys + t.irq;
    busyMs += busy;
    totalMs += busy + t.idle;
  }
  return { busyMs, totalMs };
}

export function markCpu(storePids: readonly number[]): CpuMark {
  const { busyMs, totalMs } = coreMs();
  const store = new Map<number, number>();
  for (const pid of storePids) {
    const s = procCpuSeconds(pid);
    if (s !== undefined) store.set(pid, s);
  }
  return { busyMs, totalMs, bench: process.cpuUsage(), store };
}

/** The machine's CPU between two marks; the store's seconds only when `storePids` were given. */
export function machineCpuSince(before: CpuMark, storePids: readonly number[]): MachineCpu {
  const after = markCpu(storePids);
  const bench = process.cpuUsage(before.bench);
  let store: number | undefined;
  if (storePids.length > 0) {
    store = 0;
    for (const [pid, s] of after.store) store += s - (before.store.get(pid) ?? s);
  }
  return {
    cores: cpus().length,
    availableSeconds: (after.totalMs - before.totalMs) / 1000,
    busySeconds: (after.busyMs - before.busyMs) / 1000,
    ...(store !== undefined ? { storeSeconds: store } : {}),
    benchSeconds: (bench.user + bench.system) / 1e6,
  };
}
