/**
 * `npm run fuzz -- --cases 5000 --seed 42 [--concurrency 2] [--first 0] [--keep] [--out results.json]`:
 * runs the damaged-tree fuzzer (test/integration/fuzz-trees.test.ts, test/fuzz/) for any number of
 * cases through vitest, so it uses the test suite's PostgreSQL setup (test/helpers/global-setup.ts).
 * Prints counts by mutation class and every finding; exit status 1 when anything was found.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '200' },
    seed: { type: 'string', default: '17' },
    concurrency: { type: 'string', default: '2' },
    first: { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
for (const k of ['cases', 'seed', 'concurrency', 'first'] as const) {
  if (!/^\d+$/.test(values[k])) {
    console.error(`fuzz: --${k} must be a non-negative integer, got ${JSON.stringify(values[k])}`);
    process.exit(2);
  }
}
const root = join(import.meta.dirname, '..');
const run = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--project',
    'integration',
    'test/integration/fuzz-trees.test.ts',
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      REGDB_FUZZ_CASES: values.cases,
      REGDB_FUZZ_SEED: values.seed,
      REGDB_FUZZ_CONCURRENCY: values.concurrency,
      REGDB_FUZZ_FIRST: values.first,
      ...(values.keep ? { REGDB_FUZZ_KEEP: '1' } : {}),
      ...(values.out !== undefined ? { REGDB_FUZZ_OUT: values.out } : {}),
    },
  },
);
process.exit(run.status ?? 1);
