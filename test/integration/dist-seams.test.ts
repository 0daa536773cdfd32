/**
 * Issue 16 §2, issue 11 §8: no test seam ships. The build as `npm run build` makes it (tsc with
 * tsconfig.build.json, here into a fresh folder so a stale dist/ cannot pass for it) holds no
 * reference to a `REGDB_TEST_*` variable and no kill hook: fault injection comes from the tests'
 * own entry point (test/helpers/import-events-entry.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const out = mkdtempSync(join(tmpdir(), 'regdb-dist-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

it('the built output reads no REGDB_TEST_ variable and ships no kill hook', () => {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', out], { cwd: REPO_ROOT });
  const built = files(out).filter((f) => f.endsWith('.js'));
  expect(built).toContain(join(out, 'src', 'cli', 'main.js'));
  const offending = built.filter((f) => /REGDB_TEST_|KILL_AT|killPoint/.test(readFileSync(f, 'utf8')));
  expect(offending).toEqual([]);
}, 300_000);
