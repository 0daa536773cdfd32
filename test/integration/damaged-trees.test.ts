/**
 * Issue 17 §2, the damaged trees a new user tried, one damage each on a small tree of three
 * repositories (test/fuzz/tree.ts), imported by the CLI: each run exits 0 (or 1 under --strict,
 * naming the path), within a time limit, without a stack trace; the damaged item is in the --report
 * file with its reason and path; the other repositories are imported in full; canaries outside the
 * root keep their access time (nothing there was read or listed).
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { childResult, REPO_ROOT, runCli, type CliResult } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import { testWork } from '../helpers/work.js';
import { resetImportTables } from '../helpers/golden.js';
import { Rng } from '../fuzz/rng.js';
import { blobDataFile, MT, writeTree, type Tree, type TreeRepository } from '../fuzz/tree.js';
import { importDump, writeImportConfig } from './import-kill-support.js';

const work = testWork('damaged', { mode: 0o755 });
let db: TestDatabase;
let n = 0;

beforeAll(async () => {
  // The cases take permissions away (chmod 000): give them back before the folder is removed.
  work.defer(() => void execFileSync('chmod', ['-R', 'u+rwX', work.path]));
  db = await work.database();
});

beforeEach(async () => {
  await resetImportTables(db.pool);
});

interface Case {
  readonly dir: string;
  readonly root: string;
  readonly tree: Tree;
  /** The repository a test damages (`fz/b`); `fz/a` and `fz/c` stay whole. */
  readonly target: TreeRepository;
  readonly outside: string;
  file(rel: string): string;
}

interface Example {
  path: string;
  repository?: string;
  message: string;
}
interface ReportJson {
  skips: Record<string, { count: number; gitlabFatal: boolean; examples: Example[] }>;
  warnings: Record<string, { count: number; examples: Example[] }>;
  error?: string;
}

const OLD = new Date('2001-01-01T00:00:00Z');

function newCase(): Case {
  const dir = join(work.path, `case-${++n}`);
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(root, { recursive: true });
  mkdirSync(outside, { recursive: true });
  chmodSync(dir, 0o777);
  const tree = writeTree(root, new Rng(n), ['fz/a', 'fz/b', 'fz/c']);
  return { dir, root, tree, target: tree.repositories[1]!, outside, file: (rel) => join(root, rel) };
}

/** A canary outside the root whose access time any read (or listing) would move. */
function canary(path: string): () => void {
  utimesSync(path, OLD, new Date());
  const before = statSync(path).atimeMs;
  return () => expect(statSync(path).atimeMs, `${path} was read`).toBe(before);
}

interface Run extends CliResult {
  report: ReportJson;
  seconds: number;
}

async function importCase(c: Case, extra: readonly string[] = []): Promise<Run> {
  const config = writeImportConfig(c.dir, db, c.root);
  const started = Date.now();
  const res = await runCli([
    'database',
    'import',
    '--log-directory',
    c.dir,
    '--report',
    join(c.dir, 'report.json'),
    ...extra,
    config,
  ]);
  const seconds = (Date.now() - started) / 1000;
  const output = `${res.stdout}\n${res.stderr}`;
  expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect([0, 1, 2]).toContain(res.code);
  return {
    ...res,
    seconds,
    report: JSON.parse(readFileSync(join(c.dir, 'report.json'), 'utf8')) as ReportJson,
  };
}

/** The report lists `path` (a driver path) under `reason`, with a message. */
function expectReported(run: Run, reason: string, path: string): Example {
  const entry = run.report.skips[reason] ?? run.report.warnings[reason];
  expect(
    entry,
    `${reason} in ${JSON.stringify(run.report.skips)} ${JSON.stringify(run.report.warnings)}`,
  ).toBeDefined();
  const ex = entry!.examples.find((e) => e.path === path);
  expect(ex, `${path} among ${JSON.stringify(entry!.examples.map((e) => e.path))}`).toBeDefined();
  expect(ex!.message.length).toBeGreaterThan(0);
  return ex!;
}

/** fz/a and fz/c imported whole: their three tags each. */
async function expectOthersImported(): Promise<void> {
  const dump = await importDump(db);
  const tags = (dump['tags'] as { repository: string; name: string }[]).map(
    (t) => `${t.repository}:${t.name}`,
  );
  for (const r of ['fz/a', 'fz/c'])
    for (const t of ['latest', 'oci', 'v1.0']) expect(tags).toContain(`${r}:${t}`);
}

const driverPath = (rel: string): string => `/${rel}`;

function replaceWith(c: Case, rel: string, make: (file: string) => void): void {
  rmSync(c.file(rel), { recursive: true, force: true });
  mkdirSync(dirname(c.file(rel)), { recursive: true });
  make(c.file(rel));
}

