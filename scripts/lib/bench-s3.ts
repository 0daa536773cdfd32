/**
 * S3 variant of the benchmark: s3rver in-process (test/helpers/s3-server.ts) loaded with the corpus,
 * and the storage section that points an import at it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  S3_ACCESS_KEY,
  S3_SECRET_KEY,
  startS3Server,
  type S3TestServer,
} from '../../test/helpers/s3-server.js';

const UPLOAD_CONCURRENCY = 32;

function* treeFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* treeFiles(p);
    else if (e.isFile()) yield p;
  }
}

/** Starts s3rver and uploads every file below `<root>/docker` under its relative key. */
export async function startLoadedS3(
  root: string,
): Promise<{ server: S3TestServer; objects: number; seconds: number }> {
  const started = process.hrtime.bigint();
  const server = await startS3Server();
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  });
  const files = treeFiles(join(root, 'docker'));
  let objects = 0;
  const worker = async (): Promise<void> => {
    for (let next = files.next(); next.done !== true; next = files.next()) {
      const key = relative(root, next.value).split('\\').join('/');
      await client.send(
        new PutObjectCommand({ Bucket: server.bucket, Key: key, Body: readFileSync(next.value) }),
      );
      objects++;
    }
  };
  try {
    await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, worker));
  } finally {
    client.destroy();
  }
  return { server, objects, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

export function s3StorageYaml(server: S3TestServer): string {
  return [
    'storage:',
    '  s3:',
    `    accesskey: ${S3_ACCESS_KEY}`,
    `    secretkey: ${S3_SECRET_KEY}`,
    '    region: us-east-1',
    `    regionendpoint: ${server.endpoint}`,
    `    bucket: ${server.bucket}`,
    '    pathstyle: true',
    '    secure: false',
    '',
  ].join('\n');
}
