/**
 * The typed, validated configuration every command works from (spec §4.5): the registry's own
 * config.yml (`version: 0.1`, sections `database:` and `storage:`) with REGISTRY_* overrides applied.
 */
import type { LogConfig } from './log.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export interface PoolConfig {
  /** database.pool.maxopen; 0 or absent means the regdb default. */
  readonly maxOpen?: number;
  readonly maxIdle?: number;
  /** milliseconds */
  readonly maxLifetimeMs?: number;
  /** milliseconds */
  readonly maxIdleTimeMs?: number;
}

/** A configured (external) PostgreSQL server. */
export interface ServerDatabaseConfig {
  readonly kind: 'server';
  readonly host: string;
  readonly port: number;
  readonly user?: string;
  /** Never logged, never printed. */
  readonly password?: string;
  readonly dbname?: string;
  readonly sslmode: SslMode;
  readonly sslcert?: string;
  readonly sslkey?: string;
  readonly sslrootcert?: string;
  /** milliseconds; 0 = no timeout */
  readonly connectTimeoutMs: number;
  /** database.primary: host used by migrate and background-migrate commands (spec §4.1). */
  readonly primary?: string;
  readonly pool: PoolConfig;
}

/** No database section (or database.embedded: true): regdb runs its own PostgreSQL. */
export interface EmbeddedDatabaseConfig {
  readonly kind: 'embedded';
  /** Absolute path of the data directory (default `.regdb/postgres` beside the config file). */
  readonly dataDir: string;
  /** True when dataDir is the default (no database.embeddeddir): it may move (db/embedded.ts). */
  readonly dataDirIsDefault?: boolean;
  /** 0: pick a free port at start (the last one used is preferred). */
  readonly port: number;
  readonly user: string;
  /** '': generated on first start and kept in the data directory. Never logged, never printed. */
  readonly password: string;
  readonly dbname: string;
  readonly pool: PoolConfig;
}

export type DatabaseConfig = ServerDatabaseConfig | EmbeddedDatabaseConfig;

/** Storage driver parameters as given (keys lower-cased), after env overrides. */
export type StorageParameters = Readonly<Record<string, unknown>>;

export interface StorageConfig {
  /** Normalised driver kind. */
  readonly driver: 'filesystem' | 's3' | 'gcs';
  /** The key used in config.yml: filesystem, s3, s3aws, s3_v2, gcs. */
  readonly key: string;
  /** Parameters with lower-cased keys; relative filesystem rootdirectory already resolved. */
  readonly parameters: StorageParameters;
}

export interface Config {
  /** Absolute path of the config file. */
  readonly path: string;
  /** Folder of the config file: relative paths resolve against it. */
  readonly dir: string;
  readonly database: DatabaseConfig;
  /** The `log:` section's level and formatter (the CLI's flags override them). */
  readonly log: LogConfig;
  /** Absent when the config has no storage section (migrate and background-migrate do not need it). */
  readonly storage?: StorageConfig;
}
