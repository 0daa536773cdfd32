/**
 * What a walk costs in list requests. Without a delimiter an object store returns 1,000 keys a request,
 * so a serial walk of N keys costs ceil(N/1000) requests. A ranged walk lists the first page, one
 * delimiter listing to find the ranges, then ceil(n/1000) per range for the n keys left in it.
 * Counted three ways: the driver's own counts, the proxy in front of the server, and the expectation.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageDriver, WalkOptions } from '../../drivers/driver.js';
import { GcsDriver } from '../../drivers/gcs.js';
import type { ObjectWalkTuning } from '../../drivers/object-walk.js';
import { S3Driver } from '../../drivers/s3.js';
import { listTree, loadTreeIntoGcs, uploadTreeToS3, type TreeFile } from '../helpers/driver-backends.js';
import { faults, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const REPOS = `/docker/registry/v2/repositories`;
const PER_TEAM = 1_500;
const TEAMS = 3;

let root: string;
let tree: TreeFile[];
let s3: S3TestServer;
let gcs: GcsTestServer;
const proxies = {} as Record<'s3' | 'gcs', FaultProxy>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'regdb-requests-'));
  for (let t = 0; t < TEAMS; t++) {
    for (let i = 0; i < PER_TEAM; i++) {
      const d = createHash('sha256').update(`${t}/${i}`).digest('hex');
      const file = join(root, `docker/registry/v2/repositories/team${t}/img/_layers/sha256/${d}/link`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `sha256:${d}`);
    }
  }
  tree = listTree(root);
  [s3, gcs] = await Promise.all([startS3Server(), startGcsServer()]);
  await uploadTreeToS3(s3, tree, 'counts/');
  loadTreeIntoGcs(gcs, 'counts', tree, 'counts/');
  proxies.s3 = await startFaultProxy({ port: s3.port });
  proxies.gcs = await startFaultProxy({ port: gcs.port });
}, 300_000);

afterAll(async () => {
  await Promise.all([proxies.s3?.close(), proxies.gcs?.close()]);
  await Promise.all([s3?.close(), gcs?.close()]);
  if (root) rmSync(root, { recursive: true, force: true });
});

function makeDriver(
  kind: 's3' | 'gcs',
  ranges: number,
  tuning: Partial<ObjectWalkTuning> = {},
): StorageDriver {
  return kind === 's3'
    ? new S3Driver({
        name: 's3aws',
        bucket: s3.bucket,
        region: 'us-east-1',
        regionEndpoint: proxies.s3.url,
        accessKey: S3_ACCESS_KEY,
        secretKey: S3_SECRET_KEY,
        rootDirectory: '/counts',
        maxRequestsPerSecond: 0,
        concurrency: 8,
        walkTuning: { rangeConcurrency: ranges, minKeysPerRange: 1000, ...tuning },
      })
    : new GcsDriver({
        bucket: 'counts',
        rootDirectory: 'counts',
        endpoint: proxies.gcs.url,
        concurrency: 8,
        walkTuning: { rangeConcurrency: ranges, minKeysPerRange: 1000, ...tuning },
      });
}

async function walkPaths(d: StorageDriver, prefix: string, opts?: WalkOptions): Promise<string[]> {
  const out: string[] = [];
  for await (const f of d.walk(prefix, opts)) out.push(f.path);
  return out;
}

describe.each(['s3', 'gcs'] as const)('%s list requests', (kind) => {
  const ceil = (n: number): number => Math.ceil(n / 1000);

  it(`a serial walk of ${TEAMS * PER_TEAM} keys costs ceil(N/1000) requests`, async () => {
    proxies[kind].reset();
    const d = makeDriver(kind, 1);
    const paths = await walkPaths(d, REPOS);
    expect(paths).toEqual(tree.map((f) => f.path));
    expect(d.requestCounts().list).toBe(ceil(TEAMS * PER_TEAM));
    expect(proxies[kind].requests).toHaveLength(ceil(TEAMS * PER_TEAM));
    await d.close();
  });

  it('a ranged walk costs the first page, one delimiter listing, and ceil(n/1000) per range', async () => {
    proxies[kind].reset();
    const d = makeDriver(kind, 4);
    const paths = await walkPaths(d, REPOS);
    expect(paths).toEqual(tree.map((f) => f.path));
    // Page one holds team0's first 1,000 keys. Density (1,000 keys per child seen) makes three ranges cut
    // at child boundaries: (rest of team0), team1, team2. No page ends exactly on a boundary here,
    // so each range costs ceil(its keys / 1000).
    const expected = 1 + 1 + ceil(PER_TEAM - 1000) + (TEAMS - 1) * ceil(PER_TEAM);
    expect(d.requestCounts().list).toBe(expected);
    expect(proxies[kind].requests).toHaveLength(expected);
    // One delimiter listing found the ranges.
    expect(proxies[kind].requests.filter((r) => /delimiter=%2F|delimiter=\//.test(r.url))).toHaveLength(1);
    await d.close();
  });

  it('lists the ranges concurrently', async () => {
    proxies[kind].reset();
    // Every range request is held back 300 ms: listed one after another they could never overlap.
    proxies[kind].inject(faults.slow(300), {
      times: Infinity,
      match: (r) => /team[12]/.test(decodeURIComponent(r.url)),
    });
    const d = makeDriver(kind, 4);
    expect(await walkPaths(d, REPOS)).toEqual(tree.map((f) => f.path));
    expect(proxies[kind].maxInFlight()).toBeGreaterThanOrEqual(2);
    await d.close();
  });

  it('a walk cut into 32 ranges yields what a serial walk yields, with prune and startAfter', async () => {
    const layers = `${REPOS}/team1/img/_layers/sha256`;
    const inTeam1 = tree.filter((f) => f.path.startsWith(`${layers}/`));
    const startAfter = inTeam1[100]!.path;
    const prunedDirs = new Set(
      inTeam1.filter((_, i) => i % 7 === 0).map((f) => f.path.slice(0, f.path.lastIndexOf('/'))),
    );
    const prune = (dir: string): boolean => prunedDirs.has(dir);
    const want = inTeam1
      .filter((f) => f.path > startAfter && !prunedDirs.has(f.path.slice(0, f.path.lastIndexOf('/'))))
      .map((f) => f.path);
    proxies[kind].reset();
    const many = makeDriver(kind, 8, { minKeysPerRange: 1 });
    expect(await walkPaths(many, layers, { prune, startAfter })).toEqual(want);
    expect(await walkPaths(many, layers)).toEqual(inTeam1.map((f) => f.path));
    const serial = makeDriver(kind, 1);
    expect(await walkPaths(serial, layers, { prune, startAfter })).toEqual(want);
    // Per walk: the first page, the delimiter listing of 1,500 children (2 pages), then one request per
    // range for 1,500 keys in 32 ranges: more than the 2 a serial walk needs, bounded by the ranges.
    expect(many.requestCounts().list).toBeLessThanOrEqual(2 * (1 + 2 + 32));
    expect(many.requestCounts().list + serial.requestCounts().list).toBe(proxies[kind].requests.length);
    await Promise.all([many.close(), serial.close()]);
  });

  it('a small walk is one request, and prune skips a subtree without listing it', async () => {
    proxies[kind].reset();
    const d = makeDriver(kind, 4);
    const one = await walkPaths(d, `${REPOS}/team0/img/_layers/sha256/${tree[0]!.path.split('/')[9]}`);
    expect(one).toEqual([tree[0]!.path]);
    expect(d.requestCounts().list).toBe(1);
    // Pruning team1 (1,500 keys) during a serial walk restarts the listing past it: page 2 ends inside
    // team1, the next request starts after team1; 4 requests instead of 5.
    const serial = makeDriver(kind, 1);
    proxies[kind].reset();
    const pruned = await walkPaths(serial, REPOS, { prune: (dir) => dir === `${REPOS}/team1` });
    expect(pruned).toEqual(tree.filter((f) => !f.path.startsWith(`${REPOS}/team1/`)).map((f) => f.path));
    expect(serial.requestCounts().list).toBe(ceil(TEAMS * PER_TEAM) - 1);
    expect(serial.requestCounts().list).toBe(proxies[kind].requests.length);
    await Promise.all([d.close(), serial.close()]);
  });
});
