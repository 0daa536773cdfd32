/**
 * GCS driver: the object-store driver over the JSON API's five calls on node:http(s) (gcs-http.ts),
 * authorized with tokens from google-auth-library (gcs-auth.ts). Keys: rootdirectory stripped of
 * surrounding '/', plus one '/' when non-empty, then the driver path without its leading '/' (spec
 * §1.1). Nothing here retries: the shared RequestRunner does, so each counted attempt is one HTTP
 * request. With a custom endpoint and no credentials, requests are sent without auth (emulators,
 * tests); with a key, or with neither key nor endpoint (default credentials), with a bearer token.
 */
import type { Logger } from 'pino';
import type { AttemptCancel } from './attempt.js';
import { googleAuthHeaders } from './gcs-auth.js';
import {
  gcsBaseUrl,
  GcsHttp,
  isGcsNotFound,
  isTransientGcsError,
  listPath,
  objectPath,
  parseListPage,
} from './gcs-http.js';
import type { GcsParameters } from './gcs-params.js';
import { download } from './http-client.js';
import type { ListPage, ListQuery, ObjectWalkTuning } from './object-walk.js';
import { ObjectStoreDriver, type GetResult, type HeadResult, type ObjectBackend } from './object-store.js';
import type { RetryPolicy } from './requests.js';

export { isTransientGcsError } from './gcs-http.js';

/** The parsed parameters (gcs-params.ts, where each is described) and what the factory adds. */
export interface GcsDriverOptions extends Omit<GcsParameters, 'maxConcurrency'> {
  readonly concurrency: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Overrides of the ranged-walk tuning (object-walk.ts). */
  readonly walkTuning?: Partial<ObjectWalkTuning>;
  readonly logger?: Logger;
}

export function gcsKeyPrefix(rootDirectory: string | undefined): string {
  const root = (rootDirectory ?? '').replace(/^\/+|\/+$/g, '');
  return root === '' ? '' : `${root}/`;
}

/** The fields of an object's metadata that stat needs. */
const HEAD_FIELDS = 'size,updated';

/** The JSON API calls ObjectStoreDriver plugs in, one HTTP request each. */
class GcsBackend implements ObjectBackend {
  readonly operations = {
    list: 'objects.list',
    head: 'objects.get',
    get: 'objects.get(media)',
    put: 'objects.insert',
    delete: 'objects.delete',
  } as const;

  constructor(
    private readonly http: GcsHttp,
    private readonly bucket: string,
  ) {}

  async listPage(q: ListQuery & { readonly limit?: number }, cancel: AttemptCancel): Promise<ListPage> {
    const body = await this.http.fetch('GET', listPath(this.bucket, q), cancel);
    return parseListPage(body.toString('utf8'));
  }

  async head(key: string, cancel: AttemptCancel): Promise<HeadResult> {
    const body = await this.http.fetch(
      'GET',
      `${objectPath(this.bucket, key)}?fields=${HEAD_FIELDS}`,
      cancel,
    );
    const meta = JSON.parse(body.toString('utf8')) as { size?: string; updated?: string };
    return { size: Number(meta.size ?? 0), modTime: meta.updated ? new Date(meta.updated) : undefined };
  }

  async get(key: string, cancel: AttemptCancel, offset?: number): Promise<GetResult> {
    const res = await this.http.request(
      'GET',
      `${objectPath(this.bucket, key)}?alt=media`,
      cancel,
      offset ? { range: `bytes=${offset}-` } : {},
    );
    return download(res);
  }

  async put(key: string, content: Buffer, cancel: AttemptCancel): Promise<void> {
    const path =
      `/upload/storage/v1/b/${encodeURIComponent(this.bucket)}/o` +
      `?uploadType=media&name=${encodeURIComponent(key)}&fields=generation`;
    await this.http.fetch('POST', path, cancel, { body: content });
  }

  async remove(key: string, cancel: AttemptCancel): Promise<void> {
    await this.http.fetch('DELETE', objectPath(this.bucket, key), cancel);
  }

  isNotFound(err: unknown): boolean {
    return isGcsNotFound(err);
  }

  isTransient(err: unknown): boolean {
    return isTransientGcsError(err);
  }

  async close(): Promise<void> {
    this.http.destroy();
  }
}

function gcsHttp(opts: GcsDriverOptions): GcsHttp {
  const keyed = opts.keyFile !== undefined || opts.credentials !== undefined;
  return new GcsHttp({
    baseUrl: gcsBaseUrl(opts.endpoint),
    maxSockets: opts.concurrency,
    auth:
      keyed || opts.endpoint === undefined
        ? googleAuthHeaders({ keyFile: opts.keyFile, credentials: opts.credentials }).headers
        : undefined,
  });
}

export class GcsDriver extends ObjectStoreDriver {
  constructor(opts: GcsDriverOptions) {
    super({
      name: 'gcs',
      keyPrefix: gcsKeyPrefix(opts.rootDirectory),
      backend: new GcsBackend(gcsHttp(opts), opts.bucket),
      concurrency: opts.concurrency,
      maxRetries: opts.maxRetries,
      retry: opts.retry,
      walkTuning: opts.walkTuning,
      logger: opts.logger,
    });
  }
}
