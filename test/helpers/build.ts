/**
 * Process tests run the built CLI (dist/), so a stale build must not be what they test. The
 * integration global setup calls `ensureBuilt()`: when any build input (src/, drivers/, the
 * tsconfigs, package.json, scripts/copy-assets.mjs) is newer than the last build, it runs
 * `npm run build` (tsc + asset copy) and stamps dist/ with the build's start time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const STAMP = join(ROOT, 'dist', '.regdb-build-stamp');
const INPUTS = [
  'src',
  'drivers',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'scripts/copy-assets.mjs',
];

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const n of readdirSync(path)) max = Math.max(max, newest(join(path, n)));
  return max;
}

/** Why dist/ must be rebuilt, or null when it is current. */
export function staleReason(): string | null {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) return 'dist/src/cli/main.js is missing';
  // A build made here is stamped with its start time; one made by `npm ci` ("prepare") is as old as
  // its entry point, written near the end of tsc's run.
  const built = statSync(existsSync(STAMP) ? STAMP : join(ROOT, 'dist', 'src', 'cli', 'main.js')).mtimeMs;
  for (const i of INPUTS) {
    if (newest(join(ROOT, i)) > built) return `${i} changed since the last build`;
  }
  return null;
}

export function ensureBuilt(): void {
  const reason = staleReason();
  if (reason === null) return;
  const started = new Date();
  process.stderr.write(`regdb tests: building dist/ (${reason})\n`);
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`npm run build failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  // Stamped with the start time: a file saved during the build makes the next run build again.
  writeFileSync(STAMP, `${started.toISOString()}\n`);
  utimesSync(STAMP, started, started);
}
