/**
 * The `storage:` section (spec §4.5): exactly one driver among filesystem, s3, s3aws, s3_v2 and gcs,
 * besides the reserved keys maintenance, cache, delete and redirect. Parameter keys are lower-cased
 * (source.ts); values are checked against each driver's known parameters and normalised (booleans
 * and numbers given as strings, e.g. from the environment, become booleans and numbers).
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { StorageConfig } from './types.js';

export const RESERVED_STORAGE_KEYS: ReadonlySet<string> = new Set([
  'maintenance',
  'cache',
  'delete',
  'redirect',
]);

const DRIVER_KINDS: Readonly<Record<string, StorageConfig['driver']>> = {
  filesystem: 'filesystem',
  s3: 's3',
  s3aws: 's3',
  s3_v2: 's3',
  gcs: 'gcs',
};

type Kind = 'string' | 'path' | 'bool' | 'int' | 'map';

const S3_PARAMS: Readonly<Record<string, Kind>> = {
  accesskey: 'string',
  secretkey: 'string',
  sessiontoken: 'string',
  region: 'string',
  regionendpoint: 'string',
  bucket: 'string',
  rootdirectory: 'string',
  encrypt: 'bool',
  keyid: 'string',
  secure: 'bool',
  skipverify: 'bool',
  v4auth: 'bool',
  chunksize: 'int',
  multipartcopychunksize: 'int',
  multipartcopymaxconcurrency: 'int',
  multipartcopythresholdsize: 'int',
  storageclass: 'string',
  objectacl: 'string',
  objectownership: 'bool',
  pathstyle: 'bool',
  forcepathstyle: 'bool',
  parallelwalk: 'bool',
  maxrequestspersecond: 'int',
  maxretries: 'int',
  loglevel: 'string',
  checksum_disabled: 'bool',
  checksum_algorithm: 'string',
  accelerate: 'bool',
  usedualstack: 'bool',
  useragent: 'string',
};

const PARAMS: Readonly<Record<StorageConfig['driver'], Readonly<Record<string, Kind>>>> = {
  filesystem: { rootdirectory: 'path', maxthreads: 'int' },
  s3: S3_PARAMS,
  gcs: {
    bucket: 'string',
    rootdirectory: 'string',
    keyfile: 'path',
    credentials: 'map',
    chunksize: 'int',
    maxconcurrency: 'int',
    parallelwalk: 'bool',
    debug_log: 'bool',
    useragent: 'string',
    // regdb's own, read by drivers/factory.ts: a GCS-compatible endpoint (emulators, tests), the
    // project, and the retry count the S3 driver also takes.
    endpoint: 'string',
    projectid: 'string',
    maxretries: 'int',
  },
};

const REQUIRED: Readonly<Record<StorageConfig['driver'], readonly string[]>> = {
  filesystem: [],
  s3: ['region', 'bucket'],
  gcs: ['bucket'],
};

/** Go's strconv.ParseBool spellings. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

const SCHEMAS: Readonly<Record<Kind, z.ZodType>> = {
  string: z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string' }),
  path: z.string({ error: 'must be a path' }).min(1, { error: 'must not be empty' }),
  bool: z.union([z.boolean(), z.string().refine((s) => TRUE.has(s) || FALSE.has(s))], {
    error: 'must be true or false',
  }),
  int: z.union([z.number().int(), z.string().regex(/^-?\d+$/)], { error: 'must be a whole number' }),
  map: z.record(z.string(), z.unknown(), { error: 'must be a mapping' }),
};

const KIND_MESSAGES: Readonly<Record<Kind, string>> = {
  string: 'must be a string',
  path: 'must be a path',
  bool: 'must be true or false',
  int: 'must be a whole number',
  map: 'must be a mapping',
};

export class StorageProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

function normalise(kind: Kind, typed: unknown, text: unknown): unknown {
  switch (kind) {
    case 'string':
    case 'path':
      return typeof typed === 'string' ? typed : typeof text === 'string' ? text : String(typed);
    case 'bool':
      return typeof typed === 'boolean' ? typed : TRUE.has(String(typed));
    case 'int':
      return typeof typed === 'number' ? typed : Number(typed);
    case 'map':
      return typed;
  }
}

function isTree(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type StorageResult =
  { kind: 'none' } | { kind: 'unsupported'; keys: string[] } | { kind: 'ok'; storage: StorageConfig };

/**
 * Builds the StorageConfig from the (lower-cased) storage section. Throws StorageProblem naming the
 * dotted key for bad input; an unknown driver name comes back as `unsupported` so that commands that
 * do not read storage can ignore it.
 */
export function buildStorage(typedSection: unknown, textSection: unknown, dir: string): StorageResult {
  if (typedSection === undefined || typedSection === null) return { kind: 'none' };
  if (!isTree(typedSection)) throw new StorageProblem('storage', 'must be a mapping with one driver key');
  const textTree = isTree(textSection) ? textSection : {};
  const drivers = Object.keys(typedSection).filter((k) => !RESERVED_STORAGE_KEYS.has(k));
  if (drivers.length === 0) return { kind: 'none' };
  if (drivers.length > 1) {
    throw new StorageProblem(
      'storage',
      `exactly one storage driver must be configured, found ${drivers.length}: ${drivers.join(', ')}`,
    );
  }
  const key = drivers[0] as string;
  const driver = DRIVER_KINDS[key];
  if (driver === undefined) return { kind: 'unsupported', keys: [key] };

  const given = typedSection[key];
  if (given !== null && given !== undefined && !isTree(given)) {
    throw new StorageProblem(`storage.${key}`, 'must be a mapping of driver parameters');
  }
  const typedParams = isTree(given) ? given : {};
  const rawText = textTree[key];
  const textParams = isTree(rawText) ? rawText : {};
  const known = PARAMS[driver];
  const parameters: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(typedParams)) {
    const kind = known[name];
    if (kind === undefined) {
      throw new StorageProblem(
        `storage.${key}.${name}`,
        `unknown ${key} storage parameter; known parameters: ${Object.keys(known).join(', ')}`,
      );
    }
    if (value === null || value === undefined) continue;
    const result = SCHEMAS[kind].safeParse(value);
    if (!result.success) {
      throw new StorageProblem(`storage.${key}.${name}`, KIND_MESSAGES[kind]);
    }
    parameters[name] = normalise(kind, value, textParams[name]);
  }
  for (const name of REQUIRED[driver]) {
    if (parameters[name] === undefined || parameters[name] === '') {
      throw new StorageProblem(`storage.${key}.${name}`, `required ${key} storage parameter is missing`);
    }
  }
  if (driver === 'filesystem' && parameters.rootdirectory === undefined) {
    parameters.rootdirectory = '/var/lib/registry';
  }
  // Local files resolve against the config file's folder; S3/GCS rootdirectory is a key prefix.
  for (const [name, kind] of Object.entries(known)) {
    const v = parameters[name];
    if (kind === 'path' && typeof v === 'string' && !isAbsolute(v)) parameters[name] = resolve(dir, v);
  }
  return { kind: 'ok', storage: { driver, key, parameters } };
}
