/**
 * Secret canaries (issue 17 §4): the configs here carry distinct canary values as the database
 * password (checked for real: an embedded PostgreSQL of this file's own with SCRAM authentication),
 * the S3 secret key and session token, and the GCS private key. Every command runs the built CLI
 * through test/helpers/cli.ts, which scans stdout, stderr, the `--report` file and the import log
 * folder of each run and fails the run when a canary is there. The runs cover init, migrate,
 * import, dry run, background-migrate, and failures where an SDK error carries the signed request.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import {
  addCanary,
  DB_PASSWORD_CANARY,
  GCS_PRIVATE_KEY_PEM,
  S3_SECRET_CANARY,
  S3_SESSION_TOKEN_CANARY,
} from '../helpers/canaries.js';
import { listTree, uploadTreeToS3 } from '../helpers/driver-backends.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';
import { FIXTURES } from '../helpers/import-run.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY, startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const ROLE_PASSWORD = `${DB_PASSWORD_CANARY}-registry-role`;
addCanary(ROLE_PASSWORD);

let dir: string;
let pgServer: EmbeddedServer;
let s3: S3TestServer;
let gcs: GcsTestServer;
let runs = 0;

function databaseYaml(o: { user?: string; password?: string; dbname?: string } = {}): string[] {
  return [
    'database:',
    '  enabled: true',
    `  host: ${JSON.stringify(pgServer.host)}`,
    `  port: ${pgServer.port}`,
    `  user: ${JSON.stringify(o.user ?? 'registry')}`,
    `  password: ${JSON.stringify(o.password ?? ROLE_PASSWORD)}`,
    `  dbname: ${JSON.stringify(o.dbname ?? 'registry')}`,
    '  sslmode: disable',
  ];
}

async function config(name: string, storage: string[], db: Parameters<typeof databaseYaml>[0] = {}) {
  const file = join(dir, `${name}.yml`);
  await writeFile(file, ['version: 0.1', ...databaseYaml(db), 'storage:', ...storage, ''].join('\n'));
  return file;
}

const filesystem = () => ['  filesystem:', `    rootdirectory: ${JSON.stringify(join(dir, 'tree'))}`];

/** `regdb --log-level debug database import` with a report and a log folder of its own. */
async function importRun(configFile: string, extra: string[] = []): Promise<CliResult & { report: string }> {
  runs++;
  const report = join(dir, `report-${runs}.json`);
  const logs = join(dir, `logs-${runs}`);
  const r = await runCli([
    '--log-level',
    'debug',
    'database',
    'import',
    '--log-directory',
    logs,
    '--report',
    report,
    ...extra,
    configFile,
  ]);
  return { ...r, report };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'regdb-canary-'));
  await chmod(dir, 0o755);
  pgServer = await startEmbedded({
    kind: 'embedded',
    dataDir: join(dir, 'pgdata'),
    port: 0,
    user: 'postgres',
    password: DB_PASSWORD_CANARY,
    dbname: 'postgres',
    pool: {},
  });
  const { cp } = await import('node:fs/promises');
  await cp(join(FIXTURES, 'real', 'docker'), join(dir, 'tree', 'docker'), { recursive: true });
  s3 = await startS3Server();
  await uploadTreeToS3(s3, listTree(join(FIXTURES, 'real')), '');
  gcs = await startGcsServer();
}, 300_000);

