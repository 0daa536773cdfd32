/**
 * `npm run bench:kill`: the kill-from-outside test (test/integration/import-kill-outside.test.ts)
 * with more moments than CI runs: the built CLI imports a synthetic tree of 3,000 tags and is
 * SIGKILLed from outside at seeded random moments over the three steps; each rerun must end with the
 * rows of an uninterrupted import and read and write less than it. Prints one line per kill.
 *
 *   npm run bench:kill -- [--kills N] [--seed N]      (default: 20 kills, seed 17)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

const { values } = parseArgs({
  options: { kills: { type: 'string', default: '20' }, seed: { type: 'string', default: '17' } },
});
const kills = Number(values.kills);
const seed = Number(values.seed);
if (!Number.isInteger(kills) || kills < 1)
  throw new Error(`--kills must be a positive integer, got "${values.kills}".`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${values.seed}".`);

const dir = mkdtempSync(join(tmpdir(), 'regdb-bench-kill-'));
const summaryFile = join(dir, 'summary.json');
try {
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      'test/integration/import-kill-outside.test.ts',
    ],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env: {
        ...process.env,
        REGDB_KILL_MOMENTS: String(kills),
        REGDB_KILL_SEED: String(seed),
        REGDB_KILL_SUMMARY: summaryFile,
      },
    },
  );
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
    fresh: { reads: number; writes: number };
    moments: {
      kill: number;
      target_step: number;
      target_checkpoints: number;
      steps_finished_at_kill: number[];
      checkpoints_at_kill: Record<string, number>;
      rerun_reads: number;
      rerun_writes: number;
    }[];
  };
  console.log(
    `\nkills: ${summary.moments.length} of ${kills} (seed ${seed}); uninterrupted run: ${summary.fresh.reads} storage requests, ${summary.fresh.writes} rows`,
  );
  console.log('kill  step  target_cp  finished  checkpoints        rerun_reads  rerun_rows');
  for (const m of summary.moments) {
    console.log(
      [
        String(m.kill).padStart(4),
        String(m.target_step).padStart(5),
        String(m.target_checkpoints).padStart(10),
        (m.steps_finished_at_kill.join(',') || '-').padStart(9),
        JSON.stringify(m.checkpoints_at_kill).padEnd(18),
        String(m.rerun_reads).padStart(12),
        String(m.rerun_writes).padStart(11),
      ].join(' '),
    );
  }
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