describe('damaged blob data', () => {
  it('a named pipe as a manifest blob is skipped and reported, not opened (no hang)', async () => {
    const c = newCase();
    const rel = blobDataFile(c.target.docker.hex);
    replaceWith(c, rel, (f) => execFileSync('mkfifo', [f]));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expect(expectReported(run, 'storage-entry-unreadable', driverPath(rel)).message).toMatch(
      /named pipe|not a regular file/,
    );
    expectReported(
      run,
      'manifest-unknown-revision',
      driverPath(`${c.target.dir}/_manifests/revisions/sha256/${c.target.docker.hex}/link`),
    );
    await expectOthersImported();
  });

  it('a named pipe as a config blob is skipped and reported', async () => {
    const c = newCase();
    const rel = blobDataFile(c.target.config.hex);
    replaceWith(c, rel, (f) => execFileSync('mkfifo', [f]));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expectReported(run, 'storage-entry-unreadable', driverPath(rel));
    await expectOthersImported();
  });

  it('a symlink to a named pipe outside the root is reported; the pipe is never opened', async () => {
    const c = newCase();
    const fifo = join(c.outside, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const untouched = canary(fifo);
    const rel = blobDataFile(c.target.index.hex);
    replaceWith(c, rel, (f) => symlinkSync(fifo, f));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expect(expectReported(run, 'storage-entry-unreadable', driverPath(rel)).message).toMatch(
      /outside the root|leaves the root/,
    );
    untouched();
    await expectOthersImported();
  });

  it('a socket as blob data (ENXIO when opened) is skipped and reported', async () => {
    const c = newCase();
    const rel = blobDataFile(c.target.oci.hex);
    const short = join(work.path, `sock${n}`);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(short, resolve));
    try {
      replaceWith(c, rel, (f) => renameSync(short, f));
      const run = await importCase(c);
      expect(run.code, run.stderr).toBe(0);
      expect(expectReported(run, 'storage-entry-unreadable', driverPath(rel)).message).toMatch(
        /socket|not a regular file/,
      );
      await expectOthersImported();
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a manifest symlinked to a file outside the root is reported; the file is not read', async () => {
    const c = newCase();
    const outsideFile = join(c.outside, 'manifest.json');
    writeFileSync(outsideFile, c.target.docker.bytes);
    const untouched = canary(outsideFile);
    const rel = blobDataFile(c.target.docker.hex);
    replaceWith(c, rel, (f) => symlinkSync(outsideFile, f));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expectReported(run, 'storage-entry-unreadable', driverPath(rel));
    untouched();
    await expectOthersImported();
  });

  it('a symlink loop (ELOOP) as manifest data, as a tag link and in the tags folder is reported', async () => {
    const c = newCase();
    const data = blobDataFile(c.target.oci.hex);
    replaceWith(c, data, (f) => symlinkSync(f, f));
    const link = `${c.target.dir}/_manifests/tags/latest/current/link`;
    replaceWith(c, link, (f) => {
      symlinkSync(`${f}.b`, f);
      symlinkSync(f, `${f}.b`);
    });
    const loopTag = `${c.target.dir}/_manifests/tags/loop`;
    symlinkSync(c.file(loopTag), c.file(loopTag));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    for (const p of [data, link, loopTag]) expectReported(run, 'storage-entry-unreadable', driverPath(p));
    await expectOthersImported();
  });
});

describe('values the database cannot hold', () => {
  const image = (t: TreeRepository, patch: Record<string, unknown>): string =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, size: t.config.bytes.length, digest: `sha256:${t.config.hex}` },
      layers: [
        { mediaType: MT.ociLayer, size: t.layers[1]!.bytes.length, digest: `sha256:${t.layers[1]!.hex}` },
      ],
      ...patch,
    });

  it('a NUL in a config media type skips that manifest with media-type-invalid; a NUL artifactType is dropped', async () => {
    const c = newCase();
    const t = c.target;
    writeFileSync(
      c.file(blobDataFile(t.oci.hex)),
      image(t, {
        config: {
          mediaType: 'application/x\u0000y',
          size: t.config.bytes.length,
          digest: `sha256:${t.config.hex}`,
        },
      }),
    );
    const other = c.tree.repositories[2]!;
    writeFileSync(
      c.file(blobDataFile(other.oci.hex)),
      image(other, { artifactType: 'application/a\u0000b' }),
    );
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expectReported(run, 'media-type-invalid', driverPath(blobDataFile(t.oci.hex)));
    const dump = await importDump(db);
    const manifests = dump['manifests'] as {
      repository: string;
      digest: string;
      artifact_media_type: string | null;
    }[];
    expect(manifests.find((m) => m.digest === `sha256:${other.oci.hex}`)?.artifact_media_type).toBeNull();
    expect(manifests.some((m) => m.digest === `sha256:${t.oci.hex}`)).toBe(false);
  });

  it('a NUL in a manifest media type is an unknown media type, reported', async () => {
    const c = newCase();
    writeFileSync(
      c.file(blobDataFile(c.target.docker.hex)),
      image(c.target, { mediaType: `${MT.dockerManifest}\u0000` }),
    );
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expectReported(run, 'unknown-media-type', driverPath(blobDataFile(c.target.docker.hex)));
    await expectOthersImported();
  });

  it('manifest sizes that sum past bigint make that manifest invalid, reported with its path', async () => {
    const c = newCase();
    const t = c.target;
    const layer = {
      mediaType: MT.ociLayer,
      size: Number.MAX_SAFE_INTEGER,
      digest: `sha256:${t.layers[1]!.hex}`,
    };
    writeFileSync(
      c.file(blobDataFile(t.oci.hex)),
      image(t, { layers: Array.from({ length: 1100 }, () => layer) }),
    );
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expect(expectReported(run, 'manifest-invalid', driverPath(blobDataFile(t.oci.hex))).message).toMatch(
      /64-bit/,
    );
    await expectOthersImported();
  });
});

