/** The S3 driver's parameters (`s3`, `s3aws`, `s3_v2`; spec §4.5) and their typed form. */
import {
  ParameterError,
  boolParam,
  definedFields,
  intParam,
  parseParameters,
  stringParam,
  type ParameterSpec,
} from './parameters.js';

export const S3_PARAMETERS: ParameterSpec = {
  known: {
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
  },
  required: ['bucket'],
};

export interface S3Parameters {
  /** `s3aws` (config keys s3 and s3aws) or `s3_v2` (spec §2.14). */
  readonly name: 's3aws' | 's3_v2';
  readonly bucket: string;
  readonly region: string;
  readonly regionEndpoint?: string;
  readonly rootDirectory?: string;
  readonly accessKey?: string;
  readonly secretKey?: string;
  readonly sessionToken?: string;
  /** Defaults to true when regionEndpoint is set. */
  readonly pathStyle?: boolean;
  /** false: plain http to the endpoint. Default true. */
  readonly secure?: boolean;
  readonly skipVerify?: boolean;
  /** Default 350 (spec §4.5); 0 = no cap. */
  readonly maxRequestsPerSecond?: number;
  /** Retries after the first attempt; default 5 (spec §4.5). */
  readonly maxRetries?: number;
}

export function s3FromParameters(key: string, given: Readonly<Record<string, unknown>>): S3Parameters {
  const p = parseParameters(S3_PARAMETERS, key, given);
  const regionEndpoint = stringParam(p, 'regionendpoint');
  // A custom endpoint (MinIO, Ceph) needs no region: SigV4 then signs for us-east-1.
  const region = stringParam(p, 'region') ?? (regionEndpoint ? 'us-east-1' : undefined);
  if (region === undefined) {
    throw new ParameterError(`storage.${key}.region`, `required ${key} storage parameter is missing`);
  }
  const accessKey = stringParam(p, 'accesskey');
  const secretKey = stringParam(p, 'secretkey');
  return definedFields<S3Parameters>({
    name: key === 's3_v2' ? 's3_v2' : 's3aws',
    bucket: stringParam(p, 'bucket'),
    region,
    regionEndpoint,
    rootDirectory: stringParam(p, 'rootdirectory'),
    accessKey,
    secretKey,
    sessionToken: stringParam(p, 'sessiontoken'),
    pathStyle: boolParam(p, 'pathstyle') ?? boolParam(p, 'forcepathstyle'),
    secure: boolParam(p, 'secure'),
    skipVerify: boolParam(p, 'skipverify'),
    maxRequestsPerSecond: intParam(p, 'maxrequestspersecond'),
    maxRetries: intParam(p, 'maxretries'),
  });
}
