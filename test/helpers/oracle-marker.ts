/**
 * The oracle-pass marker that gates golden updates: the oracle test (oracle-real.test.ts) writes
 * it when every fact Debian's registry serves matched the imported rows, named by a hash of the
 * code and fixtures that decide those rows (src/, drivers/, fixtures/registries/). The golden writer
 * (golden.ts) refuses `REGDB_UPDATE_GOLDEN=1` unless the marker for the current tree exists, so a
 * golden can only be rewritten from rows an outside program agreed with.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const INPUTS = ['src', 'drivers', join('fixtures', 'registries')];
const MARKERS = join(ROOT, 'node_modules', '.cache', 'regdb-oracle');

function files(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      // Lockfiles an import leaves in a fixture are not part of the tree (.gitignore).
      if (e.name === 'lockfiles' || e.name === '.regdb') continue;
      files(p, out);
    } else if (e.isFile()) out.push(p);
  }
}

/** SHA-256 over the path and bytes of every input file, in sorted order. */
export function sourceTreeHash(): string {
  const all: string[] = [];
  for (const d of INPUTS) files(join(ROOT, d), all);
  all.sort();
  const h = createHash('sha256');
  for (const f of all) {
    h.update(relative(ROOT, f)).update('\0');
    h.update(readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}

export function markerPath(hash = sourceTreeHash()): string {
  return join(MARKERS, `pass-${hash}`);
}

export function writeOraclePass(): string {
  mkdirSync(MARKERS, { recursive: true });
  const file = markerPath();
  writeFileSync(file, `${new Date().toISOString()}\n`);
  return file;
}

export function oraclePassed(): boolean {
  return existsSync(markerPath());
}
