/**
 * `npm run bench`: imports the default synthetic corpus into a fresh database and prints wall time
 * per step, tags/s, rows/s, peak RSS, storage requests and the limit ratio (issue 5 §5).
 *
 *   npm run bench -- [--scale N] [--seed N] [--driver filesystem|s3|gcs] [--delay-ms N] [--cpu-prof DIR]
 *                    [--runner auto|dist|tsx] [--json]
 *                    [--cache DIR] [--keep] [--repositories N --tags N --layer-refs N --shared-layers N]
 *                    [--shards N]
 *                    [-- extra import flags]
 *
 * s3 loads the corpus into a one-node Ceph cluster (radosgw) started for the run, gcs into the GCS
 * test server; both sit behind a local proxy that adds --delay-ms to every storage request.
 *
 * Server: REGDB_BENCH_DATABASE_URL (an admin URL: the role must create databases), default
 * postgresql://postgres@127.0.0.1:5432/postgres. Corpus cache: --cache, REGDB_BENCH_CACHE, or
 * <tmpdir>/regdb-bench.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDatabase, dropDatabase, tableStates, tablesInFkOrder } from './lib/bench-db.js';
import {
  copyOutImportedRows,
  isTriggerFilled,
  timeCat,
  timeCopyIn,
  triggerTableCounts,
} from './lib/bench-limit.js';
import { machineCpuSince, markCpu } from './lib/bench-cpu.js';
import { runMeasured } from './lib/bench-proc.js';
import { cliNodeFlags } from './lib/node-flags.js';
import { renderFigures, type BenchFigures, type ShardFigure, type StepFigure } from './lib/bench-report.js';
import { DEFAULT_PARAMS, scaleParams, type CorpusParams } from './lib/synthetic-plan.js';
import { readCorpusSummary, writeCorpus, type CorpusSummary } from './lib/synthetic-writer.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DEFAULT_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

interface Options {
  params: CorpusParams;
  driver: 'filesystem' | 's3' | 'gcs';
  /** Milliseconds added to every storage request by the proxy in front of the store. */
  delayMs: number;
  /** Directory for a V8 CPU profile of the import (node --cpu-prof), if wanted. */
  cpuProf?: string;
  runner: 'auto' | 'dist' | 'tsx';
  json: boolean;
  keep: boolean;
  cache: string;
  adminUrl: string;
  importArgs: string[];
  /** Import processes run at once, `--shard i/N` each (issue 13 §5). */
  shards: number;
}

function parseOptions(argv: string[]): Options {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const { values } = parseArgs({
    args: own,
    strict: true,
    options: {
      scale: { type: 'string', default: '1' },
      seed: { type: 'string', default: String(DEFAULT_PARAMS.seed) },
      driver: { type: 'string', default: 'filesystem' },
      'delay-ms': { type: 'string', default: '0' },
      'cpu-prof': { type: 'string' },
      runner: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      cache: { type: 'string' },
      repositories: { type: 'string' },
      tags: { type: 'string' },
      'layer-refs': { type: 'string' },
      'shared-layers': { type: 'string' },
      shards: { type: 'string', default: '1' },
    },
  });
  const count = (name: string, v: string | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v)) throw new Error(`--${name} must be a whole number, got "${v}".`);
    return Number(v);
  };
  const scale = Number(values.scale);
  if (!Number.isInteger(scale) || scale < 1)
    throw new Error(`--scale must be a whole number >= 1, got "${values.scale}".`);
  if (values.driver !== 'filesystem' && values.driver !== 's3' && values.driver !== 'gcs') {
    throw new Error(`--driver must be filesystem, s3 or gcs, got "${values.driver}".`);
  }
  const delayMs = count('delay-ms', values['delay-ms'], 0);
  if (delayMs > 0 && values.driver === 'filesystem')
    throw new Error(
      '--delay-ms needs --driver s3 or gcs (the delay is added by a proxy in front of the store).',
    );
  if (values.runner !== 'auto' && values.runner !== 'dist' && values.runner !== 'tsx') {
    throw new Error(`--runner must be auto, dist or tsx, got "${values.runner}".`);
  }
  return {
    params: scaleParams(
      {
        repositories: count('repositories', values.repositories, DEFAULT_PARAMS.repositories),
        tags: count('tags', values.tags, DEFAULT_PARAMS.tags),
        layerRefs: count('layer-refs', values['layer-refs'], DEFAULT_PARAMS.layerRefs),
        sharedLayers: count('shared-layers', values['shared-layers'], DEFAULT_PARAMS.sharedLayers),
        seed: count('seed', values.seed, DEFAULT_PARAMS.seed),
      },
      scale,
    ),
    driver: values.driver,
    delayMs,
    ...(values['cpu-prof'] ? { cpuProf: values['cpu-prof'] } : {}),
    runner: values.runner,
    json: values.json,
    keep: values.keep,
    cache: values.cache ?? process.env['REGDB_BENCH_CACHE'] ?? join(tmpdir(), 'regdb-bench'),
    adminUrl: process.env['REGDB_BENCH_DATABASE_URL'] ?? DEFAULT_URL,
    importArgs: dash >= 0 ? argv.slice(dash + 1) : [],
    shards: count('shards', values.shards, 1) || 1,
  };
}

