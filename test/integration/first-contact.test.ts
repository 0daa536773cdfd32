/**
 * Issue 11, as a user meets regdb: the built CLI (dist/, as `npm ci` leaves it) against the test
 * server's SCRAM role and against the embedded server. Exit status for success, failure, usage and
 * SIGTERM; no password in any output; text log lines on a terminal and JSON through a pipe; the
 * config's `log:` section; progress off a terminal.
 */
import { spawn } from 'node:child_process';
import { chmod, cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded } from '../../src/db/embedded.js';
import { BIN, childResult, REPO_ROOT, type CliResult } from '../helpers/cli.js';
import { freshDatabase, testServer, type TestDatabase } from '../helpers/db.js';
import { FIXTURES } from '../helpers/import-run.js';
import { syntheticTree, writeImportConfig, type SyntheticTree } from './import-kill-support.js';

/** The environment of a user who set none of regdb's log variables. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['REGDB_LOG_LEVEL', 'REGDB_LOG_FILE', 'REGDB_LOG_FORMAT', 'REGISTRY_LOG_LEVEL'])
    delete env[k];
  return { ...env, ...extra };
}

type Run = CliResult;

/**
 * The built CLI as a child process. `onStderr` sees stderr as it arrives and may return a signal to
 * send to the process (once).
 */
function regdb(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; onStderr?: (text: string) => NodeJS.Signals | undefined } = {},
): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let signalled = false;
  return childResult(child, (stderr) => {
    const sig = signalled ? undefined : opts.onStderr?.(stderr);
    if (sig !== undefined) {
      signalled = true;
      child.kill(sig);
    }
  });
}