afterAll(async () => {
  await gcs?.close();
  await s3?.close();
  await pgServer?.stop();
  await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('no secret canary reaches output, logs or reports', { timeout: 300_000 }, () => {
  it('database init (admin password from the environment, role password from the config)', async () => {
    const file = await config('init', filesystem());
    const r = await runCli(['--log-level', 'trace', 'database', 'init', file], {
      env: { REGISTRY_DATABASE_ADMIN_USER: 'postgres', REGISTRY_DATABASE_ADMIN_PASSWORD: DB_PASSWORD_CANARY },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('"level":20'); // debug lines were written
  });

  it('database migrate up, status and a failed migrate with a wrong password', async () => {
    const file = await config('migrate', filesystem());
    const up = await runCli(['--log-level', 'trace', 'database', 'migrate', 'up', file]);
    expect(up.code, up.stderr).toBe(0);
    const status = await runCli(['--log-level', 'trace', 'database', 'migrate', 'status', file]);
    expect(status.code, status.stderr).toBe(0);
    const wrong = await config('wrong-pw', filesystem(), { password: `${ROLE_PASSWORD}-wrong` });
    addCanary(`${ROLE_PASSWORD}-wrong`);
    const failed = await runCli(['--log-level', 'trace', 'database', 'migrate', 'up', wrong]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/password authentication failed/);
  });

  it('an import and a dry run from the filesystem, with the database password', async () => {
    const file = await config('import-fs', filesystem());
    const dry = await importRun(file, ['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const real = await importRun(file);
    expect(real.code, real.stderr).toBe(0);
    expect(JSON.parse(readFileSync(real.report, 'utf8'))).toBeTruthy();
  });

  it('an import from S3 with a session token, and one whose signature the server refuses', async () => {
    const s3Storage = (secret: string, bucket: string, token?: string) => [
      '  s3:',
      `    regionendpoint: ${JSON.stringify(s3.endpoint)}`,
      '    region: us-east-1',
      `    bucket: ${JSON.stringify(bucket)}`,
      `    accesskey: ${JSON.stringify(S3_ACCESS_KEY)}`,
      `    secretkey: ${JSON.stringify(secret)}`,
      ...(token !== undefined ? [`    sessiontoken: ${JSON.stringify(token)}`] : []),
      '    forcepathstyle: true',
      '    secure: false',
      '    maxretries: 0',
    ];
    // The test server's own secret (a canary too when it differs from the access key).
    const ok = await importRun(await config('s3-ok', s3Storage(S3_SECRET_KEY, s3.bucket)), ['--no-resume']);
    expect(ok.code, ok.stderr).toBe(0);
    // A session token is sent with every request (X-Amz-Security-Token). Whether the server accepts
    // one it did not issue depends on the server (s3rver ignores it, radosgw refuses it): either
    // way the run ends with 0 or 1, and the token is nowhere in what it wrote.
    const token = await importRun(
      await config('s3-token', s3Storage(S3_SECRET_KEY, s3.bucket, S3_SESSION_TOKEN_CANARY)),
      ['--no-resume'],
    );
    expect([0, 1], token.stderr).toContain(token.code);
    // A request the server refuses (a secret it does not know, for a bucket it does not have): the
    // SDK's error carries the signed request with the token.
    const refused = await importRun(
      await config('s3-refused', s3Storage(S3_SECRET_CANARY, 'no-such-bucket', S3_SESSION_TOKEN_CANARY)),
      ['--no-resume'],
    );
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/bucket does not exist|signature|access denied|invalid/i);
  });

  it('an import from GCS whose service-account key cannot sign', async () => {
    const credentials = [
      '    credentials:',
      '      type: service_account',
      '      project_id: canary-project',
      '      client_email: canary@canary-project.iam.gserviceaccount.com',
      '      client_id: "1"',
      `      private_key: ${JSON.stringify(GCS_PRIVATE_KEY_PEM)}`,
    ];
    const file = await config('gcs', [
      '  gcs:',
      `    bucket: ${JSON.stringify('canary-bucket')}`,
      `    endpoint: ${JSON.stringify(gcs.endpoint)}`,
      '    maxretries: 0',
      ...credentials,
    ]);
    const r = await importRun(file, ['--no-resume']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/gcs|GCS|storage/);
  });

  it('background-migrate status and run', async () => {
    const file = await config('bbm', filesystem());
    const status = await runCli(['--log-level', 'trace', 'background-migrate', 'status', file]);
    expect(status.code, status.stderr).toBe(0);
    const run = await runCli(['--log-level', 'trace', 'background-migrate', 'run', file]);
    expect(run.code, run.stderr).toBe(0);
  });

  it('a connection that fails (no such database) names the database, not the password', async () => {
    const file = await config('no-db', filesystem(), { dbname: 'no_such_database' });
    const r = await importRun(file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no_such_database/);
  });
});
