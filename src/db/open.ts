/**
 * Opening the metadata database: a pg Pool from the config (spec §4.1), TLS per sslmode (tls.ts),
 * the embedded server when the config asks for it (embedded.ts), and the PostgreSQL >= 15 check of
 * the migrate and background-migrate commands.
 */
import pg from 'pg';
import type { DatabaseConfig, PoolConfig, ServerDatabaseConfig } from '../config/types.js';
import { silentLogger, type Logger } from '../log.js';
import { startEmbedded, type EmbeddedServer } from './embedded.js';
import { sslAttempts, type SslSetting } from './tls.js';

/** SQLSTATE 28000 invalid_authorization_specification: pg_hba.conf rejected the connection. */
const INVALID_AUTHORIZATION = '28000';

export const MIN_SERVER_VERSION_NUM = 150000;
export const VERSION_TOO_LOW_MESSAGE =
  'the database version is lower than the minimal supported version 15.0';

const DEFAULT_POOL_MAX = 10;

export interface Database {
  pool: pg.Pool;
  close(): Promise<void>;
  embedded: boolean;
  /** postgresql:// URL of the embedded server, without the password (undefined for a configured server). */
  url?: string;
  /** Where the generated password of the embedded server is kept. */
  passwordFile?: string;
}

export interface OpenOptions {
  logger?: Logger;
  /** Enforce PostgreSQL >= 15 (migrate and background-migrate commands, spec §3.5). */
  checkVersion?: boolean;
  /** Connect to `database.primary` when set (migrate and background-migrate commands, spec §4.1). */
  usePrimary?: boolean;
}

/** A readable one-line reason; Node's AggregateError (IPv4 + IPv6 attempts) has an empty message. */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') {
    return err.errors.map((e) => describeError(e)).join('; ');
  }
  if (err instanceof Error)
    return err.message !== '' ? err.message : ((err as { code?: string }).code ?? err.name);
  return String(err);
}

/** pool.maxopen, maxidletime and maxlifetime map onto pg-pool; pg-pool has no cap on idle clients (maxidle). */
function poolSettings(p: PoolConfig): pg.PoolConfig {
  const out: pg.PoolConfig = { max: p.maxOpen !== undefined && p.maxOpen > 0 ? p.maxOpen : DEFAULT_POOL_MAX };
  if (p.maxIdleTimeMs !== undefined && p.maxIdleTimeMs > 0) out.idleTimeoutMillis = p.maxIdleTimeMs;
  if (p.maxLifetimeMs !== undefined && p.maxLifetimeMs > 0) {
    out.maxLifetimeSeconds = Math.max(1, Math.ceil(p.maxLifetimeMs / 1000));
  }
  return out;
}

/** SQLSTATE and message of a connection error, without the client object pg attaches to it. */
function briefError(err: Error): { code: unknown; message: string } {
  return { code: (err as { code?: unknown }).code, message: err.message };
}

function makePool(settings: pg.PoolConfig, logger: Logger): pg.Pool {
  const pool = new pg.Pool({ application_name: 'regdb', ...settings });
  // An idle client losing its connection must not crash the process (STYLE.md); the pool drops it and
  // opens a new one on demand. The error carries the whole client, so only code and message are logged.
  pool.on('error', (err) => {
    // pool.end() returns before the idle connections have closed: one the server shuts down meanwhile
    // (the embedded server stopping right after) reports 57P01 here, which is no failure of ours.
    if (pool.ending) logger.debug({ err: briefError(err) }, 'a closing PostgreSQL connection failed');
    else logger.warn({ err: briefError(err) }, 'an idle PostgreSQL connection failed');
  });
  // pg-pool listens for errors only on idle clients: a checked-out client whose connection dies
  // (pg_terminate_backend, a network cut) emits an unhandled 'error' that kills the process. The query
  // in progress rejects with the error anyway, and the client is dropped when it is released.
  pool.on('connect', (client) =>
    client.on('error', (err) =>
      logger.debug({ err: briefError(err) }, 'a PostgreSQL connection in use failed'),
    ),
  );
  return pool;
}