describe('damaged folders and names', () => {
  it('10,000 empty tag folders are reported as missing tag links', async () => {
    const c = newCase();
    for (let i = 0; i < 10_000; i++) mkdirSync(c.file(`${c.target.dir}/_manifests/tags/empty-${i}`));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expect(run.report.skips['tag-link-missing']?.count).toBeGreaterThanOrEqual(10_000);
    expectReported(
      run,
      'tag-link-missing',
      driverPath(`${c.target.dir}/_manifests/tags/empty-0/current/link`),
    );
    await expectOthersImported();
  });

  it('tag and repository folder names that are not UTF-8 are reported', async () => {
    const c = newCase();
    const tags = c.file(`${c.target.dir}/_manifests/tags`);
    renameSync(join(tags, 'oci'), Buffer.concat([Buffer.from(`${tags}/t`), Buffer.from([0xc3, 0x28])]));
    const repos = c.file('docker/registry/v2/repositories/fz');
    renameSync(join(repos, 'c'), Buffer.concat([Buffer.from(`${repos}/c`), Buffer.from([0xff])]));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expectReported(run, 'storage-entry-unreadable', driverPath(`${c.target.dir}/_manifests/tags/t\uFFFD(`));
    expectReported(run, 'storage-entry-unreadable', '/docker/registry/v2/repositories/fz/c\uFFFD');
  });

  it('a tags folder symlinked outside the root is reported; the outside folder is not listed', async () => {
    const c = newCase();
    const outsideTags = join(c.outside, 'tags');
    mkdirSync(join(outsideTags, 'x', 'current'), { recursive: true });
    writeFileSync(join(outsideTags, 'x', 'current', 'link'), `sha256:${c.target.docker.hex}`);
    const untouched = [canary(join(outsideTags, 'x', 'current', 'link')), canary(outsideTags)];
    const rel = `${c.target.dir}/_manifests/tags`;
    replaceWith(c, rel, (f) => symlinkSync(outsideTags, f));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expectReported(run, 'storage-entry-unreadable', driverPath(rel));
    for (const u of untouched) u();
    await expectOthersImported();
  });

  it('a tags folder replaced by a file is reported', async () => {
    const c = newCase();
    const rel = `${c.target.dir}/_manifests/tags`;
    replaceWith(c, rel, (f) => writeFileSync(f, 'latest'));
    const run = await importCase(c);
    expect(run.code, run.stderr).toBe(0);
    expectReported(run, 'unexpected-path', driverPath(rel));
    await expectOthersImported();
  });

  it('an unreadable file and folder (EACCES) are skipped and reported', async () => {
    const c = newCase();
    const data = blobDataFile(c.target.docker.hex);
    const layers = `${c.target.dir}/_layers`;
    chmodSync(c.file(data), 0o000);
    chmodSync(c.file(layers), 0o000);
    const config = writeImportConfig(c.dir, db, c.root);
    const args = [
      'database',
      'import',
      '--log-directory',
      c.dir,
      '--report',
      join(c.dir, 'report.json'),
      config,
    ];
    // root reads anything: the import then runs as `nobody`, whom the modes do stop (the tree is
    // nobody's, so that the lockfiles can be written).
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', '65534:65534', c.root]);
    const res = process.getuid?.() === 0 ? await runAsNobody(args) : await runCli(args);
    expect(res.code, res.stderr).toBe(0);
    expect(`${res.stdout}${res.stderr}`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    const run = {
      ...res,
      seconds: 0,
      report: JSON.parse(readFileSync(join(c.dir, 'report.json'), 'utf8')) as ReportJson,
    };
    expect(expectReported(run, 'storage-entry-unreadable', driverPath(data)).message).toMatch(
      /EACCES|permission/i,
    );
    expectReported(run, 'storage-entry-unreadable', driverPath(layers));
    await expectOthersImported();
  });
});

describe('--strict', () => {
  it('stops at the first unreadable entry with exit 1, naming its path, without a stack trace', async () => {
    const c = newCase();
    const rel = blobDataFile(c.target.docker.hex);
    replaceWith(c, rel, (f) => execFileSync('mkfifo', [f]));
    const run = await importCase(c, ['--strict']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(driverPath(rel));
    expect(run.stderr).toMatch(/--strict stops/);
    expect(run.report.error).toContain(driverPath(rel));
  });
});

/** The CLI from source as uid/gid 65534 (test/helpers/cli.ts runs as the test's own user). */
function runAsNobody(args: readonly string[]): Promise<CliResult> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, HOME: '/tmp' },
      uid: 65534,
      gid: 65534,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return childResult(child);
}
