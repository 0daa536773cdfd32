/** The benchmark's figures, and their rendering as a plain-text table. */
import type { MachineCpu } from './bench-cpu.js';
import type { LoadTiming } from './bench-limit.js';
import type { CorpusSummary } from './synthetic-writer.js';

export const TARGETS = {
  limitRatio: 1.5,
  peakRssMB: 300,
  objectStoreRequestsPerTag: 2.1,
  cpuMsPerRequest: 1,
  tagsPerSecondAt30ms: 500,
} as const;

export interface StepFigure {
  readonly step: number;
  readonly seconds: number;
  readonly repositories?: number;
  readonly tags?: number;
  readonly manifests?: number;
  readonly blobs?: number;
}

/** One of `--shards N` import processes. */
export interface ShardFigure {
  readonly shard: number;
  readonly seconds: number;
  readonly cpuSeconds?: number;
  readonly peakRssMB: number;
  readonly repositories: number;
  readonly tags: number;
}

export interface BenchFigures {
  readonly corpus: CorpusSummary & { readonly dir: string; readonly reused: boolean };
  readonly driver: string;
  readonly runner: string;
  /** Seconds to load the corpus into the object store (radosgw, the GCS test server). */
  readonly uploadSeconds?: number;
  /** Milliseconds the local proxy added to every storage request. */
  readonly delayMs?: number;
  /** Most storage requests in flight at once, seen by the proxy. */
  readonly maxInFlight?: number;
  readonly migrateSeconds: number;
  /** This machine's CPU while the import ran (all processes). */
  readonly machineCpu?: MachineCpu;
  readonly import: {
    readonly wallSeconds: number;
    readonly steps: readonly StepFigure[];
    readonly peakRssMB: number;
    readonly peakRssSource: string;
    /** User + system CPU seconds of the import process. */
    readonly cpuSeconds?: { readonly user: number; readonly system: number };
    /** CPU milliseconds per storage request: (user + system) / requests. */
    readonly cpuMsPerRequest?: number;
    readonly shards?: readonly ShardFigure[];
    readonly requests?: Readonly<Record<string, number>>;
    readonly requestsPerTag?: number;
    readonly tags: number;
    /** Rows the import added to GitLab's tables, GC queue tables excluded. */
    readonly rows: number;
    /** Rows the GC tracking triggers (or their set-based equivalent) left in the gc_* tables. */
    readonly gcRows: number;
    readonly tagsPerSecond: number;
    readonly rowsPerSecond: number;
    readonly rowsByTable: Readonly<Record<string, number>>;
  };
  readonly limit: {
    readonly copyInSeconds: number;
    readonly copyIn: readonly LoadTiming[];
    readonly gcRowsAfterLoad: number;
    readonly catSeconds: number;
    readonly catFiles: number;
    readonly ratio: number;
  };
}

const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED');

/**
 * The machine's CPU while the import ran, and who used it: when the cores were busy nearly all the
 * time, the import waited for CPU shared with the store and the database, not for storage latency.
 */
function machineRows(f: BenchFigures): string[][] {
  const m = f.machineCpu;
  if (m === undefined) return [];
  const cpu = f.import.cpuSeconds;
  const bench =
    f.driver === 'gcs' ? 'bench (proxy, GCS server)' : f.driver === 's3' ? 'bench (proxy)' : 'bench';
  // Who used the busy seconds; the rest is only known when the import's own CPU is.
  const parts: [string, number][] = [
    ...(cpu ? [['import', cpu.user + cpu.system] as [string, number]] : []),
    ...(m.storeSeconds !== undefined ? [['store daemons', m.storeSeconds] as [string, number]] : []),
    [bench, m.benchSeconds],
  ];
  if (cpu) parts.push(['rest (PostgreSQL, other)', m.busySeconds - parts.reduce((s, [, v]) => s + v, 0)]);
  const percent = Math.round((100 * m.busySeconds) / Math.max(m.availableSeconds, 1e-9));
  return [
    [
      `machine CPU s busy during the import (${m.cores} cores)`,
      `${f2(m.busySeconds)} of ${f2(m.availableSeconds)} (${percent}%)`,
      '',
    ],
    [`  CPU s: ${parts.map(([k]) => k).join(' / ')}`, parts.map(([, v]) => f2(v)).join(' / '), ''],
  ];
}

