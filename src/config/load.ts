/**
 * config.yml + REGISTRY_* environment -> one typed, validated Config (spec §4.1, §4.5).
 * Layers: defaults (here) < config file < environment; flags are applied by the commands.
 * Every problem is a one-line ConfigError naming the file and the key; values of secret keys never
 * appear in messages.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import {
  databaseSchema,
  DATABASE_STRING_PATHS,
  SERVER_ONLY_KEYS,
  type DatabaseSection,
} from './database-schema.js';
import { applyEnvOverrides, type EnvOrigins } from './env.js';
import { parseConfigTrees, readConfigText, type Tree } from './source.js';
import { buildLog, LogProblem, type LogConfig } from './log.js';
import { buildStorage, StorageProblem } from './storage.js';
import type { Config, DatabaseConfig, PoolConfig } from './types.js';

/** Defaults, in one place. */
export const DEFAULTS = {
  host: 'localhost',
  port: 5432,
  sslmode: 'prefer',
  connectTimeoutMs: 0,
  embeddedDir: '.regdb/postgres',
  embeddedUser: 'regdb',
  embeddedDbname: 'registry',
} as const;

export const CONFIG_PATH_ENV = 'REGISTRY_CONFIGURATION_PATH';

/** The config path: the command's CONFIG argument, else REGISTRY_CONFIGURATION_PATH (spec §4.1). */
export function resolveConfigPath(arg: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const path = arg !== undefined && arg !== '' ? arg : env[CONFIG_PATH_ENV];
  if (path === undefined || path === '') {
    throw new ConfigError(
      `configuration path unspecified: pass the config file as the last argument or set ${CONFIG_PATH_ENV}`,
    );
  }
  return resolve(path);
}

export interface LoadConfigOptions {
  /** The CONFIG argument; falls back to REGISTRY_CONFIGURATION_PATH. */
  path?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** The import command needs a storage driver: "no storage configuration provided" without one. */
  requireStorage?: boolean;
}

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Drops null values (an empty YAML value means "not set", as Go's zero value does). */
function dropNulls(v: unknown): unknown {
  if (!isTree(v)) return v;
  const out: Tree = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = dropNulls(x);
  return out;
}

/** Takes the source text for string-typed keys whose YAML value decoded to a number or boolean. */
function withStringText(typed: unknown, text: unknown, prefix = ''): unknown {
  if (!isTree(typed)) return typed;
  const textTree = isTree(text) ? text : {};
  const out: Tree = {};
  for (const [k, v] of Object.entries(typed)) {
    const path = prefix + k;
    if (isTree(v)) out[k] = withStringText(v, textTree[k], `${path}.`);
    else if ((typeof v === 'number' || typeof v === 'boolean') && DATABASE_STRING_PATHS.has(path)) {
      const t = textTree[k];
      out[k] = typeof t === 'string' ? t : String(v);
    } else out[k] = v;
  }
  return out;
}

class Reporter {
  constructor(
    readonly file: string,
    readonly origins: EnvOrigins,
  ) {}

  error(key: string, message: string, cause?: unknown): ConfigError {
    const from = this.origins.get(key);
    const suffix = from === undefined ? '' : ` (set by ${from})`;
    return new ConfigError(
      `${this.file}: ${key}: ${message}${suffix}`,
      cause === undefined ? undefined : { cause },
    );
  }
}

function valueAt(tree: unknown, path: readonly PropertyKey[]): unknown {
  let node = tree;
  for (const k of path) node = isTree(node) ? node[String(k)] : undefined;
  return node;
}

function zodProblem(issue: z.core.$ZodIssue, base: string, input: unknown): { key: string; message: string } {
  const path = [base, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') {
    const [first] = issue.keys;
    return { key: `${path}.${first ?? ''}`, message: 'unknown key' };
  }
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
    return { key: path, message: 'required key is missing' };
  }
  return { key: path, message: issue.message };
}

function checkVersion(trees: { typed: Tree; text: Tree }, rep: Reporter): void {
  if (!('version' in trees.typed) || trees.typed.version === null) {
    throw rep.error('version', 'missing; the configuration must start with "version: 0.1"');
  }
  const text = trees.text.version;
  if (typeof text !== 'string' || text.trim() !== '0.1') {
    const shown = typeof text === 'string' ? `"${text}"` : 'a mapping or list';
    throw rep.error('version', `${shown} is not supported: use "version: 0.1"`);
  }
}

function poolOf(db: DatabaseSection): PoolConfig {
  const p = db.pool ?? {};
  return {
    ...(p.maxopen !== undefined ? { maxOpen: p.maxopen } : {}),
    ...(p.maxidle !== undefined ? { maxIdle: p.maxidle } : {}),
    ...(p.maxlifetime !== undefined ? { maxLifetimeMs: p.maxlifetime } : {}),
    ...(p.maxidletime !== undefined ? { maxIdleTimeMs: p.maxidletime } : {}),
  };
}

function resolvePath(dir: string, p: string | undefined): string | undefined {
  if (p === undefined || p === '') return undefined;
  return isAbsolute(p) ? p : resolve(dir, p);
}

