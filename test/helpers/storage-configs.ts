/**
 * The storage selections (config.yml's `storage` section, as createDriver takes it) that name the test
 * stores: the filesystem on a tree, S3 on the S3 test server (Ceph radosgw) with its static keys, GCS on
 * the local GCS server. The trees are put there by driver-backends.ts.
 */
import type { DriverSelection } from '../../drivers/factory.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY } from './s3-server.js';

/** Added or overriding parameters: maxrequestspersecond, maxretries. */
type More = Readonly<Record<string, unknown>>;

export function filesystemStorage(root: string): DriverSelection {
  return { driver: 'filesystem', key: 'filesystem', parameters: { rootdirectory: root } };
}

/** S3 on the test server's bucket (or a proxy in front of it: `endpoint`), the driver root `rootDirectory`. */
export function s3Storage(
  at: { readonly bucket: string; readonly endpoint: string },
  rootDirectory: string,
  more: More = {},
): DriverSelection {
  return {
    driver: 's3',
    key: 's3',
    parameters: {
      bucket: at.bucket,
      region: 'us-east-1',
      regionendpoint: at.endpoint,
      accesskey: S3_ACCESS_KEY,
      secretkey: S3_SECRET_KEY,
      rootdirectory: rootDirectory,
      ...more,
    },
  };
}

/** GCS on the local test server (or a proxy: `endpoint`), `bucket`, the driver root `rootDirectory`. */
export function gcsStorage(
  at: { readonly endpoint: string },
  bucket: string,
  rootDirectory: string,
  more: More = {},
): DriverSelection {
  return {
    driver: 'gcs',
    key: 'gcs',
    parameters: { bucket, endpoint: at.endpoint, rootdirectory: rootDirectory, ...more },
  };
}

/** The config.yml lines of a storage selection, indented under `storage:`. */
export function storageYaml(s: DriverSelection): string[] {
  return [`  ${s.key}:`, ...Object.entries(s.parameters).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)];
}
