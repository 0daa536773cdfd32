/**
 * The two halves of the limit ratio's denominator (issue 5 §5): how long PostgreSQL needs to load an
 * import's final rows with psql's \copy, and how long `cat` needs to read the files an import reads.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tableStates, type TableInfo, type TableState } from './bench-db.js';
import { timeShell } from './bench-proc.js';
import { READ_BLOBS_FILE } from './synthetic-writer.js';

/**
 * GC queue tables (spec §3.3) are filled by the row triggers of blobs, manifests, layers, tags… A
 * plain load with triggers on recreates their rows, so loading them too would duplicate the work and
 * the rows: they are left out of the copy and checked afterwards instead.
 */
export function isTriggerFilled(t: TableInfo): boolean {
  return t.schema === 'public' && t.name.startsWith('gc_');
}

export interface CopiedTable {
  readonly table: TableInfo;
  readonly file: string;
  readonly rows: number;
  /** Rows of a fresh migrated database (seed data) that the copy leaves out. */
  readonly seedRows: number;
}

function psql(url: string, command: string): void {
  const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', command], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`psql ${command.slice(0, 80)}… failed: ${r.stderr.toString().trim()}`);
}

function columnList(t: TableInfo): string {
  return t.columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(', ');
}

/**
 * Copies out the rows an import added: whole tables that are empty when freshly migrated, and rows
 * with an id above the seed rows' for seeded tables (media_types). Tables it did not change are skipped.
 */
export function copyOutImportedRows(
  url: string,
  tables: readonly TableInfo[],
  fresh: Map<string, TableState>,
  after: Map<string, TableState>,
  dir: string,
): { copied: CopiedTable[]; unchanged: string[] } {
  const copied: CopiedTable[] = [];
  const unchanged: string[] = [];
  for (const [i, t] of tables.entries()) {
    if (isTriggerFilled(t)) continue;
    const base = fresh.get(t.qualified) ?? { rows: 0 };
    const now = after.get(t.qualified) ?? { rows: 0 };
    if (now.rows === base.rows) {
      if (now.rows > 0) unchanged.push(t.qualified);
      continue;
    }
    let where = '';
    if (base.rows > 0) {
      if (!t.hasId || base.maxId === undefined) {
        throw new Error(
          `${t.qualified} has seed rows and no id column: cannot tell the imported rows apart.`,
        );
      }
      where = ` WHERE id > ${BigInt(base.maxId).toString()}`;
    }
    const file = join(dir, `${String(i).padStart(2, '0')}-${t.schema}.${t.name}.copy`);
    psql(url, `\\copy (SELECT ${columnList(t)} FROM ${t.qualified}${where}) TO '${file}'`);
    copied.push({ table: t, file, rows: now.rows - base.rows, seedRows: base.rows });
  }
  return { copied, unchanged };
}

export interface LoadTiming {
  readonly table: string;
  readonly rows: number;
  readonly seconds: number;
}

/** Loads the copied files into a fresh migrated database, in foreign-key order, triggers on. */
export function timeCopyIn(url: string, copied: readonly CopiedTable[]): LoadTiming[] {
  return copied.map((c) => {
    const started = process.hrtime.bigint();
    psql(url, `\\copy ${c.table.qualified} (${columnList(c.table)}) FROM '${c.file}'`);
    return {
      table: c.table.qualified,
      rows: c.rows,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
  });
}

/** Row counts of the trigger-filled tables in two databases, to show the load recreated the same GC rows. */
export async function triggerTableCounts(
  url: string,
  tables: readonly TableInfo[],
): Promise<Map<string, number>> {
  const states = await tableStates(url, tables.filter(isTriggerFilled));
  return new Map([...states].map(([k, v]) => [k, v.rows]));
}

/**
 * The files an import reads: every file below `repositories/` except upload sessions and tag
 * history (spec §1.1: never read), plus the manifest and config blobs listed by the generator.
 */
export const CAT_SCRIPT =
  "find docker/registry/v2/repositories \\( -name _uploads -o -path '*/_manifests/tags/*/index' \\) -prune " +
  `-o -type f -print0 | xargs -0 cat > /dev/null && xargs -0 -a ${READ_BLOBS_FILE} cat > /dev/null`;

export function countReadFiles(root: string): number {
  const r = spawnSync(
    'bash',
    [
      '-c',
      "find docker/registry/v2/repositories \\( -name _uploads -o -path '*/_manifests/tags/*/index' \\) -prune " +
        `-o -type f -print | wc -l; tr -cd '\\0' < ${READ_BLOBS_FILE} | wc -c`,
    ],
    { cwd: root },
  );
  return r.stdout
    .toString()
    .trim()
    .split('\n')
    .reduce((s, n) => s + Number(n), 0);
}

/** Wall time of the cat run with a warm page cache (one untimed run first). */
export function timeCat(root: string): { seconds: number; files: number } {
  timeShell(CAT_SCRIPT, root);
  const seconds = timeShell(CAT_SCRIPT, root);
  return { seconds, files: countReadFiles(root) };
}
