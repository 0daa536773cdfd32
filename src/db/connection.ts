/**
 * The one place that turns connection settings (host, port, user, password, database, TLS, timeouts,
 * application_name) into pg options, for the pool and for every single client regdb opens beside it
 * (the import guard's lock session, the background migrations' batch session).
 *
 * A pool's own `options` must never be copied into a client: pg-pool keeps the password as a
 * non-enumerable property, so `{ ...pool.options }` drops it and SCRAM authentication fails with
 * "client password must be a string" (issue 11). Instead, each pool regdb builds remembers the settings
 * it was built from, and `openClient(pool)` builds a client from those.
 */
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { silentLogger, type Logger } from '../log.js';

export const APPLICATION_NAME = 'regdb';

/** Everything a connection needs. `password` is never logged or printed. */
export interface ConnectionSettings {
  readonly host: string;
  readonly port: number;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** `false` = plain TCP. */
  readonly ssl: false | ConnectionOptions;
  /** 0 or absent: no timeout. */
  readonly connectTimeoutMs?: number;
  /** Extra server settings for every session, e.g. `-c jit=off` (libpq's `options`). */
  readonly options?: string;
}

/** Pool sizing and recycling (pg-pool's names). */
export interface PoolSizing {
  readonly max: number;
  readonly idleTimeoutMillis?: number;
  readonly maxLifetimeSeconds?: number;
}

/** The pg client options of `s`; `applicationName` tells sessions apart in pg_stat_activity. */
export function clientConfig(s: ConnectionSettings, applicationName = APPLICATION_NAME): pg.ClientConfig {
  return {
    host: s.host,
    port: s.port,
    ...(s.user !== undefined ? { user: s.user } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.database !== undefined ? { database: s.database } : {}),
    ssl: s.ssl,
    ...(s.connectTimeoutMs !== undefined && s.connectTimeoutMs > 0
      ? { connectionTimeoutMillis: s.connectTimeoutMs }
      : {}),
    ...(s.options !== undefined ? { options: s.options } : {}),
    application_name: applicationName,
  };
}

/** Where a connection goes, for messages: user, host:port and database, never the password. */
export function describeTarget(s: ConnectionSettings): string {
  const who = [
    s.database !== undefined ? `database "${s.database}"` : undefined,
    s.user !== undefined ? `user "${s.user}"` : undefined,
  ].filter((x) => x !== undefined);
  return `${s.host}:${s.port}${who.length > 0 ? ` (${who.join(', ')})` : ''}`;
}

const settingsOfPool = new WeakMap<pg.Pool, ConnectionSettings>();

/** SQLSTATE and message of a connection error, without the client object pg attaches to it. */
function briefError(err: Error): { code: unknown; message: string } {
  return { code: (err as { code?: unknown }).code, message: err.message };
}

/** A pool over `s`, with the error listeners every regdb pool needs. */
export function createPool(
  s: ConnectionSettings,
  sizing: PoolSizing,
  logger: Logger = silentLogger,
): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(s), ...sizing });
  settingsOfPool.set(pool, s);
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

/** The settings `pool` was built from (pools built by createPool only). */
export function poolSettings(pool: pg.Pool): ConnectionSettings {
  const s = settingsOfPool.get(pool);
  if (s === undefined) {
    throw new Error(
      'this PostgreSQL pool was not built by regdb (createPool): its connection settings are unknown',
    );
  }
  return s;
}

/** A new, not yet connected client to the same database as `pool`, with the same credentials. */
export function newClient(pool: pg.Pool, applicationName: string): pg.Client {
  return new pg.Client(clientConfig(poolSettings(pool), applicationName));
}
