/**
 * TLS per libpq `sslmode` (spec §4.1: the DSN carries sslmode, sslcert, sslkey, sslrootcert).
 * node-postgres only knows "TLS or not", so the libpq fallbacks are done here:
 * - `prefer`: ask the server (SSLRequest) and use TLS when it says yes, plain otherwise;
 * - `allow`: plain first, TLS when the server refuses the plain connection (see open.ts).
 * `require` verifies nothing unless a root certificate is given, then it behaves as `verify-ca`
 * (libpq does the same). `verify-full` also checks the host name.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';
import type { ServerDatabaseConfig } from '../config/types.js';

/** What one connection attempt uses: `false` = plain TCP. */
export type SslSetting = false | ConnectionOptions;

/** SSLRequest: int32 length 8, int32 code 80877103 (PostgreSQL protocol, "SSL Session Encryption"). */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

function readPem(key: 'sslcert' | 'sslkey' | 'sslrootcert', file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError(`database.${key}: cannot read ${file} (${code})`, { cause: err });
  }
}

/** The TLS options for a TLS connection under this config's sslmode (cert files read here). */
export function tlsOptions(config: ServerDatabaseConfig): ConnectionOptions {
  const opts: ConnectionOptions = {};
  if (config.sslcert !== undefined) opts.cert = readPem('sslcert', config.sslcert);
  if (config.sslkey !== undefined) opts.key = readPem('sslkey', config.sslkey);
  const ca = config.sslrootcert !== undefined ? readPem('sslrootcert', config.sslrootcert) : undefined;
  if (ca !== undefined) opts.ca = ca;
  const mode = config.sslmode === 'require' && ca !== undefined ? 'verify-ca' : config.sslmode;
  switch (mode) {
    case 'verify-full':
      opts.rejectUnauthorized = true;
      break;
    case 'verify-ca':
      // Chain must verify; the host name is not checked.
      opts.rejectUnauthorized = true;
      opts.checkServerIdentity = () => undefined;
      break;
    default:
      opts.rejectUnauthorized = false;
  }
  return opts;
}

/** Asks the server whether it accepts TLS (one SSLRequest round trip). */
export function serverSupportsTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer =
      timeoutMs > 0 ? setTimeout(() => socket.destroy(new Error('timeout')), timeoutMs) : undefined;
    const done = (err: Error | undefined, answer?: boolean) => {
      if (timer !== undefined) clearTimeout(timer);
      socket.destroy();
      if (err !== undefined) reject(err);
      else resolve(answer === true);
    };
    socket.once('connect', () => socket.write(SSL_REQUEST));
    socket.once('data', (buf: Buffer) => {
      // 'S': willing to do TLS; 'N': not. Anything else is not a PostgreSQL server.
      if (buf[0] === 0x53) done(undefined, true);
      else if (buf[0] === 0x4e) done(undefined, false);
      else done(new Error(`${host}:${port} did not answer like a PostgreSQL server`));
    });
    socket.once('error', (err) => done(err));
    socket.once('close', () => done(new Error(`${host}:${port} closed the connection`)));
  });
}

/**
 * The SSL settings to try, in order, for this config. `allow` gives [plain, TLS]: open.ts moves on
 * to TLS only when the server rejects the plain connection.
 */
export async function sslAttempts(config: ServerDatabaseConfig, host: string): Promise<SslSetting[]> {
  switch (config.sslmode) {
    case 'disable':
      return [false];
    case 'allow':
      return [false, tlsOptions(config)];
    case 'prefer': {
      const tls = tlsOptions(config);
      const yes = await serverSupportsTls(host, config.port, config.connectTimeoutMs);
      return yes ? [tls] : [false];
    }
    default:
      return [tlsOptions(config)];
  }
}
