/**
 * What global-setup.ts hands to the integration test workers (vitest provide/inject): the chosen
 * PostgreSQL server and the migrated template database to clone.
 */
import type { ServerDatabaseConfig } from '../../src/config/types.js';

export interface TestServerInfo {
  /**
   * postgresql:// URL of a role that may create databases, on its maintenance database: in the test
   * workers the SCRAM role of global-setup.ts (a password it must send), except for a server given by URL.
   */
  adminUrl: string;
  /** Migrated template database: CREATE DATABASE x TEMPLATE <template>. */
  template: string;
  /** Prefix of every database this run creates (the teardown drops leftovers). */
  prefix: string;
  /** Where the server came from. */
  source: 'url' | 'local' | 'embedded' | 'container';
}

declare module 'vitest' {
  export interface ProvidedContext {
    regdbServer: TestServerInfo;
  }
}

/** A server config for `dbname` on the server of `url` (sslmode from the URL, else disable). */
export function configFromUrl(url: string, dbname?: string): ServerDatabaseConfig {
  const u = new URL(url);
  const sslmode = (u.searchParams.get('sslmode') ?? 'disable') as ServerDatabaseConfig['sslmode'];
  const user = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  return {
    kind: 'server',
    host: u.hostname,
    port: u.port === '' ? 5432 : Number(u.port),
    ...(user !== '' ? { user } : {}),
    ...(password !== '' ? { password } : {}),
    dbname: dbname ?? (decodeURIComponent(u.pathname.slice(1)) || 'postgres'),
    sslmode,
    connectTimeoutMs: 10_000,
    pool: {},
  };
}

/** The same server's URL for another database. */
export function urlFor(url: string, dbname: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(dbname)}`;
  return u.toString();
}
