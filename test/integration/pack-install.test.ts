/**
 * Issue 17 §5: what `npm pack` ships works once installed. The project is packed (dist/ is current:
 * the global setup rebuilt it if stale), the tarball is installed into an empty folder, and the
 * installed `regdb` bin, started by its own shebang, prints its help, migrates an empty database
 * (the migration .sql files must be in the package) and imports the real fixture tree to the rows of
 * the golden dump. The install uses npm's cache first (--prefer-offline): the dependencies are the
 * ones `npm ci` fetched; only package metadata may come from the registry.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { DB_PASSWORD_CANARY } from '../helpers/canaries.js';
import { emptyDatabase, type TestDatabase } from '../helpers/db.js';
import { dumpTables, expectGolden } from '../helpers/golden.js';
import { FIXTURES } from '../helpers/import-run.js';

let work: string;
let app: string;
let bin: string;
let db: TestDatabase;
// The installed bin's shebang runs `node` from PATH: this test's node.
const env = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0)
    throw new Error(`npm ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'regdb-pack-'));
  // --ignore-scripts: "prepare" would build again; dist/ is current (global setup).
  npm(['pack', '--ignore-scripts', '--pack-destination', work], REPO_ROOT);
  const tarball = readdirSync(work).find((n) => n.endsWith('.tgz'));
  expect(tarball).toBeDefined();
  app = join(work, 'app');
  cpSync(join(FIXTURES, 'real', 'docker'), join(work, 'tree', 'docker'), { recursive: true });
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"name":"regdb-pack-test","private":true}\n');
  npm(
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, tarball!)],
    app,
  );
  bin = join(app, 'node_modules', '.bin', 'regdb');
  db = await emptyDatabase();
}, 600_000);

afterAll(async () => {
  await db?.drop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function config(): string {
  const c = db.config;
  const file = join(work, 'config.yml');
  writeFileSync(
    file,
    [
      'version: 0.1',
      'database:',
      '  enabled: true',
      `  host: ${JSON.stringify(c.host)}`,
      `  port: ${c.port}`,
      ...(c.user !== undefined ? [`  user: ${JSON.stringify(c.user)}`] : []),
      `  password: ${JSON.stringify(c.password ?? DB_PASSWORD_CANARY)}`,
      `  dbname: ${JSON.stringify(db.name)}`,
      `  sslmode: ${c.sslmode}`,
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(join(work, 'tree'))}`,
      '',
    ].join('\n'),
  );
  return file;
}

describe('the packed and installed regdb', { timeout: 300_000 }, () => {
  it('is the package: the bin is a link into the installed dist/, with the migrations beside it', () => {
    const installed = join(app, 'node_modules', 'regdb');
    expect(existsSync(join(installed, 'dist', 'src', 'cli', 'main.js'))).toBe(true);
    expect(readdirSync(join(installed, 'dist', 'src', 'db', 'migrations')).length).toBeGreaterThan(0);
    // Only what "files" lists (and npm's always-included files) is in the package.
    expect(readdirSync(installed).sort()).toEqual(['README.md', 'dist', 'package.json']);
  });

  it('regdb --help', async () => {
    const r = await runCli(['--help'], { bin, env, cwd: app });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: regdb/);
    expect(r.stdout).toContain('database');
  });

  it('regdb database migrate up, then an import of the real fixture tree', async () => {
    const file = config();
    const up = await runCli(['database', 'migrate', 'up', file], { bin, env, cwd: app });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/^OK: applied \d+ pre-deployment migration/m);
    const report = join(work, 'report.json');
    const imp = await runCli(['database', 'import', '--log-directory', work, '--report', report, file], {
      bin,
      env,
      cwd: app,
    });
    expect(imp.code, imp.stderr).toBe(0);
    // The same rows as the in-process import of this tree (fixtures/golden/real-full).
    await expectGolden('real-full', await dumpTables(db.pool));
  });
});
