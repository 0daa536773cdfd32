/** The GCS driver's parameters (spec §4.5) and their typed form. */
import { OBJECT_STORE_CONCURRENCY } from './requests.js';
import {
  ParameterError,
  definedFields,
  intParam,
  mapParam,
  parseParameters,
  stringParam,
  type ParameterSpec,
} from './parameters.js';

export const GCS_PARAMETERS: ParameterSpec = {
  known: {
    bucket: 'string',
    rootdirectory: 'string',
    keyfile: 'path',
    credentials: 'map',
    chunksize: 'int',
    maxconcurrency: 'int',
    parallelwalk: 'bool',
    debug_log: 'bool',
    useragent: 'string',
    // regdb's own: a GCS-compatible endpoint (emulators, tests), the project, and the retry count
    // the S3 driver also takes.
    endpoint: 'string',
    projectid: 'string',
    maxretries: 'int',
  },
  required: ['bucket'],
  // Below the floor --storage-concurrency also refuses: the request runner would not honour it.
  minimums: { maxconcurrency: OBJECT_STORE_CONCURRENCY.floor },
};

export interface GcsParameters {
  readonly bucket: string;
  readonly rootDirectory?: string;
  /** Path of a service-account JSON key. */
  readonly keyFile?: string;
  /** Inline service-account credentials (the `credentials` map). */
  readonly credentials?: Record<string, unknown>;
  /** Custom API endpoint, e.g. http://127.0.0.1:4443 for an emulator. */
  readonly endpoint?: string;
  readonly projectId?: string;
  readonly maxRetries?: number;
  /** Most requests in flight, at least OBJECT_STORE_CONCURRENCY.floor (distribution's default 50). */
  readonly maxConcurrency?: number;
}

export function gcsFromParameters(key: string, given: Readonly<Record<string, unknown>>): GcsParameters {
  const p = parseParameters(GCS_PARAMETERS, key, given);
  const keyFile = stringParam(p, 'keyfile');
  const credentials = mapParam(p, 'credentials');
  if (keyFile !== undefined && credentials !== undefined) {
    throw new ParameterError(`storage.${key}`, 'keyfile and credentials are mutually exclusive; set one');
  }
  return definedFields<GcsParameters>({
    bucket: stringParam(p, 'bucket'),
    rootDirectory: stringParam(p, 'rootdirectory'),
    keyFile,
    credentials,
    endpoint: stringParam(p, 'endpoint'),
    projectId: stringParam(p, 'projectid'),
    maxRetries: intParam(p, 'maxretries'),
    maxConcurrency: intParam(p, 'maxconcurrency'),
  });
}
