/**
 * The `storage:` section (spec §4.5): exactly one driver among filesystem, s3, s3aws, s3_v2 and gcs,
 * besides the reserved keys maintenance, cache, delete and redirect. Parameter keys are lower-cased
 * (source.ts); values are checked and normalised by the driver's own parser (drivers/*-params.ts),
 * the same one createDriver uses, so a config that loads also builds its driver.
 */
import { FILESYSTEM_PARAMETERS, filesystemFromParameters } from '../../drivers/filesystem-params.js';
import { GCS_PARAMETERS, gcsFromParameters } from '../../drivers/gcs-params.js';
import { ParameterError, parseParameters, type ParameterSpec } from '../../drivers/parameters.js';
import { S3_PARAMETERS, s3FromParameters } from '../../drivers/s3-params.js';
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

/** Each driver's own parameter parser (drivers/*-params.ts): the rules live there, once. */
const PARSERS: Readonly<
  Record<
    StorageConfig['driver'],
    { spec: ParameterSpec; check: (key: string, p: Record<string, unknown>) => unknown }
  >
> = {
  filesystem: { spec: FILESYSTEM_PARAMETERS, check: filesystemFromParameters },
  s3: { spec: S3_PARAMETERS, check: s3FromParameters },
  gcs: { spec: GCS_PARAMETERS, check: gcsFromParameters },
};

export class StorageProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
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
  const parser = PARSERS[driver];
  let parameters: Record<string, unknown>;
  try {
    // Local files resolve against the config file's folder; S3/GCS rootdirectory is a key prefix.
    parameters = parseParameters(parser.spec, key, typedParams, { text: textParams, dir });
    parser.check(key, parameters);
  } catch (err) {
    if (err instanceof ParameterError) throw new StorageProblem(err.key, err.reason);
    throw err;
  }
  return { kind: 'ok', storage: { driver, key, parameters } };
}
