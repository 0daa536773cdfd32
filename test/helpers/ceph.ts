/**
 * A one-node Ceph cluster serving S3 (radosgw) for tests and benchmarks: one monitor, one OSD on
 * memstore (objects in RAM), radosgw with the beast frontend, all on 127.0.0.1 under one temporary
 * directory, on ports found free at start. Settings and why each is needed:
 * /work/shared/research/ceph-rgw-facts.md (no cephx, crc messenger mode, fast paxos, one replica,
 * tcp_nodelay). Needs Debian's ceph-mon, ceph-osd, radosgw and ceph-common.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The test user's keys. The secret differs from the access key: tests use it as a canary in logs. */
export const CEPH_ACCESS_KEY = 'REGDBTESTACCESS0001';
export const CEPH_SECRET_KEY = 'regdb-test-secret-7Qv2kX9pLm4Zt8Wn';

export interface CephCluster {
  /** http://127.0.0.1:<port> of radosgw */
  readonly endpoint: string;
  readonly dir: string;
  /** Process ids of the daemons still running (monitor, OSD, radosgw). */
  pids(): number[];
  stop(): Promise<void>;
}

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool'];

/** Missing binaries, by name (empty when Ceph is installed). */
export function missingCephBinaries(): string[] {
  return BINARIES.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A run of `count` consecutive ports that are free now (the OSD binds inside it). */
async function freeRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const start = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = start; p < start + count && ok; p++) {
      ok = await new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once('error', () => resolve(false));
        s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
      });
    }
    if (ok) return start;
  }
  throw new Error('ceph: found no free range of ports for the OSD');
}

function run(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    throw new Error(`ceph: ${what} failed (${cmd} exited ${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await sleep(100);
  }
  throw new Error(`ceph: timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Starts a fresh cluster; `stop()` ends its daemons (by pid) and removes the directory. */
export async function startCephCluster(): Promise<CephCluster> {
  const missing = missingCephBinaries();
  if (missing.length > 0) {
    throw new Error(
      `ceph: ${missing.join(', ')} not found; install Debian's packages: apt-get install -y ` +
        '--no-install-recommends ceph-mon ceph-osd radosgw ceph-common',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'regdb-ceph-'));
  const monV1 = await freePort();
  const monV2 = await freePort();
  const rgwPort = await freePort();
  const osdPorts = await freeRange(8);
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  for (const d of ['mon/ceph-a', 'osd/ceph-0', 'run', 'log', 'rgw'])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(
    conf,
    [
      '[global]',
      `fsid = ${fsid}`,
      `mon host = [v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]`,
      'public addr = 127.0.0.1',
      'cluster addr = 127.0.0.1',
      'ms bind ipv6 = false',
      `ms bind port min = ${osdPorts}`,
      `ms bind port max = ${osdPorts + 7}`,
      'auth cluster required = none',
      'auth service required = none',
      'auth client required = none',
      'ms mon client mode = crc',
      'ms client mode = crc',
      'ms cluster mode = crc',
      'ms service mode = crc',
      `run dir = ${dir}/run`,
      `log file = ${dir}/log/$name.log`,
      `admin socket = ${dir}/run/$name.asok`,
      `pid file = ${dir}/run/$name.pid`,
      'osd pool default size = 1',
      'osd pool default min size = 1',
      'osd pool default pg num = 8',
      'osd pool default pgp num = 8',
      'osd pool default pg autoscale mode = off',
      'osd crush chooseleaf type = 0',
      'mon allow pool size one = true',
      'mon warn on pool no redundancy = false',
      'mon max pg per osd = 1000',
      'mon data avail warn = 2',
      'mon data avail crit = 1',
      'paxos propose interval = 0.05',
      // Level 1 logs three lines per request to a file and level 5 keeps more in memory: with them,
      // radosgw spent 7.5 CPU s on the 6,290 requests of a 3,000-tag import, 5 s without, on the
      // two cores it shares with the importer. Errors (level 0) are still logged.
      'debug rgw = 0/0',
      'debug ms = 0/0',
      'debug osd = 0/0',
      'debug objecter = 0/0',
      'debug rados = 0/0',
      // Two cores are shared by the monitor, the OSD, radosgw, PostgreSQL and the importer: thread
      // pools sized for a server only switch between threads here. With the defaults (radosgw 512
      // request threads, 3 messenger threads a daemon, the OSD 8 shards of 2 threads) radosgw spent
      // 7.0-7.8 CPU s on the 6,290 requests of a 3,000-tag import at 30 ms and the import took
      // 11.2-11.9 s; with these 3.5-3.9 CPU s and 8.2-8.6 s (three runs each, same rows).
      'ms async op threads = 1',
      '[mon]',
      `mon data = ${dir}/mon/ceph-$id`,
      '[osd]',
      `osd data = ${dir}/osd/ceph-$id`,
      'osd objectstore = memstore',
      'memstore device bytes = 2147483648',
      'osd fast shutdown = false',
      'osd op num shards = 2',
      'osd op num threads per shard = 1',
      '[client.rgw.a]',
      `rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1`,
      `rgw data = ${dir}/rgw`,
      'rgw thread pool size = 8',
      '',
    ].join('\n'),
  );
  const children: ChildProcess[] = [];
  const daemon = (cmd: string, args: string[]): void => {
    const child = spawn(cmd, [...args, '-f', '-c', conf], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    children.push(child);
  };
  const stop = async (): Promise<void> => {
    for (const child of children.reverse()) {
      if (child.pid === undefined || child.exitCode !== null) continue;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const keyring = join(dir, 'mon.keyring');
    run(
      'ceph-authtool',
      ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'],
      'keyring',
    );
    const monmap = join(dir, 'monmap');
    run(
      'monmaptool',
      ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]`, monmap],
      'monmap',
    );
    run('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring, '-c', conf], 'mon mkfs');
    daemon('ceph-mon', ['-i', 'a']);
    const osdUuid = randomUUID();
    run('ceph', ['-c', conf, '--connect-timeout', '30', 'osd', 'new', osdUuid, '0'], 'osd new');
    run('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', osdUuid, '-c', conf], 'osd mkfs');
    daemon('ceph-osd', ['-i', '0']);
    await until('osd.0 up', 60_000, () => {
      const r = spawnSync('ceph', ['-c', conf, 'osd', 'dump'], { encoding: 'utf8', timeout: 10_000 });
      return r.status === 0 && /^osd\.0 up/m.test(r.stdout);
    });
    daemon('radosgw', ['-n', 'client.rgw.a']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await until('radosgw to answer', 90_000, async () => {
      try {
        return (await fetch(`${endpoint}/`)).status === 200;
      } catch {
        return false;
      }
    });
    run(
      'radosgw-admin',
      [
        '-c',
        conf,
        '-n',
        'client.admin',
        'user',
        'create',
        '--uid=regdb-test',
        '--display-name=regdb test',
        `--access-key=${CEPH_ACCESS_KEY}`,
        `--secret-key=${CEPH_SECRET_KEY}`,
      ],
      'user create',
    );
    const pids = (): number[] =>
      children.flatMap((c) => (c.pid !== undefined && c.exitCode === null ? [c.pid] : []));
    return { endpoint, dir, pids, stop };
  } catch (err) {
    const logs = join(dir, 'log');
    const hint = existsSync(logs) ? ` (daemon logs in ${logs} were removed)` : '';
    await stop();
    throw new Error(`${(err as Error).message}${hint}`, { cause: err });
  }
}