/** The same command on a pseudo-terminal (util-linux `script`): stdout and stderr both arrive on stdout. */
function regdbOnTerminal(args: readonly string[]): Promise<Run> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', quoted, '/dev/null'], {
    cwd: REPO_ROOT,
    env: cleanEnv({ TERM: 'xterm' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return childResult(child);
}

function describeRun(r: Run): string {
  return `exit ${r.code ?? r.signal}\nstderr: ${r.stderr.slice(-3000)}\nstdout: ${r.stdout.slice(-1500)}`;
}

/** What the fixture tree holds, counted from its files (not by regdb). */
async function treeCounts(root: string): Promise<{ repositories: number; tags: number; blobs: number }> {
  const v2 = join(root, 'docker', 'registry', 'v2');
  const repoEntries = await readdir(join(v2, 'repositories'), { recursive: true, withFileTypes: true });
  const paths = repoEntries.map((e) => join(e.parentPath, e.name));
  const blobEntries = await readdir(join(v2, 'blobs'), { recursive: true, withFileTypes: true });
  return {
    repositories: repoEntries.filter((e) => e.isDirectory() && e.name === '_manifests').length,
    tags: paths.filter((p) => /\/_manifests\/tags\/[^/]+\/current\/link$/.test(p)).length,
    blobs: blobEntries.filter((e) => e.isFile() && e.name === 'data').length,
  };
}

async function copyRealTree(dir: string): Promise<string> {
  const root = join(dir, 'tree');
  await cp(join(FIXTURES, 'real', 'docker'), join(root, 'docker'), {
    recursive: true,
    filter: (src) => !src.includes('/docker/registry/lockfiles'),
  });
  return root;
}

describe('a password role on a configured server', () => {
  let dir: string;
  let db: TestDatabase;
  let root: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regdb-first-contact-'));
    db = await freshDatabase();
    root = await copyRealTree(dir);
  });
  afterAll(async () => {
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('the tests connect as a role that must send a SCRAM password', () => {
    if (testServer().source === 'url') return; // a server given by URL is used as given
    expect(db.config.user).toBe('regdb_scram_test');
    expect(db.config.password).toMatch(/.{8,}/);
  });

  it('imports all steps with its password; the password appears in no output and no log', async () => {
    const config = writeImportConfig(dir, db, root);
    const logFile = join(dir, 'import.log');
    const r = await regdb(['--log-file', logFile, 'database', 'import', config]);
    expect(r.code, describeRun(r)).toBe(0);
    const want = await treeCounts(root);
    const got = await db.pool.query<{ r: number; t: number; b: number }>(
      'SELECT (SELECT count(*) FROM repositories)::int AS r, (SELECT count(*) FROM tags)::int AS t, ' +
        '(SELECT count(*) FROM blobs)::int AS b',
    );
    expect(got.rows[0]).toEqual({ r: want.repositories, t: want.tags, b: want.blobs });
    // --log-file applies to the import as to every command (issue 16 §5): JSON lines there.
    expect(r.stderr).toContain(`detailed log written to: ${logFile}`);
    const log = await readFile(logFile, 'utf8');
    expect(log).toMatch(/^\{"level":30,.*"msg":"starting metadata import"/m);
    expect(log).toContain('"msg":"metadata import complete"');
    const password = db.config.password ?? '';
    for (const text of [r.stdout, r.stderr, log]) {
      if (password !== '') expect(text).not.toContain(password);
    }
  });

  it('a wrong password fails with exit 1, naming user, host and database, never the password', async () => {
    const secret = 'wrong-pass-Zq81';
    const config = writeImportConfig(dir, { ...db, config: { ...db.config, password: secret } }, root);
    for (const args of [
      ['database', 'import', config],
      ['database', 'migrate', 'up', config],
    ]) {
      const r = await regdb(args);
      expect(r.code, describeRun(r)).toBe(1);
      if (testServer().source === 'url') continue;
      expect(r.stderr).toContain(`${db.config.host}:${db.config.port}`);
      expect(r.stderr).toContain(`database "${db.name}"`);
      expect(r.stderr).toContain(`user "${db.config.user}"`);
      expect(r.stderr).toMatch(/password authentication failed/);
      expect(r.stderr + r.stdout).not.toContain(secret);
      expect(r.stderr + r.stdout).not.toContain(db.config.password);
    }
  });

  it('log lines: text on a terminal, JSON through a pipe; the config log: section and --log-level', async () => {
    let n = 0;
    const withLog = async (log: string): Promise<string> => {
      const file = join(dir, `log-${++n}.yml`);
      const text = await readFile(writeImportConfig(dir, db, root), 'utf8');
      await writeFile(file, `${text}log:\n${log}`);
      return file;
    };
    const status = (config: string, ...flags: string[]) => [
      ...flags,
      'database',
      'migrate',
      'status',
      config,
    ];
    const debugLine = 'connected to PostgreSQL';

    const plain = writeImportConfig(dir, db, root);
    const tty = await regdbOnTerminal(status(plain, '--log-level', 'debug'));
    expect(tty.code, describeRun(tty)).toBe(0);
    expect(tty.stdout).toMatch(/DEBUG.*connected to PostgreSQL/);
    expect(tty.stdout).not.toContain('{"level"');

    const piped = await regdb(status(plain, '--log-level', 'debug'));
    expect(piped.code, describeRun(piped)).toBe(0);
    expect(piped.stderr).toMatch(/^\{"level":20,.*"msg":"connected to PostgreSQL"\}$/m);

    // The config's level applies when no flag is given; a flag overrides it.
    const debugConfig = await withLog('  level: debug\n');
    expect((await regdb(status(debugConfig))).stderr).toContain(debugLine);
    const warnConfig = await withLog('  level: warn\n');
    expect((await regdb(status(warnConfig))).stderr).not.toContain(debugLine);
    expect((await regdb(status(warnConfig, '--log-level', 'debug'))).stderr).toContain(debugLine);

    // formatter: json keeps a terminal's lines JSON; formatter: text makes a pipe's lines text.
    const jsonConfig = await withLog('  level: debug\n  formatter: json\n');
    expect((await regdbOnTerminal(status(jsonConfig))).stdout).toMatch(
      /\{"level":20,.*connected to PostgreSQL/,
    );
    const textConfig = await withLog('  level: debug\n  formatter: text\n');
    const text = await regdb(status(textConfig));
    expect(text.stderr).toMatch(/DEBUG.*connected to PostgreSQL/);
    expect(text.stderr).not.toContain('{"level"');

    const bad = await withLog('  level: loud\n');
    const badRun = await regdb(status(bad));
    expect(badRun.code).toBe(2);
    expect(badRun.stderr).toContain(`${bad}: log.level: "loud" is not one of`);
  });
});

describe('SIGINT on a configured server', () => {
  let dir: string;
  let db: TestDatabase;
  let tree: SyntheticTree;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regdb-first-contact-sigint-'));
    db = await freshDatabase();
    tree = syntheticTree({ repositories: 40, tags: 400, layerRefs: 2000, sharedLayers: 300, seed: 12 });
  });
  afterAll(async () => {
    tree?.remove();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops cleanly with 130, keeps its checkpoints, and the same command resumes to exit 0', async () => {
    const config = writeImportConfig(dir, db, tree.root);
    const args = ['database', 'import', '--concurrency', '1', '--batch-size', '50', config];
    const stopped = await regdb(args, {
      env: { REGDB_PROGRESS_INTERVAL: '0.2' },
      onStderr: (text) => (/import manifests: \d+% \([1-9]\d* of/.test(text) ? 'SIGINT' : undefined),
    });
    expect(stopped.code, describeRun(stopped)).toBe(130);
    expect(stopped.stderr).toMatch(/regdb: stopped after SIGINT\n$/);
    const kept = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM repositories');
    expect(kept.rows[0]!.n).toBeLessThan(tree.summary.counts.repositories);

    const resumed = await regdb(args);
    expect(resumed.code, describeRun(resumed)).toBe(0);
    const got = await db.pool.query<{ r: number; t: number }>(
      'SELECT (SELECT count(*) FROM repositories)::int AS r, (SELECT count(*) FROM tags)::int AS t',
    );
    expect(got.rows[0]).toEqual({ r: tree.summary.counts.repositories, t: tree.summary.counts.tags });
  });
});

describe('the embedded server', () => {
  let dir: string;
  let tree: SyntheticTree;
  let config: string;
  const dataDir = () => join(dir, '.regdb', 'postgres');
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regdb-first-contact-embedded-'));
    // As root the embedded server runs as postgres, which must enter the folder (mkdtemp makes 0700).
    await chmod(dir, 0o755);
    tree = syntheticTree({ repositories: 40, tags: 400, layerRefs: 2000, sharedLayers: 300, seed: 11 });
    config = join(dir, 'config.yml');
    await writeFile(
      config,
      `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${JSON.stringify(tree.root)}\n`,
    );
  });
  afterAll(async () => {
    tree?.remove();
    await rm(dir, { recursive: true, force: true });
  });

  async function embeddedCounts(): Promise<{ r: number; t: number }> {
    const server = await startEmbedded({
      kind: 'embedded',
      dataDir: dataDir(),
      port: 0,
      user: 'regdb',
      password: '',
      dbname: 'registry',
      pool: {},
    });
    const pg = (await import('pg')).default;
    const client = new pg.Client({
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      database: server.dbname,
    });
    try {
      await client.connect();
      const { rows } = await client.query<{ r: number; t: number }>(
        'SELECT (SELECT count(*) FROM repositories)::int AS r, (SELECT count(*) FROM tags)::int AS t',
      );
      return rows[0]!;
    } finally {
      await client.end();
      await server.stop();
    }
  }

  it('an import of a missing storage root exits 1, not 0', async () => {
    const missing = join(dir, 'missing.yml');
    await writeFile(missing, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ./no-such-tree\n`);
    const r = await regdb(['database', 'import', missing]);
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toMatch(/^regdb: failed to import metadata: /m);
    // The detailed log lies beside the embedded data, not in the working directory.
    const logs = await readdir(join(dir, '.regdb', 'logs'));
    expect(logs.filter((f) => f.endsWith('-registry-import.log'))).toHaveLength(1);
  });

  it('a usage error exits 2', async () => {
    const r = await regdb(['database', 'import', '--tag-concurrency', '9', config]);
    expect(r.code, describeRun(r)).toBe(2);
  });

  it('SIGTERM stops cleanly with 143 (server stopped, checkpoints kept); the next run resumes and exits 0', async () => {
    const stopped = await regdb(['database', 'import', '--concurrency', '1', '--batch-size', '50', config], {
      env: { REGDB_PROGRESS_INTERVAL: '0.2' },
      onStderr: (text) =>
        /step one: import manifests: \d+% \((?:[1-9]\d*) of/.test(text) ? 'SIGTERM' : undefined,
    });
    expect(stopped.signal).toBeNull();
    expect(stopped.code, describeRun(stopped)).toBe(143);
    expect(stopped.stderr).toContain('regdb: SIGTERM received: stopping cleanly');
    expect(stopped.stderr).toMatch(/regdb: stopped after SIGTERM\n$/);
    // Progress off a terminal: plain lines with a total known from the start, percent and rate.
    expect(stopped.stderr).toMatch(
      new RegExp(
        `step one: import manifests: \\d+% \\(\\d+ of ${tree.summary.counts.repositories} repositories\\), [\\d.]+ tags/s`,
      ),
    );
    // The embedded server was stopped: no postmaster.pid is left.
    await expect(stat(join(dataDir(), 'postmaster.pid'))).rejects.toThrow();

    const resumed = await regdb(['database', 'import', config]);
    expect(resumed.code, describeRun(resumed)).toBe(0);
    const counts = await embeddedCounts();
    expect(counts).toEqual({ r: tree.summary.counts.repositories, t: tree.summary.counts.tags });
  });
});