export function renderFigures(f: BenchFigures): string {
  const c = f.corpus.counts;
  const im = f.import;
  const out: string[] = [];
  out.push(
    `corpus   ${f.corpus.dir} (${f.corpus.reused ? 'cached' : `generated in ${f1(f.corpus.seconds)} s`})`,
    `         ${int(c.repositories)} repositories, ${int(c.tags)} tags, ${int(c.taggedManifests)} tagged manifests, ` +
      `${int(c.indexes)} lists (${int(c.indexChildren)} children), ${int(c.layerRefs)} layer refs over ` +
      `${int(c.layerBlobs)} layer blobs, ${int(f.corpus.files)} files`,
    `driver   ${f.driver}${f.uploadSeconds !== undefined ? ` (corpus loaded in ${f1(f.uploadSeconds)} s)` : ''}` +
      `${f.delayMs ? `, ${f.delayMs} ms added per request` : ''}; ` +
      `runner ${f.runner}; migrate up ${f2(f.migrateSeconds)} s`,
    '',
    table([
      ['import step', 'seconds', 'repositories', 'tags', 'manifests', 'blobs'],
      ...im.steps.map((s) => [
        `step ${s.step}`,
        f2(s.seconds),
        s.repositories !== undefined ? int(s.repositories) : '-',
        s.tags !== undefined ? int(s.tags) : '-',
        s.manifests !== undefined ? int(s.manifests) : '-',
        s.blobs !== undefined ? int(s.blobs) : '-',
      ]),
      [
        im.shards ? `import wall (${im.shards.length} shard processes)` : 'import wall (process)',
        f2(im.wallSeconds),
        '',
        '',
        '',
        '',
      ],
      ...(im.shards ?? []).map((s) => [
        `  shard ${s.shard} (peak RSS ${f1(s.peakRssMB)} MB${s.cpuSeconds !== undefined ? `, CPU ${f2(s.cpuSeconds)} s` : ''})`,
        f2(s.seconds),
        int(s.repositories),
        int(s.tags),
        '',
        '',
      ]),
    ]),
    '',
    table([
      ['figure', 'value', 'target'],
      [
        'tags/s',
        int(im.tagsPerSecond),
        f.driver !== 'filesystem' && f.delayMs === 30
          ? `>= ${TARGETS.tagsPerSecondAt30ms} ${mark(im.tagsPerSecond >= TARGETS.tagsPerSecondAt30ms)}`
          : '',
      ],
      ['rows/s (GC queue rows excluded)', int(im.rowsPerSecond), ''],
      ['rows imported / GC queue rows', `${int(im.rows)} / ${int(im.gcRows)}`, ''],
      [
        `peak RSS MB (${im.peakRssSource})`,
        f1(im.peakRssMB),
        `<= ${TARGETS.peakRssMB} ${mark(im.peakRssMB <= TARGETS.peakRssMB)}`,
      ],
      [
        'storage requests',
        im.requests
          ? Object.entries(im.requests)
              .map(([k, v]) => `${k} ${int(v)}`)
              .join(', ')
          : 'not reported',
        '',
      ],
      [
        'storage requests per tag',
        im.requestsPerTag !== undefined ? f2(im.requestsPerTag) : '-',
        f.driver !== 'filesystem' && im.requestsPerTag !== undefined
          ? `<= ${TARGETS.objectStoreRequestsPerTag} ${mark(im.requestsPerTag <= TARGETS.objectStoreRequestsPerTag)}`
          : '',
      ],
      [
        'CPU s user / system',
        im.cpuSeconds ? `${f2(im.cpuSeconds.user)} / ${f2(im.cpuSeconds.system)}` : 'not measured',
        '',
      ],
      [
        'CPU ms per storage request',
        im.cpuMsPerRequest !== undefined ? f2(im.cpuMsPerRequest) : '-',
        f.driver !== 'filesystem' && im.cpuMsPerRequest !== undefined
          ? `<= ${TARGETS.cpuMsPerRequest} ${mark(im.cpuMsPerRequest <= TARGETS.cpuMsPerRequest)}`
          : '',
      ],
      ['most storage requests in flight', f.maxInFlight !== undefined ? int(f.maxInFlight) : '-', ''],
      ...machineRows(f),
    ]),
    '',
    table([
      ['limit: \\copy into a fresh migrated database', 'rows', 'seconds'],
      ...f.limit.copyIn.map((t) => [t.table, int(t.rows), f2(t.seconds)]),
      [
        'total \\copy (GC rows recreated by the triggers)',
        int(f.limit.gcRowsAfterLoad),
        f2(f.limit.copyInSeconds),
      ],
      [`limit: cat of the ${int(f.limit.catFiles)} files an import reads (warm)`, '', f2(f.limit.catSeconds)],
    ]),
    '',
    `LIMIT RATIO = ${f2(im.wallSeconds)} / (${f2(f.limit.copyInSeconds)} + ${f2(f.limit.catSeconds)}) = ` +
      `${f2(f.limit.ratio)}   (target <= ${TARGETS.limitRatio}: ${mark(f.limit.ratio <= TARGETS.limitRatio)})`,
  );
  return out.join('\n');
}
