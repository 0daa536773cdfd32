/**
 * `npm run bench:cutover`: issue 14's figures on the bench corpus (the default synthetic corpus of
 * `npm run bench`, from its cache or generated).
 *
 *   estimate: `regdb inventory --json`, then the real import (`--report`) into a fresh database;
 *             prints predicted and measured seconds per step and the error.
 *   throttle: imports a tenth of that corpus (200 repositories, 2,000 tags) with
 *             `--max-rows-per-second R` (each R of --rates, below the unthrottled rate) into fresh
 *             databases and prints rows inserted / seconds spent in steps, against R.
 *
 *   npm run bench:cutover -- [--mode estimate|throttle|both] [--rates 2000,5000] [--scale N] [--json]
 *
 * Server: REGDB_BENCH_DATABASE_URL (admin URL), default postgresql://postgres@127.0.0.1:5432/postgres.
 * Runs the CLI from source (tsx); no build needed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDatabase, dropDatabase } from './lib/bench-db.js';
import { runMeasured } from './lib/bench-proc.js';
import { DEFAULT_PARAMS, scaleParams, type CorpusParams } from './lib/synthetic-plan.js';
import { readCorpusSummary, writeCorpus } from './lib/synthetic-writer.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const say = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

interface StepReport {
  step: number;
  seconds?: number;
}
interface ImportReport {
  steps?: StepReport[];
  rowsInserted?: Record<string, number>;
}
interface EstimateJson {
  steps: { step: number; seconds: number }[];
  totalSeconds: number;
}

async function regdb(args: string[]): Promise<{ stdout: string; seconds: number; cpu?: number }> {
  const r = await runMeasured(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
  });
  if (r.code !== 0)
    throw new Error(`regdb ${args[0]} ${args[1] ?? ''} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  return { stdout: r.stdout, seconds: r.seconds };
}

function databaseYaml(url: string): string {
  const u = new URL(url);
  const lines = ['database:', `  host: "${u.hostname}"`, `  port: ${u.port === '' ? 5432 : Number(u.port)}`];
  if (u.username !== '') lines.push(`  user: "${decodeURIComponent(u.username)}"`);
  if (u.password !== '') lines.push(`  password: ${JSON.stringify(decodeURIComponent(u.password))}`);
  lines.push(`  dbname: "${decodeURIComponent(u.pathname.slice(1))}"`, `  sslmode: disable`);
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      mode: { type: 'string', default: 'both' },
      rates: { type: 'string', default: '250,500' },
      scale: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const adminUrl = process.env['REGDB_BENCH_DATABASE_URL'] ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const params = scaleParams(DEFAULT_PARAMS, Number(values.scale));
  const cache = process.env['REGDB_BENCH_CACHE'] ?? join(tmpdir(), 'regdb-bench');
  mkdirSync(cache, { recursive: true });
  const corpusDir = (p: CorpusParams): string => {
    const dir = join(
      cache,
      `corpus-r${p.repositories}-t${p.tags}-l${p.layerRefs}-s${p.sharedLayers}-seed${p.seed}`,
    );
    if (!readCorpusSummary(dir, p)) {
      say(`generating the corpus in ${dir}`);
      writeCorpus(dir, p);
    }
    return dir;
  };
  const storageOf = (dir: string) => `storage:\n  filesystem:\n    rootdirectory: ${JSON.stringify(dir)}\n`;
  let storage = storageOf(corpusDir(params));
  const work = mkdtempSync(join(tmpdir(), 'regdb-bench-cutover-'));
  const out: Record<string, unknown> = { corpus: params };
  let n = 0;
  const freshImport = async (
    extra: string[],
    poll = false,
  ): Promise<{ report: ImportReport; seconds: number; config: string; serverRate?: number }> => {
    const name = `regdb_bench_cutover_${process.pid}_${n++}`;
    const url = await createDatabase(adminUrl, name);
    const config = join(work, `${name}.yml`);
    writeFileSync(config, `version: 0.1\n${databaseYaml(url)}${storage}`);
    try {
      await regdb(['database', 'migrate', 'up', config]);
      const reportFile = join(work, `${name}.json`);
      const samples: { t: number; rows: number }[] = [];
      const client = poll ? new pg.Client({ connectionString: url }) : undefined;
      await client?.connect();
      const sample = async (): Promise<void> => {
        const r = await client!.query<{ n: string }>(SERVER_INSERTS);
        samples.push({ t: performance.now(), rows: Number(r.rows[0]!.n) });
      };
      let timer: NodeJS.Timeout | undefined;
      if (client) {
        await sample();
        timer = setInterval(() => void sample().catch(() => undefined), 500);
      }
      try {
        const imp = await regdb([
          'database',
          'import',
          '--report',
          reportFile,
          '--log-directory',
          work,
          ...extra,
          config,
        ]);
        if (client) {
          // The last counters reach the statistics a moment after the last commit.
          await new Promise((r) => setTimeout(r, 1500));
          await sample();
        }
        return {
          report: JSON.parse(readFileSync(reportFile, 'utf8')) as ImportReport,
          seconds: imp.seconds,
          config,
          ...(client ? { serverRate: steadyRate(samples) } : {}),
        };
      } finally {
        if (timer) clearInterval(timer);
        await client?.end();
      }
    } finally {
      await dropDatabase(adminUrl, name).catch(() => undefined);
    }
  };
  try {
    if (values.mode === 'estimate' || values.mode === 'both') {
      // The estimate runs against a migrated, empty database, as before a real first import.
      const name = `regdb_bench_cutover_${process.pid}_est`;
      const url = await createDatabase(adminUrl, name);
      const config = join(work, `${name}.yml`);
      writeFileSync(config, `version: 0.1\n${databaseYaml(url)}${storage}`);
      let est: EstimateJson;
      try {
        await regdb(['database', 'migrate', 'up', config]);
        say('regdb inventory');
        est = JSON.parse((await regdb(['inventory', '--json', config])).stdout) as EstimateJson;
      } finally {
        await dropDatabase(adminUrl, name).catch(() => undefined);
      }
      say('the real import');
      const real = await freshImport([]);
      const rows = est.steps.map((p) => {
        const actual = real.report.steps?.find((s) => s.step === p.step)?.seconds ?? NaN;
        return {
          step: p.step,
          predicted: p.seconds,
          actual,
          errorPercent: ((p.seconds - actual) / actual) * 100,
        };
      });
      const actualTotal = rows.reduce((a, r) => a + r.actual, 0);
      out.estimate = {
        steps: rows,
        predictedTotal: est.totalSeconds,
        actualTotal,
        errorPercent: ((est.totalSeconds - actualTotal) / actualTotal) * 100,
      };
    }
    if (values.mode === 'throttle' || values.mode === 'both') {
      const rates = values.rates.split(',').map(Number);
      const small = {
        ...params,
        repositories: params.repositories / 10,
        tags: params.tags / 10,
        layerRefs: params.layerRefs / 10,
        sharedLayers: params.sharedLayers / 10,
      };
      storage = storageOf(corpusDir(small));
      out.throttleCorpus = small;
      const results = [];
      for (const rate of rates) {
        say(`import with --max-rows-per-second ${rate}`);
        const r = await freshImport(['--max-rows-per-second', String(rate)], true);
        const inserted = Object.values(r.report.rowsInserted ?? {}).reduce((a, b) => a + b, 0);
        const seconds = (r.report.steps ?? []).reduce((a, s) => a + (s.seconds ?? 0), 0);
        const measured = inserted / seconds;
        results.push({
          limit: rate,
          rowsInserted: inserted,
          stepSeconds: seconds,
          rowsPerSecond: measured,
          deviationPercent: ((measured - rate) / rate) * 100,
          serverRowsPerSecond: r.serverRate,
          serverDeviationPercent:
            r.serverRate === undefined ? undefined : ((r.serverRate - rate) / rate) * 100,
        });
      }
      out.throttle = results;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return;
  }
  const lines: string[] = [];
  const e = out.estimate as
    | {
        steps: { step: number; predicted: number; actual: number; errorPercent: number }[];
        predictedTotal: number;
        actualTotal: number;
        errorPercent: number;
      }
    | undefined;
  if (e) {
    lines.push('estimate vs real import (seconds)', 'step  predicted  actual  error');
    for (const r of e.steps)
      lines.push(
        `${r.step}     ${r.predicted.toFixed(1).padStart(9)}  ${r.actual.toFixed(1).padStart(6)}  ${r.errorPercent.toFixed(0).padStart(4)}%`,
      );
    lines.push(
      `all   ${e.predictedTotal.toFixed(1).padStart(9)}  ${e.actualTotal.toFixed(1).padStart(6)}  ${e.errorPercent.toFixed(0).padStart(4)}%`,
    );
  }
  const t = out.throttle as
    | {
        limit: number;
        rowsInserted: number;
        stepSeconds: number;
        rowsPerSecond: number;
        deviationPercent: number;
        serverRowsPerSecond?: number;
        serverDeviationPercent?: number;
      }[]
    | undefined;
  if (t) {
    lines.push(
      '',
      'throttle: rows inserted / seconds in steps',
      'limit   rows     seconds  rows/s   deviation',
    );
    for (const r of t)
      lines.push(
        `${String(r.limit).padEnd(7)} ${String(r.rowsInserted).padEnd(8)} ${r.stepSeconds.toFixed(1).padStart(7)}  ${r.rowsPerSecond.toFixed(0).padStart(6)}   ${r.deviationPercent.toFixed(1)}%   server ${r.serverRowsPerSecond?.toFixed(0) ?? '-'} rows/s (${r.serverDeviationPercent?.toFixed(1) ?? '-'}%)`,
      );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

/**
 * Rows PostgreSQL counted as inserted into GitLab's tables (partitions included), without the GC
 * queues (not charged by the throttle), regdb's own bookkeeping and TEMP staging tables.
 */
const SERVER_INSERTS = `SELECT coalesce(sum(n_tup_ins), 0)::text AS n FROM pg_stat_user_tables
  WHERE schemaname NOT LIKE 'pg_temp%' AND schemaname <> 'regdb_import'
    AND relname NOT LIKE 'gc\\_%' AND relname NOT IN ('import_statistics', 'schema_migrations', 'post_deploy_schema_migrations')`;

/** Rows per second between the samples where 10% and 90% of the final count had been reached. */
function steadyRate(samples: readonly { t: number; rows: number }[]): number {
  const first = samples[0]!.rows;
  const total = samples.at(-1)!.rows - first;
  const at = (share: number) => samples.find((s) => s.rows - first >= share * total)!;
  const a = at(0.1);
  const b = at(0.9);
  return (b.rows - a.rows) / Math.max((b.t - a.t) / 1000, 1e-6);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
