/**
 * Issue 5 §4: outages mid-run end in retries or a clean failure, and the rerun completes with exactly
 * the rows of an uninterrupted import.
 * - Database: the importer's PostgreSQL backends are killed with pg_terminate_backend from another
 *   connection while `regdb database import` runs on a synthetic tree (scripts/gen-synthetic).
 * - Storage: a fault proxy in front of Ceph radosgw and of the GCS test server answers 500/503/SlowDown/429
 *   or resets the connection, for a while (retried, success) or for one object always (exit 1 naming
 *   the object, then a clean rerun).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { testServer, type TestDatabase } from '../helpers/db.js';
import { listTree, loadTreeIntoGcs, uploadTreeToS3 } from '../helpers/driver-backends.js';
import {
  faults,
  startFaultProxy,
  type Fault,
  type FaultProxy,
  type RecordedRequest,
} from '../helpers/fault-proxy.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';
import type { Dump } from '../helpers/golden.js';
import { FIXTURES } from '../helpers/import-run.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { testWork } from '../helpers/work.js';
import {
  describeRun,
  importDump,
  runImportProcess,
  syntheticTree,
  writeImportConfig,
  type ImportRun,
  type SyntheticTree,
} from './import-kill-support.js';

const work = testWork('import-failures');

/** The statistics row differs between runs by design (errors, driver): compared separately. */
function rowsOf(dump: Dump): Dump {
  const { import_statistics: _stats, ...rest } = dump;
  return rest;
}

interface StatisticsRow {
  pre_import_error: string | null;
  tag_import_error: string | null;
  blob_import_error: string | null;
}

/** The last run's import_statistics row recorded no error. */
function expectLastRunClean(dump: Dump): void {
  const stats = dump['import_statistics'] as StatisticsRow[];
  expect(stats.length).toBeGreaterThan(0);
  const last = stats[stats.length - 1]!;
  expect([last.pre_import_error, last.tag_import_error, last.blob_import_error]).toEqual([null, null, null]);
}

/** The one-line error the CLI prints on stderr for a failed run (exit 1). */
function errorLine(run: ImportRun): string {
  const lines = run.stderr.split('\n').filter((l) => l.startsWith('regdb: '));
  expect(lines, run.stderr).toHaveLength(1);
  return lines[0]!;
}

