/**
 * Read throughput of the storage drivers on a synthetic registry tree, with `find | xargs cat` as the
 * filesystem baseline (issue 3 §2: the filesystem driver must stay within 2x of cat).
 *
 *   npm run bench:drivers -- [--repos 2000] [--files-per-repo 120] [--object-repos 50] [--rounds 3] [--dir PATH] [--keep]
 *
 * Generates <repos> repositories of ~<files-per-repo> small link files in a temporary folder (or reuses
 * --dir), then times: cat; the filesystem driver walking and reading every file (single getContent calls
 * with a bounded window, and getContents batches); S3 (Ceph radosgw) and GCS (the local test server) on the
 * first <object-repos> repositories. Prints files/s, MB/s and the ratio to cat.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { StorageDriver } from '../drivers/driver.js';
import { createDriver } from '../drivers/factory.js';
import { listTree, loadTreeIntoGcs, uploadTreeToS3 } from '../test/helpers/driver-backends.js';
import { startGcsServer } from '../test/helpers/gcs-server.js';
import { startCephCluster } from '../test/helpers/ceph.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server } from '../test/helpers/s3-server.js';

function arg(name: string, fallback: number): number;
function arg(name: string): string | undefined;
function arg(name: string, fallback?: number): number | string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  return fallback === undefined ? v : Number(v);
}

const repos = arg('repos', 2000);
const filesPerRepo = arg('files-per-repo', 120);
const objectRepos = arg('object-repos', 50);
const keep = process.argv.includes('--keep');
const rounds = arg('rounds', 3);
const V2 = '/docker/registry/v2';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Repositories `ns<r%50>/repo<r>`, each with tags (current + index links), revisions and layer links. */
function generate(root: string, count: number): void {
  const tags = Math.max(1, Math.floor(filesPerRepo / 6));
  const layers = Math.max(0, filesPerRepo - 3 * tags);
  for (let r = 0; r < count; r++) {
    const repo = join(root, `docker/registry/v2/repositories/ns${r % 50}/repo${r}`);
    const put = (rel: string, content: string): void => {
      const file = join(repo, rel);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, content);
    };
    for (let t = 0; t < tags; t++) {
      const d = hex(`${r}:${t}`);
      put(`_manifests/tags/t${t}/current/link`, `sha256:${d}`);
      put(`_manifests/tags/t${t}/index/sha256/${d}/link`, `sha256:${d}`);
      put(`_manifests/revisions/sha256/${d}/link`, `sha256:${d}`);
    }
    for (let l = 0; l < layers; l++) {
      const d = hex(`${r}/${l}`);
      put(`_layers/sha256/${d}/link`, `sha256:${d}`);
    }
  }
}

interface Result {
  readonly name: string;
  readonly files: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly requests?: string;
}

