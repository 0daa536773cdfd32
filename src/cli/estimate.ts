/**
 * `regdb inventory [--json] [--sample-every N] CONFIG`, also reached as `regdb database import
 * --estimate CONFIG` (issue 14 §1): counts from listings only and predicted step times, before an
 * import starts. Reads storage listings, a few small link files and stats; writes nothing (the COPY
 * probe goes to a TEMP table in a rolled-back transaction).
 */
import { Command, Option } from 'commander';
import { createDriver } from '../../drivers/factory.js';
import { probeCopy, type CopyProbe } from '../db/copy-probe.js';
import { openDatabase } from '../db/open.js';
import { UsageError } from '../errors.js';
import { predict, type StepEstimate } from '../importer/estimate.js';
import { takeInventory, type Inventory } from '../importer/inventory.js';
import { announceEmbedded, commandLogger, configArgument, loadCommandConfig } from './common.js';
import { positiveInt } from './import-flags.js';
import { renderTable } from './table.js';

export interface EstimateFlags {
  json?: boolean;
  sampleEvery?: number;
}

export function registerInventory(program: Command): void {
  program
    .command('inventory')
    .description(
      'count what an import would find (repositories, tags, manifests, layer links, blobs and bytes, per ' +
        'top-level namespace) from storage listings only, and predict each import step’s time from read ' +
        'rates measured on this store and a COPY probe against the database',
    )
    .addArgument(configArgument())
    .option('--json', 'print the inventory and the prediction as JSON')
    .addOption(
      new Option(
        '--sample-every <n>',
        'list one top-level namespace in n (and one blob prefix in n) and scale the counts; for large stores',
      )
        .argParser(positiveInt)
        .default(1),
    )
    .action(async (configArg: string | undefined, flags: EstimateFlags, cmd: Command) => {
      await estimateCommand(configArg, flags, cmd);
    });
}

export interface EstimateReport {
  readonly inventory: Inventory;
  readonly database: CopyProbe;
  readonly steps: StepEstimate[];
  readonly totalSeconds: number;
}

export async function estimateCommand(
  configArg: string | undefined,
  flags: EstimateFlags,
  cmd: Command,
): Promise<void> {
  const config = loadCommandConfig(configArg, { requireStorage: true });
  if (config.storage === undefined) throw new UsageError('no storage configuration provided');
  const logger = commandLogger(cmd);
  const driver = await createDriver(config.storage, { logger });
  const tty = process.stderr.isTTY === true && !flags.json;
  let report: EstimateReport;
  try {
    const inventory = await takeInventory(driver, {
      sampleEvery: flags.sampleEvery ?? 1,
      sampleReads: 200,
      concurrency: 8,
      ...(tty
        ? { onProgress: (what: string, n: number) => process.stderr.write(`\rlisting: ${n} ${what}   `) }
        : {}),
    });
    if (tty) process.stderr.write('\n');
    const db = await openDatabase(config.database, { logger });
    announceEmbedded(db);
    let probe: CopyProbe;
    try {
      probe = await probeCopy(db.pool);
    } finally {
      await db.close();
    }
    const steps = predict(inventory, probe);
    report = { inventory, database: probe, steps, totalSeconds: steps.reduce((a, s) => a + s.seconds, 0) };
  } finally {
    await driver.close();
  }
  process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + '\n' : renderEstimate(report));
}

const f = (n: number) => Math.round(n).toLocaleString('en-US');
const s = (n: number) => (n < 10 ? n.toFixed(1) : f(n));

export function renderEstimate(r: EstimateReport): string {
  const inv = r.inventory;
  const ns = Object.entries(inv.namespaces)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, c]) => [name, f(c.repositories), f(c.tags), f(c.manifests), f(c.layerLinks)]);
  const t = inv.total;
  ns.push(['TOTAL', f(t.repositories), f(t.tags), f(t.manifests), f(t.layerLinks)]);
  const lines = [
    inv.sampleEvery > 1
      ? `Sampled: one top-level namespace (and blob prefix) in ${inv.sampleEvery} was listed; counts are scaled up.`
      : 'From a complete listing (no manifest was read).',
    renderTable(['namespace', 'repositories', 'tags', 'manifests', 'layer links'], ns),
    `Blobs: ${f(t.blobs)}, ${f(Number(BigInt(t.blobBytes) / 1_048_576n))} MiB.`,
    `Measured: listing ${s(inv.listingSeconds.repositories)} s (repositories) + ${s(inv.listingSeconds.blobs)} s (blobs); ` +
      `${f(inv.readRate.linkReadsPerSecond)} link reads/s and ${f(inv.readRate.statsPerSecond)} stats/s ` +
      `(${inv.readRate.sampled} timed requests); database COPY ${f(r.database.copyRowsPerSecond)} rows/s, ` +
      `merge ${f(r.database.mergeRowsPerSecond)} rows/s (${f(r.database.rows)}-row probe).`,
    renderTable(
      ['step', 'requests', 'rows', 'storage s', 'database s', 'predicted s'],
      r.steps.map((x) => [
        String(x.step),
        f(x.requests),
        f(x.rows),
        s(x.storageSeconds),
        s(x.databaseSeconds),
        s(x.seconds),
      ]),
    ),
    `Predicted import time: ${s(r.totalSeconds)} s.`,
  ];
  return lines.join('\n') + '\n';
}
