/**
 * vitest globalSetup of the integration project: one Ceph cluster (radosgw, S3) for the whole run,
 * stopped at its end. Tests reach it through test/helpers/s3-server.ts, which reads the address
 * from REGDB_TEST_CEPH_S3; when that is already set (a cluster started outside), none is started.
 */
import { startCephCluster } from './ceph.js';
import { CEPH_ENDPOINT_ENV } from './s3-server.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env[CEPH_ENDPOINT_ENV]) return undefined;
  const started = performance.now();
  const cluster = await startCephCluster();
  process.env[CEPH_ENDPOINT_ENV] = cluster.endpoint;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`regdb tests: Ceph radosgw (S3) at ${cluster.endpoint}, started in ${seconds}s\n`);
  return async () => {
    delete process.env[CEPH_ENDPOINT_ENV];
    await cluster.stop();
  };
}