function timeCat(root: string): Result {
  const script = `find '${root}/docker' -type f -print0 | xargs -0 cat | wc -c`;
  const countScript = `find '${root}/docker' -type f | wc -l`;
  const files = Number(spawnSync('bash', ['-c', countScript], { encoding: 'utf8' }).stdout.trim());
  const t0 = performance.now();
  const out = spawnSync('bash', ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  return { name: 'find | xargs cat', files, bytes: Number(out.stdout.trim()), seconds };
}

/** `xargs cat` over a list of files made beforehand: reading alone, no directory walk. */
function timeCatKnown(listFile: string, files: number): Result {
  const t0 = performance.now();
  const out = spawnSync('bash', ['-c', `xargs -0 cat < '${listFile}' | wc -c`], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  return { name: 'xargs cat (paths known)', files, bytes: Number(out.stdout.trim()), seconds };
}

/** getContents over driver paths known beforehand (how the importer reads links and manifests). */
async function timeKnown(driver: StorageDriver, paths: readonly string[]): Promise<Result> {
  const t0 = performance.now();
  let bytes = 0;
  const batches: string[][] = [];
  for (let i = 0; i < paths.length; i += 1000) batches.push(paths.slice(i, i + 1000));
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) {
        for (const r of await driver.getContents(batches[next++]!, { maxBytes: 1 << 20 })) {
          if (r.error) throw r.error;
          bytes += r.content.length;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { name: 'filesystem getContents (paths known)', files: paths.length, bytes, seconds };
}

async function timeDriver(name: string, driver: StorageDriver, mode: 'single' | 'batch'): Promise<Result> {
  const t0 = performance.now();
  let files = 0;
  let bytes = 0;
  // A counting window: at most `limit` reads (or batches) in flight, no per-file scans.
  const limit = mode === 'single' ? 2048 : 4;
  let inflight = 0;
  let wake: (() => void) | undefined;
  let failure: unknown;
  const done = (): void => {
    inflight--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const start = (p: Promise<void>): void => {
    inflight++;
    p.catch((err: unknown) => (failure ??= err)).finally(done);
  };
  const room = async (max: number): Promise<void> => {
    while (inflight >= max) await new Promise<void>((r) => (wake = r));
  };
  const readBatch = async (paths: string[]): Promise<void> => {
    for (const r of await driver.getContents(paths, { maxBytes: 1 << 20 })) {
      if (r.error) throw r.error;
      files++;
      bytes += r.content.length;
    }
  };
  let batch: string[] = [];
  for await (const f of driver.walk(V2)) {
    if (mode === 'single') {
      start(
        driver.getContent(f.path, { maxBytes: 1 << 20 }).then((c) => {
          files++;
          bytes += c.length;
        }),
      );
    } else {
      batch.push(f.path);
      if (batch.length < 1000) continue;
      start(readBatch(batch));
      batch = [];
    }
    await room(limit);
  }
  if (batch.length > 0) start(readBatch(batch));
  await room(1);
  if (failure) throw failure;
  const seconds = (performance.now() - t0) / 1000;
  const c = driver.requestCounts();
  return { name, files, bytes, seconds, requests: `list ${c.list}, get ${c.get}` };
}

function print(results: Result[], baseline: Result): void {
  const rows = results.map((r) => [
    r.name,
    String(r.files),
    r.seconds.toFixed(2),
    Math.round(r.files / r.seconds).toString(),
    (r.bytes / 1e6 / r.seconds).toFixed(2),
    r === baseline ? '1.00' : r.files === baseline.files ? (r.seconds / baseline.seconds).toFixed(2) : '-',
    r.requests ?? '',
  ]);
  const head = ['run', 'files', 'seconds', 'files/s', 'MB/s', `x ${baseline.name.split(' ')[0]}`, 'requests'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const given = arg('dir');
  const root = given ?? mkdtempSync(join(tmpdir(), 'regdb-bench-drivers-'));
  try {
    if (!existsSync(join(root, 'docker'))) {
      const t0 = performance.now();
      generate(root, repos);
      console.error(
        `generated ${repos} repositories in ${((performance.now() - t0) / 1000).toFixed(1)} s at ${root}`,
      );
    }
    // Rounds alternate cat and the driver so that both see the same machine load; medians are shown.
    const runs: Record<string, Result[]> = {};
    const add = (r: Result): void => void (runs[r.name] ??= []).push(r);
    timeCat(root); // warm the page cache so both sides read from memory
    const known = listTree(root);
    const listFile = join(root, '..', `${basename(root)}.files`);
    writeFileSync(listFile, known.map((f) => f.file).join('\0'));
    for (let round = 0; round < rounds; round++) {
      add(timeCat(root));
      add(timeCatKnown(listFile, known.length));
      const reader = await createDriver({
        driver: 'filesystem',
        key: 'filesystem',
        parameters: { rootdirectory: root },
      });
      add(
        await timeKnown(
          reader,
          known.map((f) => f.path),
        ),
      );
      await reader.close();
      for (const mode of ['single', 'batch'] as const) {
        const driver = await createDriver({
          driver: 'filesystem',
          key: 'filesystem',
          parameters: { rootdirectory: root },
        });
        add(await timeDriver(`filesystem ${mode === 'single' ? 'getContent' : 'getContents'}`, driver, mode));
        await driver.close();
      }
    }
    const median = (rs: Result[]): Result =>
      [...rs].sort((a, b) => a.seconds - b.seconds)[Math.floor(rs.length / 2)]!;
    rmSync(listFile, { force: true });
    const fsResults = Object.values(runs).map(median);
    console.log(
      `\nfilesystem: ${repos} repositories, median of ${rounds} rounds, load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`,
    );
    print(
      fsResults.filter((r) => !r.name.includes('known')),
      fsResults[0]!,
    );
    print(
      fsResults.filter((r) => r.name.includes('known')),
      fsResults.find((r) => r.name.startsWith('xargs'))!,
    );

    // Object stores on the first repositories (namespaces ns0..ns49 hold repo0..; take whole repos).
    const subset = listTree(root).filter((f) => Number(/\/repo(\d+)\//.exec(f.path)?.[1]) < objectRepos);
    const ceph = await startCephCluster();
    const s3 = await startS3Server({ target: ceph.endpoint });
    const gcs = await startGcsServer();
    try {
      await uploadTreeToS3(s3, subset, 'bench/');
      loadTreeIntoGcs(gcs, 'bench', subset, 'bench/');
      const objectResults: Result[] = [];
      const s3Driver = await createDriver(
        {
          driver: 's3',
          key: 's3',
          parameters: {
            bucket: s3.bucket,
            regionendpoint: s3.endpoint,
            accesskey: S3_ACCESS_KEY,
            secretkey: S3_SECRET_KEY,
            rootdirectory: '/bench',
            maxrequestspersecond: 0,
          },
        },
        { concurrency: 50 },
      );
      objectResults.push(await timeDriver('s3 (Ceph radosgw) getContents', s3Driver, 'batch'));
      await s3Driver.close();
      const gcsDriver = await createDriver(
        {
          driver: 'gcs',
          key: 'gcs',
          parameters: { bucket: 'bench', rootdirectory: 'bench', endpoint: gcs.endpoint },
        },
        { concurrency: 50 },
      );
      objectResults.push(await timeDriver('gcs (local server) getContents', gcsDriver, 'batch'));
      await gcsDriver.close();
      console.log(`\nobject stores: ${objectRepos} repositories, local servers on 127.0.0.1`);
      print(objectResults, objectResults[0]!);
    } finally {
      await Promise.all([s3.close(), gcs.close()]);
      await ceph.stop();
    }
  } finally {
    if (!given && !keep) rmSync(root, { recursive: true, force: true });
    else console.error(`tree kept at ${root}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
