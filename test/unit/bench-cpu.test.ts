import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { machineCpuSince, markCpu, procCpuSeconds } from '../../scripts/lib/bench-cpu.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A process that spins for `ms` of CPU, prints its own CPU seconds (process.cpuUsage) and then
 * sleeps, so /proc still has it when it is read. Started through a symlink whose name holds a space
 * and parentheses: /proc/<pid>/stat shows that name in its second field.
 */
async function spinner(ms: number): Promise<{ pid: number; ownSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'regdb-cpu-'));
  dirs.push(dir);
  const exe = join(dir, 'a) b (c');
  symlinkSync(process.execPath, exe);
  const code = `const t=Date.now();while(Date.now()-t<${ms});const u=process.cpuUsage();console.log((u.user+u.system)/1e6);setTimeout(()=>{},60000);`;
  const child = spawn(exe, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('error', reject);
  });
  return { pid: child.pid!, ownSeconds: Number(line) };
}

describe('bench CPU accounting', () => {
  it("reads a process's CPU seconds from /proc, whatever its command name", async () => {
    const { pid, ownSeconds } = await spinner(400);
    const seen = procCpuSeconds(pid);
    expect(ownSeconds).toBeGreaterThan(0.3);
    // /proc counts in clock ticks (10 ms); the process printed its figure just before it was read.
    expect(seen).toBeDefined();
    expect(Math.abs(seen! - ownSeconds)).toBeLessThan(0.05);
  });

  it('gives undefined for a process that does not exist', () => {
    expect(procCpuSeconds(2 ** 22 + 12345)).toBeUndefined();
  });

  it("counts the store's daemons and the machine's busy time between two marks", async () => {
    const first = await spinner(10);
    const before = markCpu([first.pid]);
    const started = process.cpuUsage();
    const t = Date.now();
    while (Date.now() - t < 300); // this process (the bench's own share) spins too
    const own = process.cpuUsage(started);
    const second = await spinner(300);
    const m = machineCpuSince(before, [first.pid]);
    // The first process slept between the marks; the second was not a store daemon.
    expect(m.storeSeconds).toBeLessThan(0.05);
    expect(m.benchSeconds).toBeGreaterThanOrEqual((own.user + own.system) / 1e6 - 0.01);
    // Busy time covers both spins (and whatever else ran), and cannot exceed what the cores had.
    expect(m.busySeconds).toBeGreaterThan(0.25 + second.ownSeconds - 0.05);
    expect(m.busySeconds).toBeLessThanOrEqual(m.availableSeconds);
    expect(m.cores).toBeGreaterThan(0);
  });
});
