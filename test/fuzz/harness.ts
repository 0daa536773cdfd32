/**
 * One fuzz case: a small tree (test/fuzz/tree.ts) damaged in one repository (test/fuzz/mutations.ts),
 * imported by the CLI as users run it (test/helpers/cli.ts), then checked:
 * - exit status 0, 1 or 2, within a time limit, and no stack trace on stdout or stderr;
 * - without --strict the run succeeds (one item's fault never stops it); with --strict it may stop
 *   (exit 1) only naming a path, after a skip GitLab treats as fatal;
 * - the other repositories' rows equal an import of the same tree undamaged (not a golden);
 * - the damaged repository's rows equal the undamaged import's, or the damage is in the --report file
 *   (a skip or warning naming the repository or a damaged path);
 * - the canaries outside the root (a file, a FIFO, a folder, reached only through the damage's
 *   symlinks) keep their access time: nothing outside the root was read or listed.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import type { TestDatabase } from '../helpers/db.js';
import { resetImportTables, type Dump } from '../helpers/golden.js';
import { importDump, writeImportConfig } from '../integration/import-kill-support.js';
import { MUTATIONS, type Damage, type Mutation } from './mutations.js';
import { Rng } from './rng.js';
import { writeTree, type Tree } from './tree.js';

export const REPOSITORY_NAMES = ['fz/a', 'fz/b', 'fz/c'];
/** Distinct undamaged trees per run; each is imported once undamaged as the reference. */
export const VARIANTS = 3;
export const CASE_TIMEOUT_MS = 90_000;
const ARGS = ['--concurrency', '2'];

export interface Finding {
  readonly case: number;
  readonly mutation: string;
  readonly problem:
    | 'exit-status'
    | 'hang'
    | 'stack-trace'
    | 'run-failed'
    | 'strict-stop-unexplained'
    | 'undamaged-rows-differ'
    | 'damage-unreported'
    | 'outside-read'
    | 'no-report';
  readonly detail: string;
}

export interface CaseResult {
  readonly index: number;
  readonly mutation: string;
  readonly strict: boolean;
  readonly detail: string;
  readonly code: number | null | 'timeout';
  readonly seconds: number;
  readonly findings: readonly Finding[];
}

/** What every case of a variant is compared with: the undamaged tree's rows. */
export interface Reference {
  readonly variant: number;
  readonly dump: Dump;
}

function caseRng(seed: number, index: number): Rng {
  return new Rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

const variantRng = (seed: number, variant: number): Rng => new Rng((seed * 31 + variant * 7919 + 1) >>> 0);

/** The mutations that can be staged here (EACCES needs a non-root user). */
export function availableMutations(): Mutation[] {
  return MUTATIONS.filter((m) => !(m.unavailable?.() ?? false));
}

/** Imports variant `variant` undamaged; throws unless it imports cleanly with no skip or warning. */
export async function referenceImport(
  db: TestDatabase,
  work: string,
  seed: number,
  variant: number,
): Promise<Reference> {
  const dir = join(work, `reference-${variant}`);
  mkdirSync(join(dir, 'root'), { recursive: true });
  writeTree(join(dir, 'root'), variantRng(seed, variant), REPOSITORY_NAMES);
  await emptyDatabase(db);
  const run = await importProcess(db, dir, []);
  const report = readReport(dir);
  if (run.code !== 0 || report === undefined)
    throw new Error(`the undamaged tree failed to import: ${run.stderr}`);
  const noted = [...Object.keys(report.skips ?? {}), ...Object.keys(report.warnings ?? {})];
  if (noted.length > 0) throw new Error(`the undamaged tree reported ${noted.join(', ')}`);
  const dump = await importDump(db);
  if ((dump['tags'] ?? []).length !== REPOSITORY_NAMES.length * 3)
    throw new Error('the undamaged tree did not import every tag');
  rmSync(dir, { recursive: true, force: true });
  return { variant, dump };
}

interface ReportJson {
  skips?: Record<string, { examples: { path: string; repository?: string }[] }>;
  warnings?: Record<string, { examples: { path: string; repository?: string }[] }>;
  error?: string;
}

function readReport(dir: string): ReportJson | undefined {
  const file = join(dir, 'report.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ReportJson;
}

async function importProcess(
  db: TestDatabase,
  dir: string,
  extra: readonly string[],
): Promise<CliResult & { timedOut: boolean }> {
  const config = writeImportConfig(dir, db, join(dir, 'root'));
  const args = [
    'database',
    'import',
    '--log-directory',
    dir,
    '--report',
    join(dir, 'report.json'),
    ...ARGS,
    ...extra,
    config,
  ];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CASE_TIMEOUT_MS);
  });
  const result = await Promise.race([runCli(args), timeout]);
  clearTimeout(timer);
  if (result === 'timeout') {
    killChildrenRunning(config);
    return { code: null, signal: null, stdout: '', stderr: '', timedOut: true };
  }
  return { ...result, timedOut: false };
}

