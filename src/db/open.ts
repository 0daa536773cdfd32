/**
 * Opening the metadata database: a pg Pool from the config (spec §4.1), TLS per sslmode (tls.ts),
 * the embedded server when the config asks for it (embedded.ts), and the PostgreSQL >= 15 check of
 * the migrate and background-migrate commands.
 */
import pg from 'pg';
import type { DatabaseConfig, PoolConfig, ServerDatabaseConfig } from '../config/types.js';
import { silentLogger, type Logger } from '../log.js';
import { createPool, describeTarget, type ConnectionSettings, type PoolSizing } from './connection.js';
import { embeddedSettings, startEmbedded, type EmbeddedServer } from './embedded.js';
import { SqlState, sqlState } from './sqlstate.js';
import { sslAttempts, type SslSetting } from './tls.js';

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
  /** The embedded server's data directory. */
  dataDir?: string;
  /** Set when the default data directory moved: the folder the postgres user cannot enter. */
  closedFolder?: string;
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
function poolSizing(p: PoolConfig): PoolSizing {
  return {
    max: p.maxOpen !== undefined && p.maxOpen > 0 ? p.maxOpen : DEFAULT_POOL_MAX,
    ...(p.maxIdleTimeMs !== undefined && p.maxIdleTimeMs > 0 ? { idleTimeoutMillis: p.maxIdleTimeMs } : {}),
    ...(p.maxLifetimeMs !== undefined && p.maxLifetimeMs > 0
      ? { maxLifetimeSeconds: Math.max(1, Math.ceil(p.maxLifetimeMs / 1000)) }
      : {}),
  };
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
  const base: Omit<ConnectionSettings, 'ssl'> = {
    host,
    port: config.port,
    ...(config.user !== undefined ? { user: config.user } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(config.dbname !== undefined ? { database: config.dbname } : {}),
    connectTimeoutMs: config.connectTimeoutMs,
  };
  let attempts: SslSetting[];
  try {
    attempts = await sslAttempts(config, host);
  } catch (err) {
    throw new Error(`cannot connect to PostgreSQL at ${host}:${config.port}: ${describeError(err)}`, {
      cause: err,
    });
  }
  let lastErr: unknown;
  for (const [i, ssl] of attempts.entries()) {
    const pool = createPool({ ...base, ssl }, poolSizing(config.pool), logger);
    try {
      await probe(pool);
      logger.debug({ host, port: config.port, tls: ssl !== false }, 'connected to PostgreSQL');
      return pool;
    } catch (err) {
      await pool.end().catch(() => undefined);
      lastErr = err;
      const more = i < attempts.length - 1;
      // sslmode=allow: a server that refuses plain connections gets a TLS attempt (libpq does the same).
      if (more && sqlState(err) === SqlState.invalidAuthorization) continue;
      break;
    }
  }
  throw new Error(
    `cannot connect to PostgreSQL at ${describeTarget({ ...base, ssl: false })}: ${describeError(lastErr)}`,
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
    pool = createPool(embeddedSettings(server), poolSizing(config.pool), logger);
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
    ...(server !== undefined ? { dataDir: server.dataDir } : {}),
    ...(server?.closedFolder !== undefined ? { closedFolder: server.closedFolder } : {}),
  };
}