function buildDatabase(db: DatabaseSection | undefined, dir: string, rep: Reporter): DatabaseConfig {
  if (db === undefined || db.embedded === true) {
    const d = db ?? {};
    for (const key of SERVER_ONLY_KEYS) {
      if (d[key] !== undefined) {
        throw rep.error(
          `database.${key}`,
          'cannot be used with "embedded: true" (regdb runs its own PostgreSQL)',
        );
      }
    }
    return {
      kind: 'embedded',
      dataDir: resolvePath(dir, d.embeddeddir) ?? resolve(dir, DEFAULTS.embeddedDir),
      dataDirIsDefault: resolvePath(dir, d.embeddeddir) === undefined,
      // 0: pick a free port when the server starts.
      port: d.port ?? 0,
      user: d.user ?? DEFAULTS.embeddedUser,
      // '': generate one on first start and keep it in the data directory.
      password: d.password ?? '',
      dbname: d.dbname ?? DEFAULTS.embeddedDbname,
      pool: poolOf(d),
    };
  }
  if (db.embeddeddir !== undefined) {
    throw rep.error('database.embeddeddir', 'is only used with "embedded: true"');
  }
  const opt = <K extends string, V>(key: K, v: V | undefined) =>
    (v === undefined ? {} : { [key]: v }) as Partial<Record<K, V>>;
  return {
    kind: 'server',
    host: db.host !== undefined && db.host !== '' ? db.host : DEFAULTS.host,
    port: db.port ?? DEFAULTS.port,
    ...opt('user', db.user),
    ...opt('password', db.password),
    ...opt('dbname', db.dbname),
    sslmode: db.sslmode ?? DEFAULTS.sslmode,
    ...opt('sslcert', resolvePath(dir, db.sslcert)),
    ...opt('sslkey', resolvePath(dir, db.sslkey)),
    ...opt('sslrootcert', resolvePath(dir, db.sslrootcert)),
    connectTimeoutMs: db.connecttimeout ?? DEFAULTS.connectTimeoutMs,
    ...opt('primary', db.primary !== '' ? db.primary : undefined),
    pool: poolOf(db),
  };
}

/** Reads, overrides and validates the configuration. Throws ConfigError. */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const path = resolveConfigPath(opts.path, env);
  return parseConfig(readConfigText(path), path, { env, requireStorage: opts.requireStorage ?? false });
}

/** The pure part of loadConfig: `text` is the content of the file at absolute `path`. */
export function parseConfig(
  text: string,
  path: string,
  opts: { env?: NodeJS.ProcessEnv; requireStorage?: boolean } = {},
): Config {
  const env = opts.env ?? process.env;
  const dir = dirname(path);
  const trees = parseConfigTrees(text, path);
  const { origins, unknown } = applyEnvOverrides(trees, env);
  const rep = new Reporter(path, origins);
  if (unknown.length > 0) {
    throw new ConfigError(
      `${path}: ${unknown[0]}: names no storage driver or section (use REGISTRY_STORAGE_<DRIVER>_<PARAM>)`,
    );
  }
  checkVersion(trees, rep);

  const dbTyped = trees.typed.database;
  let database: DatabaseConfig;
  if (dbTyped === undefined || dbTyped === null) {
    database = buildDatabase(undefined, dir, rep);
  } else {
    const input = dropNulls(withStringText(dbTyped, trees.text.database));
    const parsed = databaseSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const { key, message } =
        issue === undefined ? { key: 'database', message: 'invalid' } : zodProblem(issue, 'database', input);
      throw rep.error(key, message, parsed.error);
    }
    database = buildDatabase(parsed.data, dir, rep);
  }

  let storage: Config['storage'];
  try {
    const result = buildStorage(trees.typed.storage, trees.text.storage, dir);
    if (result.kind === 'ok') storage = result.storage;
    else if (opts.requireStorage) {
      throw result.kind === 'none'
        ? rep.error('storage', 'no storage configuration provided')
        : rep.error(
            `storage.${result.keys[0] ?? ''}`,
            'unsupported storage driver: regdb reads filesystem, s3, s3aws, s3_v2 and gcs',
          );
    }
  } catch (err) {
    if (err instanceof StorageProblem) throw rep.error(err.key, err.message, err);
    throw err;
  }

  let log: LogConfig;
  try {
    log = buildLog(trees.typed.log, env);
  } catch (err) {
    if (err instanceof LogProblem) {
      const from =
        env.REGISTRY_LOG_LEVEL !== undefined && err.key === 'log.level' ? 'REGISTRY_LOG_LEVEL' : undefined;
      const viaEnv =
        err.key === 'log.formatter' && env.REGISTRY_LOG_FORMATTER !== undefined
          ? 'REGISTRY_LOG_FORMATTER'
          : from;
      throw new ConfigError(`${path}: ${err.key}: ${err.message}${viaEnv ? ` (set by ${viaEnv})` : ''}`, {
        cause: err,
      });
    }
    throw err;
  }

  return { path, dir, database, log, ...(storage !== undefined ? { storage } : {}) };
}
