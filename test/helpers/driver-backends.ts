/**
 * Puts one on-disk storage tree behind all three drivers: the filesystem driver on the tree itself,
 * S3 (Ceph radosgw, the tree uploaded with the AWS SDK under a root prefix) and GCS (the local GCS server,
 * the tree loaded under a root prefix). Used by the driver conformance, fault and request tests.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { compareBytewise } from '../../drivers/paths.js';
import { mapBounded } from '../../drivers/requests.js';
import type { GcsTestServer } from './gcs-server.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, type S3TestServer } from './s3-server.js';

export interface TreeFile {
  /** Driver path, e.g. /docker/registry/v2/... */
  readonly path: string;
  readonly size: number;
  readonly file: string;
}

/** Every regular file below `root`/docker, independent of the drivers: readdir + stat, sorted bytewise. */
export function listTree(root: string, under = 'docker'): TreeFile[] {
  const out: TreeFile[] = [];
  const visit = (dir: string, path: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const file = join(dir, e.name);
      if (e.isDirectory()) visit(file, `${path}/${e.name}`);
      else if (e.isFile()) out.push({ path: `${path}/${e.name}`, size: statSync(file).size, file });
    }
  };
  visit(join(root, under), `/${under}`);
  return out.sort((a, b) => compareBytewise(a.path, b.path));
}

/** The key a driver path gets under `rootPrefix` ('' or 'a/b/'). */
export function keyFor(rootPrefix: string, path: string): string {
  return rootPrefix + path.slice(1);
}

export async function uploadTreeToS3(
  server: S3TestServer,
  files: readonly TreeFile[],
  rootPrefix: string,
): Promise<void> {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    await mapBounded(files, 16, (f) =>
      client.send(
        new PutObjectCommand({
          Bucket: server.bucket,
          Key: keyFor(rootPrefix, f.path),
          Body: readFileSync(f.file),
        }),
      ),
    );
  } finally {
    client.destroy();
  }
}

export function loadTreeIntoGcs(
  server: GcsTestServer,
  bucket: string,
  files: readonly TreeFile[],
  rootPrefix: string,
): void {
  for (const f of files) server.put(bucket, keyFor(rootPrefix, f.path), readFileSync(f.file));
}
