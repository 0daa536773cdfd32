/**
 * Retries through real failures on the wire: a fault proxy in front of Ceph radosgw and of the GCS test
 * server injects 500, 503, S3 SlowDown, GCS 429, connection resets and slow responses. Each transient
 * fault is retried (and logged) until the request succeeds; a persistent one ends in StorageDriverError
 * after the bounded number of attempts; a non-transient one is not retried. The proxy's own request log
 * proves that every attempt the driver counts is one HTTP request (the SDKs' retries are off).
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FileInfo, StorageDriver } from '../../drivers/driver.js';
import { PathNotFoundError, StorageDriverError } from '../../drivers/errors.js';
import { createDriver } from '../../drivers/factory.js';
import { listTree, loadTreeIntoGcs, uploadTreeToS3, type TreeFile } from '../helpers/driver-backends.js';
import { gcsStorage, s3Storage } from '../helpers/storage-configs.js';
import { writeEdgeTree, type EdgeTree } from '../helpers/edge-tree.js';
import { faults, startFaultProxy, type Fault, type FaultProxy } from '../helpers/fault-proxy.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const V2 = '/docker/registry/v2';
const MAX_RETRIES = 3;
const RETRY = { baseDelayMs: 5, maxDelayMs: 40, attemptTimeoutMs: 700, maxElapsedMs: 30_000 };

let edge: EdgeTree;
let tree: TreeFile[];
let s3: S3TestServer;
let gcs: GcsTestServer;
const proxies = {} as Record<'s3' | 'gcs', FaultProxy>;

beforeAll(async () => {
  edge = writeEdgeTree({ namespaces: 1, layersPerRepo: 20 });
  tree = listTree(edge.root);
  [s3, gcs] = await Promise.all([startS3Server(), startGcsServer()]);
  await uploadTreeToS3(s3, tree, 'faults/');
  loadTreeIntoGcs(gcs, 'faults', tree, 'faults/');
  proxies.s3 = await startFaultProxy({ port: s3.port });
  proxies.gcs = await startFaultProxy({ port: gcs.port });
});

afterAll(async () => {
  await Promise.all([proxies.s3?.close(), proxies.gcs?.close()]);
  await Promise.all([s3?.close(), gcs?.close()]);
  if (edge) rmSync(edge.root, { recursive: true, force: true });
});

function makeDriver(kind: 's3' | 'gcs', log: CapturedLog): Promise<StorageDriver> {
  if (kind === 's3') {
    return createDriver(
      s3Storage({ bucket: s3.bucket, endpoint: proxies.s3.url }, 'faults', {
        maxretries: MAX_RETRIES,
        maxrequestspersecond: 0,
      }),
      { logger: log.logger, retry: RETRY },
    );
  }
  return createDriver(
    gcsStorage({ endpoint: proxies.gcs.url }, 'faults', 'faults', { maxretries: MAX_RETRIES }),
    { logger: log.logger, retry: RETRY },
  );
}

const transient: Record<'s3' | 'gcs', Array<[string, Fault]>> = {
  s3: [
    ['500 InternalError', faults.s3Error(500, 'InternalError', 'We encountered an internal error.')],
    ['503 ServiceUnavailable', faults.s3Error(503, 'ServiceUnavailable', 'Service unavailable')],
    ['503 SlowDown', faults.slowDown()],
    ['connection reset', faults.reset()],
    ['slow response', faults.slow(2_000)],
  ],
  gcs: [
    ['500', faults.gcsError(500, 'Internal error')],
    ['503', faults.gcsError(503, 'Service unavailable')],
    [
      '429',
      faults.gcsError(429, 'The rate of change requests to the object is too high', 'rateLimitExceeded'),
    ],
    ['connection reset', faults.reset()],
    ['slow response', faults.slow(2_000)],
  ],
};

describe.each(['s3', 'gcs'] as const)('%s through the fault proxy', (kind) => {
  let log: CapturedLog;
  let driver: StorageDriver;
  const file = (): TreeFile => tree.find((f) => f.path.endsWith('/_manifests/tags/latest/current/link'))!;

  beforeEach(async () => {
    proxies[kind].reset();
    log = captureLog();
    driver = await makeDriver(kind, log);
    return () => driver.close();
  });

  it.each(transient[kind])('retries %s twice, then reads the object', async (_name, fault) => {
    proxies[kind].inject(fault, { times: 2 });
    const content = await driver.getContent(file().path, { maxBytes: 1000 });
    expect(content.toString()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const wire = proxies[kind].requests;
    expect(wire.map((r) => r.fault ?? 'ok')).toEqual([fault.kind, fault.kind, 'ok']);
    expect(driver.requestCounts().get).toBe(3);
    const retries = log.messages('transient storage error, retrying');
    expect(retries.map((r) => r['retry'])).toEqual([1, 2]);
    expect(retries[0]).toMatchObject({
      driver: driver.name,
      path: file().path,
      maxAttempts: MAX_RETRIES + 1,
    });
  });

  it('retries a body cut off mid-transfer and returns the whole object', async () => {
    proxies[kind].inject(faults.cut(100_000), { times: 1 });
    const content = await driver.getContent(edge.bigBlob, { maxBytes: 1 << 20 });
    expect(content.length).toBe(edge.bigBlobSize);
    expect(content.equals(Buffer.alloc(edge.bigBlobSize, 0x61))).toBe(true);
    expect(proxies[kind].requests.map((r) => r.fault ?? 'ok')).toEqual(['cut', 'ok']);
    expect(driver.requestCounts().get).toBe(2);
    expect(log.messages('transient storage error, retrying')).toHaveLength(1);
  });

  it('retries a failed list page inside a walk and still yields every file in order', async () => {
    proxies[kind].inject(kind === 's3' ? faults.slowDown() : faults.gcsError(503, 'Service unavailable'), {
      times: 1,
    });
    proxies[kind].inject(faults.reset(), { times: 1 });
    const got: FileInfo[] = [];
    for await (const f of driver.walk(V2)) got.push(f);
    expect(got.map((f) => f.path)).toEqual(
      tree.filter((f) => f.path.startsWith(`${V2}/`)).map((f) => f.path),
    );
    expect(driver.requestCounts().list).toBe(proxies[kind].requests.length);
    expect(log.messages('transient storage error, retrying')).toHaveLength(2);
  });

  it('gives up after the bounded attempts with a StorageDriverError, logging the retry count', async () => {
    proxies[kind].inject(
      kind === 's3' ? faults.s3Error(503, 'ServiceUnavailable') : faults.gcsError(503, 'down'),
      {
        times: Infinity,
      },
    );
    const err = await driver.getContent(file().path, { maxBytes: 1000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageDriverError);
    const sde = err as StorageDriverError;
    expect(sde.attempts).toBe(MAX_RETRIES + 1);
    expect(sde.message).toContain(`failed after ${MAX_RETRIES + 1} attempts (${MAX_RETRIES} retries)`);
    expect(sde.cause).toBeDefined();
    expect(proxies[kind].requests).toHaveLength(MAX_RETRIES + 1);
    expect(driver.requestCounts().get).toBe(MAX_RETRIES + 1);
    expect(log.messages('transient storage error, retrying')).toHaveLength(MAX_RETRIES);
    expect(log.messages('storage request failed, giving up')[0]).toMatchObject({
      retries: MAX_RETRIES,
      attempts: MAX_RETRIES + 1,
    });
  });

  it('stops early when the time bound is reached', async () => {
    const quick = await createDriver(
      kind === 's3'
        ? s3Storage({ bucket: s3.bucket, endpoint: proxies.s3.url }, 'faults', { maxretries: 50 })
        : gcsStorage({ endpoint: proxies.gcs.url }, 'faults', 'faults', { maxretries: 50 }),
      {
        logger: log.logger,
        retry: { baseDelayMs: 50, maxDelayMs: 50, maxElapsedMs: 300, attemptTimeoutMs: 700 },
      },
    );
    proxies[kind].inject(faults.reset(), { times: Infinity });
    const started = Date.now();
    const err = await quick.getContent(file().path, { maxBytes: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageDriverError);
    expect((err as StorageDriverError).attempts).toBeLessThan(51);
    expect(Date.now() - started).toBeLessThan(5_000);
    await quick.close();
  });

  it('does not retry a non-transient error, and a 404 is PathNotFoundError after one request', async () => {
    proxies[kind].inject(
      kind === 's3'
        ? faults.s3Error(403, 'AccessDenied', 'Access Denied')
        : faults.gcsError(403, 'Forbidden', 'forbidden'),
    );
    const err = await driver.getContent(file().path, { maxBytes: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageDriverError);
    expect((err as StorageDriverError).attempts).toBe(1);
    const missing = await driver
      .getContent(`${V2}/repositories/none/x`, { maxBytes: 10 })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PathNotFoundError);
    expect(proxies[kind].requests).toHaveLength(2);
    expect(log.messages('transient storage error, retrying')).toHaveLength(0);
  });
});