/** The JSON log file the run named on stderr, as parsed records. */
function logRecords(run: ImportRun): Array<Record<string, unknown>> {
  const file = /detailed log written to: (.+)/.exec(run.stderr)?.[1];
  expect(file, run.stderr).toBeDefined();
  return readFileSync(file!.trim(), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('database connections killed mid-run (pg_terminate_backend)', () => {
  // Small batches and little concurrency: many short transactions, so a kill lands inside one.
  const ARGS = ['--batch-size', '30', '--concurrency', '2'];
  let tree: SyntheticTree;
  let reference: Dump;
  let admin: pg.Client;

  beforeAll(async () => {
    tree = syntheticTree({ repositories: 30, tags: 300, layerRefs: 1500, sharedLayers: 300, seed: 23 });
    work.defer(() => tree.remove());
    admin = new pg.Client({ connectionString: testServer().adminUrl });
    await admin.connect();
    work.defer(() => admin.end());
    const db = await work.database();
    const run = await runImportProcess(writeImportConfig(work.path, db, tree.root), ARGS, work.path);
    expect(run.code, describeRun(run)).toBe(0);
    reference = await importDump(db);
    await db.drop();
    expect(reference['tags']).toHaveLength(300);
  });

  /**
   * Runs the import while `kill` is called every few milliseconds with the database name; returns
   * the run and how many backends were terminated. The run must end on its own within a minute.
   */
  async function importWhileKilling(
    db: TestDatabase,
    kill: (dbname: string) => Promise<number>,
  ): Promise<{ run: ImportRun; killed: number }> {
    const config = writeImportConfig(work.path, db, tree.root);
    let done = false;
    const running = runImportProcess(config, ARGS, work.path).finally(() => (done = true));
    let killed = 0;
    const deadline = Date.now() + 60_000;
    while (!done && Date.now() < deadline) {
      killed += await kill(db.name);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(done, 'the import did not end within a minute of its connections being killed').toBe(true);
    return { run: await running, killed };
  }

  it('a backend killed inside a COPY is retried: exit 0 and the rows of an uninterrupted import', async () => {
    const db = await work.database();
    let kills = 0;
    // At most three kills, each of a backend that is running a COPY at that very moment (one statement
    // picks and terminates it, so it cannot have moved on to a read outside a batch transaction).
    const { run, killed } = await importWhileKilling(db, async (dbname) => {
      if (kills >= 3) return 0;
      const r = await admin.query<{ t: boolean }>(
        `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity
         WHERE datname = $1 AND application_name = 'regdb' AND state = 'active' AND query LIKE 'COPY %'`,
        [dbname],
      );
      kills += r.rowCount ?? 0;
      return r.rowCount ?? 0;
    });
    expect(killed).toBeGreaterThan(0);
    expect(run.code, describeRun(run)).toBe(0);
    const retried = logRecords(run).filter((r) => r['msg'] === 'import batch failed, retrying');
    expect(retried.length).toBeGreaterThanOrEqual(1);
    // 57P01 admin_shutdown is what pg_terminate_backend sends.
    expect(retried.map((r) => (r['err'] as { code?: string }).code)).toContain('57P01');
    const dump = await importDump(db);
    expect(rowsOf(dump)).toEqual(rowsOf(reference));
    expect(dump['import_statistics']).toHaveLength(1);
    expectLastRunClean(dump);
    await db.drop();
  });

  it('the write connection killed while idle between batches is replaced: exit 0, the same rows', async () => {
    const db = await work.database();
    let kills = 0;
    // The writer keeps its connection from batch to batch (import-writer.ts); between two batches it
    // is idle with COMMIT as its last statement, which no read runs. Killed there, it must be given
    // up and another one used; a kept connection without an error listener would crash the process.
    const { run, killed } = await importWhileKilling(db, async (dbname) => {
      if (kills >= 3) return 0;
      const r = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = $1 AND application_name = 'regdb' AND state = 'idle' AND query = 'COMMIT'`,
        [dbname],
      );
      kills += r.rowCount ?? 0;
      return r.rowCount ?? 0;
    });
    expect(killed).toBeGreaterThan(0);
    expect(run.code, describeRun(run)).toBe(0);
    const dump = await importDump(db);
    expect(rowsOf(dump)).toEqual(rowsOf(reference));
    expect(dump['import_statistics']).toHaveLength(1);
    expectLastRunClean(dump);
    await db.drop();
  });

  it('every connection killed for seconds: a clean exit 1, then the rerun gives the same rows', async () => {
    const db = await work.database();
    let started = 0;
    // Wait for the first checkpoint commit, then kill every importer backend, again and again, until
    // the run gives up.
    const { run, killed } = await importWhileKilling(db, async (dbname) => {
      if (started === 0) {
        const r = await admin.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'regdb'`,
          [dbname],
        );
        if (r.rows[0]!.n === '0') return 0;
        started = Date.now();
      }
      if (Date.now() - started < 300) return 0;
      const r = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'regdb'`,
        [dbname],
      );
      return r.rowCount ?? 0;
    });
    expect(killed).toBeGreaterThan(0);
    expect(run.code, describeRun(run)).toBe(1);
    expect(errorLine(run)).toMatch(
      // pg's messages for a connection ended by the server, seen by the query running or the next one.
      /^regdb: failed to import metadata: .*(terminating connection due to administrator command|Connection terminated|connection error and is not queryable)/,
    );

    const rerun = await runImportProcess(writeImportConfig(work.path, db, tree.root), ARGS, work.path);
    expect(rerun.code, describeRun(rerun)).toBe(0);
    const dump = await importDump(db);
    expect(rowsOf(dump)).toEqual(rowsOf(reference));
    expectLastRunClean(dump);
    await db.drop();
  });
});

describe.each(['s3', 'gcs'] as const)('storage errors through a fault proxy in front of %s', (backend) => {
  const LOCKFILES = '/docker/registry/lockfiles';
  const PREFIX = `faulty/${backend}`;
  const GCS_BUCKET = 'regdb-faults';
  /** The OCI index of group/multi:latest in the real tree (fixtures/registries/real/README.md). */
  const INDEX_DATA =
    '/docker/registry/v2/blobs/sha256/9d/9d20b9ad1468ddbde441853225867dbbfeeed22189b919ed14ccd817a3248570/data';
  let s3: S3TestServer | undefined;
  let gcs: GcsTestServer | undefined;
  let proxy: FaultProxy;
  let reference: Dump;

  beforeAll(async () => {
    const files = listTree(join(FIXTURES, 'real')).filter((f) => !f.path.startsWith(`${LOCKFILES}/`));
    if (backend === 's3') {
      s3 = await startS3Server();
      work.defer(() => s3!.close());
      await uploadTreeToS3(s3, files, `${PREFIX}/`);
      proxy = await startFaultProxy({ port: s3.port });
    } else {
      gcs = await startGcsServer();
      work.defer(() => gcs!.close());
      loadTreeIntoGcs(gcs, GCS_BUCKET, files, `${PREFIX}/`);
      proxy = await startFaultProxy({ port: gcs.port });
    }
    work.defer(() => proxy.close());
    const db = await work.database();
    const run = await runImportProcess(writeConfig(db), [], work.path);
    expect(run.code, describeRun(run)).toBe(0);
    reference = await importDump(db);
    await db.drop();
    expect(reference['tags']!.length).toBeGreaterThan(0);
  });

  /** A server-database config whose storage goes through the proxy, with 2 retries per request. */
  function writeConfig(db: TestDatabase): string {
    const file = writeImportConfig(work.path, db, '/unused');
    const base = readFileSync(file, 'utf8').split('storage:')[0]!;
    const storage =
      backend === 's3'
        ? [
            '  s3:',
            `    bucket: ${s3!.bucket}`,
            '    region: us-east-1',
            `    regionendpoint: ${proxy.url}`,
            `    accesskey: ${S3_ACCESS_KEY}`,
            `    secretkey: ${S3_SECRET_KEY}`,
            `    rootdirectory: /${PREFIX}`,
            '    maxretries: 2',
          ]
        : [
            '  gcs:',
            `    bucket: ${GCS_BUCKET}`,
            `    endpoint: ${proxy.url}`,
            `    rootdirectory: ${PREFIX}`,
            '    maxretries: 2',
          ];
    writeFileSync(file, `${base}storage:\n${storage.join('\n')}\n`);
    return file;
  }

  const transient: Fault[] =
    backend === 's3'
      ? [
          faults.s3Error(500, 'InternalError', 'We encountered an internal error.'),
          faults.slowDown(),
          faults.s3Error(503, 'ServiceUnavailable', 'Service unavailable'),
          faults.reset(),
        ]
      : [
          faults.gcsError(500, 'Internal error'),
          faults.gcsError(503, 'Service unavailable'),
          faults.gcsError(429, 'The rate of change requests is too high', 'rateLimitExceeded'),
          faults.reset(),
        ];

  it('errors on every other request for a while are retried: exit 0, the same rows', async () => {
    proxy.reset();
    // Requests 2 to 69 of the run: every other one fails, cycling through the fault kinds, but never
    // the same request twice (with 2 retries a request could otherwise fail for good). The proxy asks
    // each rule in turn about a request, so the choice is made once per request object. (Every other,
    // not every third: links proven by listing MD5s are not read, and the whole import of this tree is
    // now about 30 requests.)
    const chosen = new WeakMap<object, Fault | null>();
    const faultedOnce = new Set<string>();
    let seen = 0;
    let injected = 0;
    const choose = (req: RecordedRequest): Fault | null => {
      let f = chosen.get(req);
      if (f === undefined) {
        const n = seen++;
        const key = `${req.method} ${req.url}`;
        f =
          n >= 2 && n < 70 && n % 2 === 0 && !faultedOnce.has(key)
            ? transient[(n / 2) % transient.length]!
            : null;
        if (f) {
          injected++;
          faultedOnce.add(key);
        }
        chosen.set(req, f);
      }
      return f;
    };
    for (const fault of transient)
      proxy.inject(fault, { times: Infinity, match: (req) => choose(req) === fault });
    const db = await work.database();
    const run = await runImportProcess(writeConfig(db), [], work.path);
    expect(run.code, describeRun(run)).toBe(0);
    const faulted = proxy.requests.filter((r) => r.fault !== undefined);
    expect(faulted).toHaveLength(injected);
    expect(injected).toBeGreaterThanOrEqual(10);
    expect(new Set(faulted.map((r) => r.fault))).toEqual(new Set(['status', 'reset']));
    const retries = logRecords(run).filter((r) => r['msg'] === 'transient storage error, retrying');
    expect(retries).toHaveLength(injected);
    const dump = await importDump(db);
    expect(rowsOf(dump)).toEqual(rowsOf(reference));
    expectLastRunClean(dump);
    await db.drop();
  });

  it('one object failing on every attempt ends in exit 1 naming it; the rerun gives the same rows', async () => {
    proxy.reset();
    const fault =
      backend === 's3' ? faults.s3Error(500, 'InternalError') : faults.gcsError(500, 'Internal error');
    const suffix = INDEX_DATA.slice(1);
    proxy.inject(fault, {
      times: Infinity,
      match: (req) => req.method === 'GET' && decodeURIComponent(req.url.split('?')[0]!).endsWith(suffix),
    });
    const db = await work.database();
    const config = writeConfig(db);
    const run = await runImportProcess(config, [], work.path);
    expect(run.code, describeRun(run)).toBe(1);
    const line = errorLine(run);
    expect(line).toContain(INDEX_DATA);
    expect(line).toMatch(/^regdb: failed to import metadata: pre importing all repositories: /);
    expect(line).toMatch(/failed after 3 attempts \(2 retries\)/);
    // maxretries: 2 means three attempts on the wire, no more.
    expect(proxy.requests.filter((r) => r.fault !== undefined)).toHaveLength(3);

    proxy.reset();
    const rerun = await runImportProcess(config, [], work.path);
    expect(rerun.code, describeRun(rerun)).toBe(0);
    const dump = await importDump(db);
    expect(rowsOf(dump)).toEqual(rowsOf(reference));
    expect(dump['import_statistics']).toHaveLength(2);
    expect((dump['import_statistics'] as StatisticsRow[])[0]!.pre_import_error).toContain(INDEX_DATA);
    expectLastRunClean(dump);
    await db.drop();
  });
  it('the lockfile write failing after step two: exit 1 naming it; the rerun writes it, same rows', async () => {
    proxy.reset();
    const fault =
      backend === 's3' ? faults.s3Error(500, 'InternalError') : faults.gcsError(500, 'Internal error');
    // Object writes of an import are the lockfiles only (S3 PUT, GCS upload POST).
    const isWrite = (req: RecordedRequest) =>
      backend === 's3' ? req.method === 'PUT' : req.method === 'POST' && req.url.startsWith('/upload/');
    proxy.inject(fault, { times: Infinity, match: isWrite });
    const db = await work.database();
    const config = writeConfig(db);
    const run = await runImportProcess(config, [], work.path);
    expect(run.code, describeRun(run)).toBe(1);
    const line = errorLine(run);
    expect(line).toMatch(/^regdb: failed to import metadata: importing all repositories: /);
    expect(line).toContain(`${LOCKFILES}/database-in-use failed after 3 attempts`);
    expect(line).toContain('could not restore lockfiles');

    proxy.reset();
    const rerun = await runImportProcess(config, [], work.path);
    expect(rerun.code, describeRun(rerun)).toBe(0);
    expect(proxy.requests.filter(isWrite)).toHaveLength(1);
    const dump = await importDump(db);
    expect(rowsOf(dump)).toEqual(rowsOf(reference));
    expectLastRunClean(dump);
    await db.drop();
  });
});