const say = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

function corpus(opts: Options): CorpusSummary & { dir: string; reused: boolean } {
  const p = opts.params;
  const dir = join(
    opts.cache,
    `corpus-r${p.repositories}-t${p.tags}-l${p.layerRefs}-s${p.sharedLayers}-seed${p.seed}`,
  );
  const cached = readCorpusSummary(dir, p);
  if (cached) return { ...cached, dir, reused: true };
  say(`generating the corpus in ${dir}`);
  return { ...writeCorpus(dir, p), dir, reused: false };
}

/** YAML for the database section; the URL's password (if any) goes in the config, never on a command line. */
function databaseYaml(url: string): string {
  const u = new URL(url);
  const lines = ['database:', `  host: "${u.hostname}"`, `  port: ${u.port === '' ? 5432 : Number(u.port)}`];
  if (u.username !== '') lines.push(`  user: "${decodeURIComponent(u.username)}"`);
  if (u.password !== '') lines.push(`  password: ${JSON.stringify(decodeURIComponent(u.password))}`);
  lines.push(`  dbname: "${decodeURIComponent(u.pathname.slice(1))}"`);
  lines.push(`  sslmode: ${u.searchParams.get('sslmode') ?? 'disable'}`);
  return lines.join('\n') + '\n';
}

/** The CLI with the node flags of its shebang, as an installed `regdb` starts. */
function regdbCommand(runner: Options['runner']): string[] {
  const flags = cliNodeFlags(join(ROOT, 'src/cli/main.ts'));
  return runner !== 'tsx'
    ? [...flags, join(ROOT, 'dist/src/cli/main.js')]
    : [...flags, '--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
}

async function regdb(
  opts: Options,
  args: string[],
  what: string,
): Promise<Awaited<ReturnType<typeof runMeasured>>> {
  const prof = opts.cpuProf && args[1] === 'import' ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProf] : [];
  const r = await runMeasured(process.execPath, [...prof, ...regdbCommand(opts.runner), ...args], {
    cwd: ROOT,
  });
  if (r.code !== 0) {
    throw new Error(
      `${what} failed (exit ${r.code ?? r.signal}):\n${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`,
    );
  }
  return r;
}

/**
 * `regdb database migrate up`, retried when the server's lock table is momentarily full (SQLSTATE
 * 53200, out of shared memory: other test runs migrating at the same time on a shared server). The
 * child reports the code only in its message, so that is where it is looked for.
 */
async function migrate(opts: Options, config: string): Promise<Awaited<ReturnType<typeof runMeasured>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await regdb(opts, ['database', 'migrate', 'up', config], 'migrate up');
    } catch (err) {
      if (attempt >= 5 || !String(err).includes('SQLSTATE 53200')) throw err;
      say(`lock table full while migrating (SQLSTATE 53200); retry ${attempt}`);
      await new Promise((r) => setTimeout(r, 3000 * attempt));
    }
  }
}

interface ImportReport {
  steps?: {
    step: number;
    seconds?: number;
    repositories?: number;
    tags?: number;
    manifests?: number;
    blobs?: number;
  }[];
  storageRequests?: Record<string, number>;
}

/**
 * The import: one process, or `--shards N` processes started at once (`--shard i/N`, one run). Wall
 * time is the last process's; per step, the slowest shard's seconds and the sum of the counters;
 * requests and CPU seconds add up; peak RSS is the largest process's.
 */