/** SIGKILLs this process's children whose command line names `marker` (a hung import). */
function killChildrenRunning(marker: string): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) continue;
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * resetImportTables, tried again a few times: its one transaction locks every partition, and on a
 * PostgreSQL server shared with other test runs the lock table can be full for a moment (SQLSTATE
 * 53200, "out of shared memory"). Not a finding: the import under test has not run yet.
 */
async function emptyDatabase(db: TestDatabase): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await resetImportTables(db.pool);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== OUT_OF_SHARED_MEMORY || attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 2000 * attempt));
    }
  }
}

/** SQLSTATE 53200 out_of_memory: here, the shared lock table is full. */
const OUT_OF_SHARED_MEMORY = '53200';

const OLD = new Date('2001-01-01T00:00:00Z');

/** Canaries outside the root, with an access time that any read or listing would move. */
function writeCanaries(outside: string, tree: Tree): string[] {
  const t = tree.repositories[0]!;
  mkdirSync(join(outside, 'dir', 'latest', 'current'), { recursive: true });
  writeFileSync(join(outside, 'dir', 'latest', 'current', 'link'), `sha256:${t.docker.hex}`);
  writeFileSync(join(outside, 'link'), `sha256:${t.docker.hex}`);
  writeFileSync(join(outside, 'data'), t.docker.bytes);
  execFileSync('mkfifo', [join(outside, 'fifo')]);
  const canaries = [
    'link',
    'data',
    'fifo',
    'dir',
    'dir/latest',
    'dir/latest/current',
    'dir/latest/current/link',
  ].map((c) => join(outside, c));
  // relatime updates an access time that is older than the modification time on every access.
  for (const c of canaries) utimesSync(c, OLD, new Date());
  return canaries;
}

const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/m;

export interface CaseOptions {
  readonly seed: number;
  readonly index: number;
  readonly work: string;
  readonly db: TestDatabase;
  readonly references: ReadonlyMap<number, Reference>;
  /** Keep the case's folder (trees, report, log) for inspection. */
  readonly keep?: boolean;
}

