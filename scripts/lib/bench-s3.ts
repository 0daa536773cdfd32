/**
 * Object-store variants of the benchmark. S3: a one-node Ceph cluster (radosgw, test/helpers/ceph.ts)
 * loaded with the corpus; GCS: the JSON-API test server (test/helpers/gcs-server.ts) in this process.
 * Either sits behind the local proxy (scripts/lib/storage-proxy.ts) that adds the `--delay-ms`
 * latency to every request and counts the most in flight. Returns the storage section of the config.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CEPH_ACCESS_KEY, CEPH_SECRET_KEY, startCephCluster } from '../../test/helpers/ceph.js';
import { startGcsServer } from '../../test/helpers/gcs-server.js';
import { gcsStorage, s3Storage, storageYaml } from '../../test/helpers/storage-configs.js';
import type { DriverSelection } from '../../drivers/factory.js';
import { startStorageProxy, type StorageProxy } from './storage-proxy.js';

const UPLOAD_CONCURRENCY = 32;
const BUCKET = 'registry';

function* treeFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* treeFiles(p);
    else if (e.isFile()) yield p;
  }
}

export interface LoadedStore {
  readonly storageYaml: string;
  readonly proxy: StorageProxy;
  readonly objects: number;
  readonly seconds: number;
  /** Process ids of the store's own daemons (none for the GCS server: it runs in this process). */
  storePids(): number[];
  close(): Promise<void>;
}

/** Starts Ceph, uploads every file below `<root>/docker` under its relative key, and a proxy. */
export async function startLoadedS3(root: string, delayMs: number): Promise<LoadedStore> {
  const started = process.hrtime.bigint();
  const cluster = await startCephCluster();
  const client = new S3Client({
    endpoint: cluster.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: CEPH_ACCESS_KEY, secretAccessKey: CEPH_SECRET_KEY },
  });
  const files = treeFiles(join(root, 'docker'));
  let objects = 0;
  const worker = async (): Promise<void> => {
    for (let next = files.next(); next.done !== true; next = files.next()) {
      const key = relative(root, next.value).split('\\').join('/');
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(next.value) }));
      objects++;
    }
  };
  try {
    const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, worker));
  } catch (err) {
    await cluster.stop();
    throw err;
  } finally {
    client.destroy();
  }
  // GitLab's default rate cap (350 requests/s) would bound the import at ~170 tags/s whatever the
  // store sustains; the bench measures the importer, so the cap is off (0).
  const proxy = await startStorageProxy({ target: cluster.endpoint, delayMs });
  return loaded(
    started,
    objects,
    proxy,
    s3Storage({ bucket: BUCKET, endpoint: proxy.endpoint }, '/', {
      pathstyle: true,
      secure: false,
      maxrequestspersecond: 0,
    }),
    () => cluster.pids(),
    () => cluster.stop(),
  );
}

/** Starts the GCS test server in this process, loads the corpus, and a proxy in front. */
export async function startLoadedGcs(root: string, delayMs: number): Promise<LoadedStore> {
  const started = process.hrtime.bigint();
  const server = await startGcsServer();
  let objects = 0;
  for (const file of treeFiles(join(root, 'docker'))) {
    server.put(BUCKET, relative(root, file).split('\\').join('/'), readFileSync(file));
    objects++;
  }
  const proxy = await startStorageProxy({ target: server.endpoint, delayMs });
  return loaded(
    started,
    objects,
    proxy,
    gcsStorage(proxy, BUCKET, '/'),
    () => [],
    () => server.close(),
  );
}

/** A loaded store: its config section (through the proxy), the proxy, and how to stop both. */
function loaded(
  started: bigint,
  objects: number,
  proxy: StorageProxy,
  storage: DriverSelection,
  storePids: () => number[],
  stopStore: () => Promise<void>,
): LoadedStore {
  return {
    storageYaml: ['storage:', ...storageYaml(storage), ''].join('\n'),
    proxy,
    objects,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    storePids,
    close: async () => {
      await proxy.close();
      await stopStore();
    },
  };
}
