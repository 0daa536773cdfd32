/**
 * Builds the storage driver named by the config's `storage` section (spec §4.5). Parameter values are
 * YAML-decoded (or env strings), so booleans and numbers are accepted in either form.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { StorageConfig, StorageParameters } from '../src/config/types.js';
import { ConfigError } from '../src/errors.js';
import type { StorageDriver } from './driver.js';
import { DEFAULT_ROOT_DIRECTORY, FilesystemDriver } from './filesystem.js';
import { resolveConcurrency, type RetryPolicy } from './requests.js';

export interface CreateDriverOptions {
  readonly logger?: Logger;
  /** Requests in flight (S3, GCS) or reader threads (filesystem); raised to the backend's floor. */
  readonly concurrency?: number;
  /** Overrides of the retry policy (tests use short delays and timeouts). */
  readonly retry?: Partial<RetryPolicy>;
}

/** Object stores: at least 4 requests in flight, 50 by default (GCS `maxconcurrency` default, spec §4.5). */
export const OBJECT_STORE_CONCURRENCY = { floor: 4, default: 50 } as const;

class Params {
  constructor(
    private readonly key: string,
    private readonly params: StorageParameters,
  ) {}

  private where(name: string): string {
    return `storage.${this.key}.${name}`;
  }

  string(name: string): string | undefined {
    const v = this.params[name];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new ConfigError(`${this.where(name)} must be a string`);
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new ConfigError(`${this.where(name)} is required`);
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.params[name];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
    throw new ConfigError(`${this.where(name)} must be true or false, got ${JSON.stringify(v)}`);
  }

  int(name: string, min = 0): number | undefined {
    const v = this.params[name];
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min) {
      throw new ConfigError(`${this.where(name)} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    }
    return n;
  }

  map(name: string): Record<string, unknown> | undefined {
    const v = this.params[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    throw new ConfigError(`${this.where(name)} must be a map`);
  }
}

export async function createDriver(
  storage: StorageConfig,
  opts: CreateDriverOptions = {},
): Promise<StorageDriver> {
  const p = new Params(storage.key, storage.parameters);
  switch (storage.driver) {
    case 'filesystem':
      return new FilesystemDriver({
        rootDirectory: p.string('rootdirectory') ?? DEFAULT_ROOT_DIRECTORY,
        // Reader threads do synchronous I/O: more than two per core only adds contention.
        threads:
          opts.concurrency === undefined ? undefined : Math.min(opts.concurrency, 2 * availableParallelism()),
        logger: opts.logger,
      });
    case 's3': {
      const regionEndpoint = p.string('regionendpoint');
      const region = p.string('region') ?? (regionEndpoint ? 'us-east-1' : undefined);
      if (!region) throw new ConfigError(`storage.${storage.key}.region is required`);
      // Loaded only when configured: the AWS SDK adds ~25 MB to the resident set of every run.
      const { S3Driver } = await import('./s3.js');
      return new S3Driver({
        name: storage.key === 's3_v2' ? 's3_v2' : 's3aws',
        bucket: p.required('bucket'),
        region,
        regionEndpoint,
        rootDirectory: p.string('rootdirectory'),
        accessKey: p.string('accesskey'),
        secretKey: p.string('secretkey'),
        sessionToken: p.string('sessiontoken'),
        pathStyle: p.bool('pathstyle'),
        secure: p.bool('secure'),
        skipVerify: p.bool('skipverify'),
        maxRequestsPerSecond: p.int('maxrequestspersecond', 0),
        maxRetries: p.int('maxretries', 0),
        concurrency: resolveConcurrency(opts.concurrency, OBJECT_STORE_CONCURRENCY),
        retry: opts.retry,
        logger: opts.logger,
      });
    }
    case 'gcs': {
      const keyFile = p.string('keyfile');
      const credentials = p.map('credentials');
      if (keyFile && credentials) {
        throw new ConfigError(
          `storage.${storage.key}: keyfile and credentials are mutually exclusive; set one`,
        );
      }
      // Loaded only when configured, like the AWS SDK (~30 MB resident).
      const { GcsDriver } = await import('./gcs.js');
      return new GcsDriver({
        bucket: p.required('bucket'),
        rootDirectory: p.string('rootdirectory'),
        keyFile,
        credentials,
        endpoint: p.string('endpoint') ?? p.string('regionendpoint'),
        projectId: p.string('projectid'),
        maxRetries: p.int('maxretries', 0),
        concurrency: resolveConcurrency(
          opts.concurrency ?? p.int('maxconcurrency', 1),
          OBJECT_STORE_CONCURRENCY,
        ),
        retry: opts.retry,
        logger: opts.logger,
      });
    }
    default:
      throw new ConfigError(
        `storage: unsupported driver ${JSON.stringify((storage as StorageConfig).driver)}`,
      );
  }
}
