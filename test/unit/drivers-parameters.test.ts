/**
 * Each driver's parameter parser (drivers/*-params.ts), table-driven: what is accepted and what it
 * becomes, and what is refused with which message (the key named). The config loader and createDriver
 * both go through these, so these are the rules users meet.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ROOT_DIRECTORY, filesystemFromParameters } from '../../drivers/filesystem-params.js';
import { gcsFromParameters } from '../../drivers/gcs-params.js';
import { ParameterError } from '../../drivers/parameters.js';
import { s3FromParameters } from '../../drivers/s3-params.js';

type Parser = (key: string, given: Record<string, unknown>) => unknown;

interface Accepts {
  readonly name: string;
  readonly key: string;
  readonly given: Record<string, unknown>;
  readonly want: Record<string, unknown>;
}

interface Refuses {
  readonly name: string;
  readonly key: string;
  readonly given: Record<string, unknown>;
  readonly message: string;
}

function table(parser: Parser, accepts: Accepts[], refuses: Refuses[]): void {
  it.each(accepts)('accepts $name', ({ key, given, want }) => {
    expect(parser(key, given)).toEqual(want);
  });
  it.each(refuses)('refuses $name', ({ key, given, message }) => {
    let thrown: unknown;
    try {
      parser(key, given);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ParameterError);
    expect((thrown as Error).message).toBe(message);
  });
}

describe('filesystem parameters', () => {
  table(
    filesystemFromParameters,
    [
      {
        name: 'nothing: the default root',
        key: 'filesystem',
        given: {},
        want: { rootDirectory: DEFAULT_ROOT_DIRECTORY },
      },
      {
        name: 'a root',
        key: 'filesystem',
        given: { rootdirectory: '/srv/r' },
        want: { rootDirectory: '/srv/r' },
      },
      {
        name: 'maxthreads as a number or a string',
        key: 'filesystem',
        given: { rootdirectory: '/r', maxthreads: '32' },
        want: { rootDirectory: '/r', maxThreads: 32 },
      },
    ],
    [
      {
        name: 'maxthreads below distribution’s floor of 25',
        key: 'filesystem',
        given: { maxthreads: 4 },
        message: 'storage.filesystem.maxthreads: must be a whole number >= 25',
      },
      {
        name: 'maxthreads that is no number',
        key: 'filesystem',
        given: { maxthreads: 'many' },
        message: 'storage.filesystem.maxthreads: must be a whole number',
      },
      {
        name: 'a relative root (the config loader resolves those first)',
        key: 'filesystem',
        given: { rootdirectory: 'data' },
        message: 'storage.filesystem.rootdirectory: must be an absolute path',
      },
      {
        name: 'an unknown parameter',
        key: 'filesystem',
        given: { rootdir: '/r' },
        message:
          'storage.filesystem.rootdir: unknown filesystem storage parameter; known parameters: rootdirectory, maxthreads',
      },
    ],
  );
});

describe('s3 parameters', () => {
  table(
    s3FromParameters,
    [
      {
        name: 'the least: bucket and region',
        key: 's3',
        given: { bucket: 'b', region: 'eu-west-1' },
        want: { name: 's3aws', bucket: 'b', region: 'eu-west-1' },
      },
      {
        name: 'an endpoint without region, Go boolean spellings, numbers as strings',
        key: 's3_v2',
        given: { bucket: 'b', regionendpoint: 'minio:9000', secure: 'F', pathstyle: 'T', maxretries: '2' },
        want: {
          name: 's3_v2',
          bucket: 'b',
          region: 'us-east-1',
          regionEndpoint: 'minio:9000',
          secure: false,
          pathStyle: true,
          maxRetries: 2,
        },
      },
      {
        name: 'forcepathstyle as pathstyle, keys',
        key: 's3aws',
        given: { bucket: 'b', region: 'r', forcepathstyle: true, accesskey: 'AK', secretkey: 'SK' },
        want: { name: 's3aws', bucket: 'b', region: 'r', pathStyle: true, accessKey: 'AK', secretKey: 'SK' },
      },
    ],
    [
      {
        name: 'no bucket',
        key: 's3',
        given: { region: 'r' },
        message: 'storage.s3.bucket: required s3 storage parameter is missing',
      },
      {
        name: 'no region and no endpoint',
        key: 's3aws',
        given: { bucket: 'b' },
        message: 'storage.s3aws.region: required s3aws storage parameter is missing',
      },
      {
        name: 'a boolean that is none of Go’s spellings',
        key: 's3',
        given: { bucket: 'b', region: 'r', secure: 'yes' },
        message: 'storage.s3.secure: must be true or false',
      },
      {
        name: 'a negative retry count',
        key: 's3',
        given: { bucket: 'b', region: 'r', maxretries: -1 },
        message: 'storage.s3.maxretries: must be a whole number >= 0',
      },
      {
        name: 'a map where a string belongs',
        key: 's3',
        given: { bucket: { a: 1 }, region: 'r' },
        message: 'storage.s3.bucket: must be a string',
      },
    ],
  );
});

describe('gcs parameters', () => {
  table(
    gcsFromParameters,
    [
      { name: 'a bucket', key: 'gcs', given: { bucket: 'b' }, want: { bucket: 'b' } },
      {
        name: 'endpoint, root, maxconcurrency as a string',
        key: 'gcs',
        given: { bucket: 'b', endpoint: 'http://127.0.0.1:1', rootdirectory: 'r', maxconcurrency: '8' },
        want: { bucket: 'b', endpoint: 'http://127.0.0.1:1', rootDirectory: 'r', maxConcurrency: 8 },
      },
      {
        name: 'maxconcurrency at the floor of --storage-concurrency, 4',
        key: 'gcs',
        given: { bucket: 'b', maxconcurrency: 4 },
        want: { bucket: 'b', maxConcurrency: 4 },
      },
      {
        name: 'maxconcurrency above the default in-flight limit',
        key: 'gcs',
        given: { bucket: 'b', maxconcurrency: 1000 },
        want: { bucket: 'b', maxConcurrency: 1000 },
      },
    ],
    [
      {
        name: 'keyfile and credentials together',
        key: 'gcs',
        given: { bucket: 'b', keyfile: '/k.json', credentials: { type: 'service_account' } },
        message: 'storage.gcs: keyfile and credentials are mutually exclusive; set one',
      },
      {
        name: 'maxconcurrency 0',
        key: 'gcs',
        given: { bucket: 'b', maxconcurrency: 0 },
        message: 'storage.gcs.maxconcurrency: must be a whole number >= 4',
      },
      {
        name: 'maxconcurrency 1, which the request runner would raise to 4',
        key: 'gcs',
        given: { bucket: 'b', maxconcurrency: 1 },
        message: 'storage.gcs.maxconcurrency: must be a whole number >= 4',
      },
      {
        name: 'maxconcurrency 3 as a string (from the environment)',
        key: 'gcs',
        given: { bucket: 'b', maxconcurrency: '3' },
        message: 'storage.gcs.maxconcurrency: must be a whole number >= 4',
      },
      {
        name: 'credentials that are no mapping',
        key: 'gcs',
        given: { bucket: 'b', credentials: 'x' },
        message: 'storage.gcs.credentials: must be a mapping',
      },
    ],
  );
});