async function importShards(
  opts: Options,
  importCfg: string,
  work: string,
): Promise<{
  imp: {
    seconds: number;
    peakRss: number;
    peakRssSource: string;
    cpuSeconds?: { user: number; system: number };
  };
  report: ImportReport;
  shards: ShardFigure[];
}> {
  const n = opts.shards;
  const runs = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const reportFile = join(work, `report-${i}.json`);
      const shardArgs = n > 1 ? ['--shard', `${i}/${n}`] : [];
      const m = await regdb(
        opts,
        [
          'database',
          'import',
          '--report',
          reportFile,
          '--log-directory',
          join(work, `log-${i}`),
          ...shardArgs,
          ...opts.importArgs,
          importCfg,
        ],
        n > 1 ? `shard ${i}/${n}` : 'the import',
      );
      return { m, report: JSON.parse(readFileSync(reportFile, 'utf8')) as ImportReport };
    }),
  );
  const steps = new Map<number, NonNullable<ImportReport['steps']>[number]>();
  const requests: Record<string, number> = {};
  for (const { report } of runs) {
    for (const s of report.steps ?? []) {
      const acc = steps.get(s.step);
      if (acc === undefined) steps.set(s.step, { ...s });
      else {
        acc.seconds = Math.max(acc.seconds ?? 0, s.seconds ?? 0);
        for (const k of ['repositories', 'tags', 'manifests', 'blobs'] as const)
          if (s[k] !== undefined) acc[k] = (acc[k] ?? 0) + s[k];
      }
    }
    for (const [k, v] of Object.entries(report.storageRequests ?? {})) requests[k] = (requests[k] ?? 0) + v;
  }
  const cpu = runs.every((r) => r.m.cpuSeconds !== undefined)
    ? {
        user: runs.reduce((s, r) => s + r.m.cpuSeconds!.user, 0),
        system: runs.reduce((s, r) => s + r.m.cpuSeconds!.system, 0),
      }
    : undefined;
  return {
    imp: {
      seconds: Math.max(...runs.map((r) => r.m.seconds)),
      peakRss: Math.max(...runs.map((r) => r.m.peakRss)),
      peakRssSource: runs[0]!.m.peakRssSource,
      ...(cpu !== undefined ? { cpuSeconds: cpu } : {}),
    },
    report: {
      steps: [...steps.values()].sort((a, b) => a.step - b.step),
      ...(runs.some((r) => r.report.storageRequests) ? { storageRequests: requests } : {}),
    },
    shards: runs.map(({ m, report }, i) => {
      const two = report.steps?.find((s) => s.step === 2);
      return {
        shard: i,
        seconds: m.seconds,
        ...(m.cpuSeconds !== undefined ? { cpuSeconds: m.cpuSeconds.user + m.cpuSeconds.system } : {}),
        peakRssMB: m.peakRss / 2 ** 20,
        repositories: two?.repositories ?? 0,
        tags: two?.tags ?? 0,
      };
    }),
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  mkdirSync(opts.cache, { recursive: true });
  const c = corpus(opts);
  if (opts.runner !== 'tsx') {
    // The compiled CLI is what users run: no transpiler in the process (its memory counts in peak RSS).
    say('npm run build');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
    if (b.status !== 0) {
      const why = b.stdout.slice(-3000);
      if (opts.runner === 'dist')
        throw new Error(`npm run build failed; fix it or use --runner tsx:\n${why}`);
      say(`npm run build failed, running the import from source with tsx instead:\n${why}`);
      opts.runner = 'tsx';
    } else {
      opts.runner = 'dist';
    }
  }
  const work = mkdtempSync(join(tmpdir(), 'regdb-bench-run-'));
  const tag = `regdb_bench_${process.pid}`;
  const importDb = `${tag}_import`;
  const loadDb = `${tag}_load`;
  let store: import('./lib/bench-s3.js').LoadedStore | undefined;
  try {
    let storage = `storage:\n  filesystem:\n    rootdirectory: ${JSON.stringify(c.dir)}\n`;
    if (opts.driver !== 'filesystem') {
      const { startLoadedS3, startLoadedGcs } = await import('./lib/bench-s3.js');
      say(`loading ${c.files} files into ${opts.driver === 's3' ? 'Ceph radosgw' : 'the GCS test server'}`);
      store = await (opts.driver === 's3' ? startLoadedS3 : startLoadedGcs)(c.dir, opts.delayMs);
      storage = store.storageYaml;
    }
    const importUrl = await createDatabase(opts.adminUrl, importDb);
    const importCfg = join(work, 'import.yml');
    writeFileSync(importCfg, `version: 0.1\n${databaseYaml(importUrl)}${storage}`);

    say('migrate up');
    const migrated = await migrate(opts, importCfg);
    // The load database is the same freshly migrated state: a copy made before the import starts.
    const loadUrl = await createDatabase(opts.adminUrl, loadDb, importDb);
    const tables = await tablesInFkOrder(importUrl, ['public']);
    const fresh = await tableStates(importUrl, tables);

    say(`import (${opts.driver}${opts.shards > 1 ? `, ${opts.shards} shard processes at once` : ''})`);
    const pids = store?.storePids() ?? [];
    const cpuBefore = markCpu(pids);
    const { imp, report, shards } = await importShards(opts, importCfg, work);
    const machine = machineCpuSince(cpuBefore, pids);
    const after = await tableStates(importUrl, tables);

    say('copy out the final rows, \\copy them into a fresh migrated database');
    const { copied } = copyOutImportedRows(importUrl, tables, fresh, after, work);
    const copyIn = timeCopyIn(loadUrl, copied);
    const gcImport = await triggerTableCounts(importUrl, tables);
    const gcLoad = await triggerTableCounts(loadUrl, tables);
    const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
    const gcFresh = tables
      .filter(isTriggerFilled)
      .reduce((s, t) => s + (fresh.get(t.qualified)?.rows ?? 0), 0);
    for (const [t, n] of gcImport) {
      if (gcLoad.get(t) !== n)
        say(`note: ${t} has ${n} rows after the import and ${gcLoad.get(t)} after the load`);
    }

    say('cat the files an import reads (warm cache)');
    const cat = timeCat(c.dir);

    const rows = copied.reduce((s, t) => s + t.rows, 0);
    const tags = after.get('"public"."tags"')?.rows ?? 0;
    const requests = report.storageRequests;
    const totalRequests = requests ? Object.values(requests).reduce((a, b) => a + b, 0) : undefined;
    const copyInSeconds = copyIn.reduce((s, t) => s + t.seconds, 0);
    const cpu = imp.cpuSeconds;
    const steps: StepFigure[] = (report.steps ?? []).map((s) => ({
      step: s.step,
      seconds: s.seconds ?? NaN,
      ...(s.repositories !== undefined ? { repositories: s.repositories } : {}),
      ...(s.tags !== undefined ? { tags: s.tags } : {}),
      ...(s.manifests !== undefined ? { manifests: s.manifests } : {}),
      ...(s.blobs !== undefined ? { blobs: s.blobs } : {}),
    }));
    const figures: BenchFigures = {
      corpus: c,
      driver: opts.driver,
      runner: opts.runner,
      ...(store ? { uploadSeconds: store.seconds, maxInFlight: store.proxy.maxInFlight() } : {}),
      ...(opts.delayMs > 0 ? { delayMs: opts.delayMs } : {}),
      migrateSeconds: migrated.seconds,
      machineCpu: machine,
      import: {
        wallSeconds: imp.seconds,
        steps,
        peakRssMB: imp.peakRss / 2 ** 20,
        peakRssSource: imp.peakRssSource,
        ...(cpu ? { cpuSeconds: cpu } : {}),
        ...(cpu && totalRequests
          ? { cpuMsPerRequest: ((cpu.user + cpu.system) * 1000) / totalRequests }
          : {}),
        ...(shards.length > 1 ? { shards } : {}),
        ...(requests ? { requests } : {}),
        ...(totalRequests !== undefined && tags > 0 ? { requestsPerTag: totalRequests / tags } : {}),
        tags,
        rows,
        gcRows: sum(gcImport) - gcFresh,
        tagsPerSecond: tags / imp.seconds,
        rowsPerSecond: rows / imp.seconds,
        rowsByTable: Object.fromEntries(copied.map((t) => [t.table.qualified, t.rows])),
      },
      limit: {
        copyInSeconds,
        copyIn,
        gcRowsAfterLoad: sum(gcLoad) - gcFresh,
        catSeconds: cat.seconds,
        catFiles: cat.files,
        ratio: imp.seconds / (copyInSeconds + cat.seconds),
      },
    };
    process.stdout.write((opts.json ? JSON.stringify(figures, null, 2) : renderFigures(figures)) + '\n');
  } finally {
    if (store) await store.close();
    if (!opts.keep) {
      await dropDatabase(opts.adminUrl, importDb).catch(() => undefined);
      await dropDatabase(opts.adminUrl, loadDb).catch(() => undefined);
      rmSync(work, { recursive: true, force: true });
    } else {
      say(`kept databases ${importDb} and ${loadDb}, and ${work}`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