export async function runCase(o: CaseOptions): Promise<CaseResult> {
  const rng = caseRng(o.seed, o.index);
  const variant = o.index % VARIANTS;
  const mutations = availableMutations();
  const mutation = mutations[o.index % mutations.length]!;
  const strict = rng.int(5) === 0;
  const dir = join(o.work, `case-${o.index}`);
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  const scratch = join(o.work, 's');
  mkdirSync(root, { recursive: true });
  mkdirSync(outside, { recursive: true });
  mkdirSync(scratch, { recursive: true });
  const tree = writeTree(root, variantRng(o.seed, variant), REPOSITORY_NAMES);
  const target = rng.pick(tree.repositories);
  const canaries = writeCanaries(outside, tree);
  let damage: Damage | undefined;
  const findings: Finding[] = [];
  const find = (problem: Finding['problem'], detail: string): void => {
    findings.push({ case: o.index, mutation: mutation.name, problem, detail });
  };
  const started = Date.now();
  let code: CaseResult['code'] = null;
  try {
    damage = await mutation.apply({ tree, target, rng, outside, scratch });
    for (const c of canaries) utimesSync(c, OLD, statSync(c).mtime);
    const atimes = canaries.map((c) => statSync(c).atimeMs);
    await emptyDatabase(o.db);
    const run = await importProcess(o.db, dir, strict ? ['--strict'] : []);
    code = run.timedOut ? 'timeout' : run.code;
    const output = `${run.stdout}\n${run.stderr}`;
    canaries.forEach((c, i) => {
      if (statSync(c).atimeMs !== atimes[i]) find('outside-read', `${c} was read or listed`);
    });
    if (run.timedOut) {
      find('hang', `no exit within ${CASE_TIMEOUT_MS / 1000} s`);
      return result();
    }
    if (run.code === null || ![0, 1, 2].includes(run.code)) find('exit-status', `exit ${run.code}`);
    if (STACK_LINE.test(output)) find('stack-trace', output.slice(0, 1500));
    const report = readReport(dir);
    if (report === undefined) {
      find('no-report', `exit ${run.code}: ${run.stderr.slice(-500)}`);
      return result();
    }
    if (run.code !== 0) {
      const stopLine = run.stderr.split('\n').find((l) => l.startsWith('regdb: ')) ?? '';
      if (!strict) find('run-failed', stopLine || run.stderr.slice(-800));
      else if (run.code !== 1 || !/--strict stops/.test(stopLine) || !/\(\/docker\//.test(stopLine))
        find('strict-stop-unexplained', stopLine || run.stderr.slice(-800));
      return result();
    }
    await compareRows(o.references.get(variant)!, await importDump(o.db), target.name, damage, report, find);
    return result();
  } finally {
    await damage?.release?.();
    if (!o.keep && findings.length === 0 && existsSync(dir)) {
      execFileSync('chmod', ['-R', 'u+rwX', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  function result(): CaseResult {
    return {
      index: o.index,
      mutation: mutation.name,
      strict,
      detail: damage?.detail ?? '',
      code,
      seconds: (Date.now() - started) / 1000,
      findings,
    };
  }
}

/** Rows of one repository's tables, keyed by the dump's `repository` (or `path`) column. */
const REPOSITORY_TABLES: Record<string, string> = {
  repositories: 'path',
  repository_blobs: 'repository',
  manifests: 'repository',
  layers: 'repository',
  manifest_references: 'repository',
  tags: 'repository',
  gc_manifest_review_queue: 'repository',
  gc_blobs_configurations: 'repository',
  gc_blobs_layers: 'repository',
};

async function compareRows(
  reference: Reference,
  dump: Dump,
  targetName: string,
  damage: Damage,
  report: ReportJson,
  find: (p: Finding['problem'], d: string) => void,
): Promise<void> {
  const rowsOf = (d: Dump, keep: (repository: string) => boolean): string =>
    JSON.stringify(
      Object.entries(REPOSITORY_TABLES).map(([t, col]) =>
        (d[t] ?? []).filter((r) => keep(String((r as Record<string, unknown>)[col]))),
      ),
    );
  const undamagedNames = REPOSITORY_NAMES.filter((n) => n !== targetName);
  const keepUndamaged = (r: string): boolean => undamagedNames.includes(r);
  if (rowsOf(dump, keepUndamaged) !== rowsOf(reference.dump, keepUndamaged)) {
    find(
      'undamaged-rows-differ',
      `repositories ${undamagedNames.join(', ')} differ from the undamaged import`,
    );
  }
  // The damaged repository: every tagged manifest, manifest, layer, reference and blob link of the
  // undamaged import is still there (payload bytes and tag names may differ: the damage was imported
  // as it is), or the report names the damage.
  const lost = missingFacts(reference.dump, dump, targetName, damage);
  if (lost.length === 0) return;
  // Rows differ (or the repository moved): the report must name the damage.
  const names = [targetName, damage.renamedTo].filter((n): n is string => n !== undefined);
  const examples = [...Object.values(report.skips ?? {}), ...Object.values(report.warnings ?? {})].flatMap(
    (s) => s.examples,
  );
  const mentioned = examples.some(
    (e) =>
      names.some(
        (n) =>
          e.repository === n ||
          e.path.includes(`/repositories/${n}/`) ||
          e.path.endsWith(`/repositories/${n}`),
      ) || damage.paths.some((p) => e.path === `/${p}` || e.path.startsWith(`/${p}/`)),
  );
  if (!mentioned)
    find(
      'damage-unreported',
      `${damage.detail}: ${targetName} lost ${lost.slice(0, 5).join(', ')} and the report names neither it nor ${damage.paths.join(', ')}`,
    );
}

/**
 * What the undamaged import has for `name` that this one lacks (under `name` or the new name), less
 * what a manifest whose bytes the damage replaced used to say, when that manifest was imported.
 */
function missingFacts(reference: Dump, dump: Dump, name: string, damage: Damage): string[] {
  const repo = damage.renamedTo ?? name;
  const imported = new Set(
    ((dump['manifests'] ?? []) as Record<string, unknown>[])
      .filter((r) => r['repository'] === repo)
      .map((r) => String(r['digest'])),
  );
  const excused = new Set((damage.manifests ?? []).map((h) => `sha256:${h}`).filter((d) => imported.has(d)));
  const owned = (r: Record<string, unknown>, col: string): boolean => !excused.has(String(r[col]));
  const facts = (d: Dump, repo: string): string[] => {
    const rows = (t: string): Record<string, unknown>[] =>
      ((d[t] ?? []) as Record<string, unknown>[]).filter((r) => r['repository'] === repo);
    return [
      ...rows('tags').map((r) => `tag->${String(r['manifest'])}`),
      ...rows('manifests').map((r) => `manifest ${String(r['digest'])}`),
      ...rows('layers')
        .filter((r) => owned(r, 'manifest'))
        .map((r) => `layer ${String(r['manifest'])}/${String(r['digest'])}`),
      ...rows('manifest_references')
        .filter((r) => owned(r, 'parent'))
        .map((r) => `reference ${String(r['parent'])}>${String(r['child'])}`),
      ...(excused.size > 0 ? [] : rows('repository_blobs').map((r) => `blob link ${String(r['digest'])}`)),
    ];
  };
  const now = facts(dump, repo);
  const left = [...now];
  const lost: string[] = [];
  for (const f of facts(reference, name)) {
    const i = left.indexOf(f);
    if (i === -1) lost.push(f);
    else left.splice(i, 1);
  }
  return lost;
}

/** Counts of a batch of results, by mutation and by finding. */
export function summarize(results: readonly CaseResult[]): string {
  const byMutation = new Map<string, { cases: number; strict: number; findings: number; seconds: number }>();
  for (const r of results) {
    const m = byMutation.get(r.mutation) ?? { cases: 0, strict: 0, findings: 0, seconds: 0 };
    m.cases++;
    if (r.strict) m.strict++;
    m.findings += r.findings.length;
    m.seconds += r.seconds;
    byMutation.set(r.mutation, m);
  }
  const lines = [...byMutation].map(
    ([name, m]) =>
      `${name.padEnd(32)} ${String(m.cases).padStart(5)} cases ${String(m.strict).padStart(4)} strict ${String(m.findings).padStart(4)} findings ${(m.seconds / m.cases).toFixed(1)} s/case`,
  );
  const findings = results.flatMap((r) => r.findings);
  const classes = new Map<string, number>();
  for (const f of findings)
    classes.set(`${f.problem} (${f.mutation})`, (classes.get(`${f.problem} (${f.mutation})`) ?? 0) + 1);
  return [
    `${results.length} cases, ${findings.length} findings`,
    ...lines,
    ...[...classes].map(([k, v]) => `finding ${k}: ${v}`),
  ].join('\n');
}