/** Throws the spec's error when `server_version_num` is below 150000 (spec §3.5). */
export function assertSupportedVersion(serverVersionNum: string | undefined): number {
  const version = Number(serverVersionNum);
  if (!(version >= MIN_SERVER_VERSION_NUM)) throw new Error(VERSION_TOO_LOW_MESSAGE);
  return version;
}

export async function checkServerVersion(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  return assertSupportedVersion(rows[0]?.v);
}

/** Tries one connection so that a bad host, password or TLS setting fails here, with a clear message. */
async function probe(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  client.release();
}

async function openServer(config: ServerDatabaseConfig, opts: OpenOptions, logger: Logger): Promise<pg.Pool> {
  const host = opts.usePrimary && config.primary !== undefined ? config.primary : config.host;
  const where = `${host}:${config.port}`;
  const base: pg.PoolConfig = {
    host,
    port: config.port,
    ...poolSettings(config.pool),
    ...(config.user !== undefined ? { user: config.user } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(config.dbname !== undefined ? { database: config.dbname } : {}),
    ...(config.connectTimeoutMs > 0 ? { connectionTimeoutMillis: config.connectTimeoutMs } : {}),
  };
  let attempts: SslSetting[];
  try {
    attempts = await sslAttempts(config, host);
  } catch (err) {
    throw new Error(`cannot connect to PostgreSQL at ${where}: ${describeError(err)}`, { cause: err });
  }
  let lastErr: unknown;
  for (const [i, ssl] of attempts.entries()) {
    const pool = makePool({ ...base, ssl }, logger);
    try {
      await probe(pool);
      logger.debug({ host, port: config.port, tls: ssl !== false }, 'connected to PostgreSQL');
      return pool;
    } catch (err) {
      await pool.end().catch(() => undefined);
      lastErr = err;
      const more = i < attempts.length - 1;
      // sslmode=allow: a server that refuses plain connections gets a TLS attempt (libpq does the same).
      if (more && (err as { code?: string }).code === INVALID_AUTHORIZATION) continue;
      break;
    }
  }
  const who = [
    config.dbname !== undefined ? `database "${config.dbname}"` : undefined,
    config.user !== undefined ? `user "${config.user}"` : undefined,
  ].filter((x) => x !== undefined);
  throw new Error(
    `cannot connect to PostgreSQL at ${where}${who.length > 0 ? ` (${who.join(', ')})` : ''}: ${describeError(lastErr)}`,
    { cause: lastErr },
  );
}

/** Opens the configured database; for `kind: 'embedded'` starts the embedded server first. */
export async function openDatabase(config: DatabaseConfig, opts: OpenOptions = {}): Promise<Database> {
  const logger = opts.logger ?? silentLogger;
  let pool: pg.Pool;
  let server: EmbeddedServer | undefined;
  if (config.kind === 'embedded') {
    server = await startEmbedded(config, { logger });
    pool = makePool(
      {
        host: server.host,
        port: server.port,
        user: server.user,
        password: server.password,
        database: server.dbname,
        ssl: false,
        ...poolSettings(config.pool),
      },
      logger,
    );
  } else {
    pool = await openServer(config, opts, logger);
  }
  const close = async () => {
    await pool.end().catch((err: unknown) => logger.warn({ err }, 'closing the PostgreSQL pool failed'));
    if (server !== undefined) await server.stop();
  };
  if (opts.checkVersion) {
    try {
      await checkServerVersion(pool);
    } catch (err) {
      await close();
      throw err;
    }
  }
  return {
    pool,
    close,
    embedded: server !== undefined,
    ...(server !== undefined ? { url: server.url } : {}),
    ...(server?.passwordFile !== undefined ? { passwordFile: server.passwordFile } : {}),
  };
}
