/**
 * Builds the storage driver named by a storage selection (the config's `storage` section, spec §4.5).
 * Each driver parses its own parameters (drivers/*-params.ts), so values are checked by the same
 * rules here as when the config is loaded, and bad ones throw ParameterError naming the key.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';
import { filesystemFromParameters } from './filesystem-params.js';
import { gcsFromParameters } from './gcs-params.js';
import { ParameterError } from './parameters.js';
import { OBJECT_STORE_CONCURRENCY, resolveConcurrency, type RetryPolicy } from './requests.js';
import { s3FromParameters } from './s3-params.js';

/** Which driver, under which config key, with which parameters (lower-case names). */
export interface DriverSelection {
  readonly driver: 'filesystem' | 's3' | 'gcs';
  /** The key used in config.yml: filesystem, s3, s3aws, s3_v2, gcs. */
  readonly key: string;
  readonly parameters: Readonly<Record<string, unknown>>;
}

export interface CreateDriverOptions {
  readonly logger?: Logger;
  /** Requests in flight (S3, GCS) or reader threads (filesystem); raised to the backend's floor. */
  readonly concurrency?: number;
  /** Overrides of the retry policy (tests use short delays and timeouts). */
  readonly retry?: Partial<RetryPolicy>;
}

/** The object stores' in-flight bounds, for the import's `--storage-concurrency` (src/cli/import.ts). */
export { OBJECT_STORE_CONCURRENCY };

export async function createDriver(
  storage: DriverSelection,
  opts: CreateDriverOptions = {},
): Promise<StorageDriver> {
  switch (storage.driver) {
    case 'filesystem': {
      const p = filesystemFromParameters(storage.key, storage.parameters);
      // Reader threads do synchronous I/O: more than two per core only adds contention.
      const wanted =
        opts.concurrency === undefined ? undefined : Math.min(opts.concurrency, 2 * availableParallelism());
      const threads = p.maxThreads === undefined ? wanted : Math.min(wanted ?? p.maxThreads, p.maxThreads);
      return new FilesystemDriver({ rootDirectory: p.rootDirectory, threads, logger: opts.logger });
    }
    case 's3': {
      const p = s3FromParameters(storage.key, storage.parameters);
      const { S3Driver, hasStaticKeys } = await import('./s3.js');
      const options = {
        ...p,
        concurrency: resolveConcurrency(opts.concurrency, OBJECT_STORE_CONCURRENCY),
        retry: opts.retry,
        logger: opts.logger,
      };
      if (hasStaticKeys(options)) return new S3Driver(options);
      // Only without static keys: the AWS SDK (its credential chain) adds ~25 MB to the resident set.
      const { sdkBackend } = await import('./s3-sdk.js');
      return new S3Driver(options, sdkBackend(options));
    }
    case 'gcs': {
      const p = gcsFromParameters(storage.key, storage.parameters);
      // Loaded only when configured; google-auth-library only once a token is needed (gcs-auth.ts).
      const { GcsDriver } = await import('./gcs.js');
      return new GcsDriver({
        ...p,
        concurrency: resolveConcurrency(opts.concurrency ?? p.maxConcurrency, OBJECT_STORE_CONCURRENCY),
        retry: opts.retry,
        logger: opts.logger,
      });
    }
    default:
      throw new ParameterError(
        'storage',
        `unsupported driver ${JSON.stringify((storage as DriverSelection).driver)}`,
      );
  }
}
