/**
 * `regdb database verify [--sample N | --full] [--repository R] [--json] CONFIG` (issue 14 §2): is
 * the database the same as storage? A table of differences by kind (or JSON), exit 0 when equal,
 * 1 on any difference, 2 on usage errors. Read-only on both sides.
 */
import { Command, Option } from 'commander';
import { createDriver } from '../../drivers/factory.js';
import { openDatabase } from '../db/open.js';
import { UsageError } from '../errors.js';
import { verify, type VerifyResult } from '../importer/verify.js';
import { announceEmbedded, commandLogger, configArgument, loadCommandConfig } from './common.js';
import { positiveInt } from './import-flags.js';
import { renderTable } from './table.js';

interface VerifyFlags {
  sample?: number;
  full?: boolean;
  repository?: string;
  json?: boolean;
  concurrency: number;
}

/** Examples printed per kind in the table (JSON has up to 10,000 in all). */
const EXAMPLES = 5;

export function registerVerify(database: Command): void {
  database
    .command('verify')
    .description(
      'compare the database with storage: tags, manifest payloads and digests, layer and reference sets, ' +
        'blob sizes and media types, repositories on one side only. Read-only on both sides. Exit 0 when ' +
        'equal, 1 on any difference',
    )
    .addArgument(configArgument())
    .addOption(
      new Option('--sample <n>', 'check n repositories spread evenly over the sorted names').argParser(
        positiveInt,
      ),
    )
    .option('--full', 'also compare all of common blob storage with the blobs table, both ways')
    .option('--repository <name>', 'check this repository only')
    .option('--json', 'print the report as JSON')
    .addOption(
      new Option('--concurrency <n>', 'repositories compared at once').argParser(positiveInt).default(4),
    )
    .action(async (configArg: string | undefined, flags: VerifyFlags, cmd: Command) => {
      await verifyCommand(configArg, flags, cmd);
    });
}

async function verifyCommand(configArg: string | undefined, flags: VerifyFlags, cmd: Command): Promise<void> {
  if (flags.sample !== undefined && flags.full)
    throw new UsageError('--sample and --full cannot be used together: --full checks everything');
  if (flags.sample !== undefined && flags.repository !== undefined)
    throw new UsageError('--sample and --repository cannot be used together');
  const config = loadCommandConfig(configArg, { requireStorage: true });
  if (config.storage === undefined) throw new UsageError('no storage configuration provided');
  const logger = commandLogger(cmd);
  const driver = await createDriver(config.storage, { logger });
  let result: VerifyResult;
  try {
    const db = await openDatabase(config.database, { logger });
    announceEmbedded(db);
    try {
      const tty = process.stderr.isTTY && !flags.json;
      result = await verify(driver, db.pool, {
        full: flags.full ?? false,
        concurrency: flags.concurrency,
        ...(flags.sample !== undefined ? { sample: flags.sample } : {}),
        ...(flags.repository !== undefined ? { repository: flags.repository } : {}),
        ...(tty
          ? {
              onProgress: (done: number, total: number) =>
                process.stderr.write(`\rverifying ${done}/${total} repositories`),
            }
          : {}),
      });
      if (tty) process.stderr.write('\n');
    } finally {
      await db.close();
    }
  } finally {
    await driver.close();
  }
  process.stdout.write(flags.json ? JSON.stringify(result, jsonValue, 2) + '\n' : renderReport(result));
  if (!result.equal) {
    const n = Object.values(result.counts).reduce((a, b) => a + b, 0);
    throw new Error(`the database differs from storage: ${n} difference${n === 1 ? '' : 's'} (report above)`);
  }
}

function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function renderReport(r: VerifyResult): string {
  const scope =
    r.scope === 'sample'
      ? `a sample of ${r.repositories.checked} of ${r.repositories.storage} repositories (evenly spread; not every repository was checked)`
      : r.scope === 'repository'
        ? 'one repository'
        : `all ${r.repositories.checked} repositories present on both sides`;
  const lines = [
    `Checked ${scope}${r.full ? ', and all of common blob storage' : ''}: ` +
      `${r.checked.tags} tags, ${r.checked.manifests} manifests, ${r.checked.layers} layers, ${r.checked.blobs} blobs.`,
    `Repositories: ${r.repositories.storage} in storage, ${r.repositories.database} in the database.`,
  ];
  if (r.invalidNames.length > 0)
    lines.push(`Not compared (names the reference grammar rejects): ${r.invalidNames.join(', ')}`);
  if (r.equal) return lines.join('\n') + '\nNo differences: the database matches storage.\n';
  const rows = Object.entries(r.counts)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => [kind, String(n)]);
  const examples = Object.keys(r.counts).flatMap((kind) =>
    r.differences
      .filter((d) => d.kind === kind)
      .slice(0, EXAMPLES)
      .map((d) => [
        kind,
        d.repository ?? '',
        d.tag ?? d.manifest ?? '',
        d.digest ?? '',
        [d.database && `database: ${d.database}`, d.storage && `storage: ${d.storage}`]
          .filter(Boolean)
          .join('; '),
      ]),
  );
  return (
    lines.join('\n') +
    '\n' +
    renderTable(['difference', 'count'], rows) +
    renderTable(['difference', 'repository', 'tag or manifest', 'digest', 'detail'], examples)
  );
}
