import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliNodeFlags, shebangNodeFlags } from '../../scripts/lib/node-flags.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = join(ROOT, 'src/cli/main.ts');

describe('the regdb executable shebang', () => {
  it('starts node with its heap flags through env -S', () => {
    expect(readFileSync(ENTRY, 'utf8').split('\n', 1)[0]).toBe(
      '#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50',
    );
    expect(cliNodeFlags(ENTRY)).toEqual(['--max-semi-space-size=8', '--heap-growing-percent=50']);
  });

  // Short-lived garbage makes V8 grow the young generation to its cap: two semi-spaces.
  const CHURN = `
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 5e4) keep = []; }
    const s = require('node:v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
    console.log(s.space_size);`;
  const newSpace = (flags: string[]): number => {
    const r = spawnSync(process.execPath, [...flags, '-e', CHURN], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return Number(r.stdout.trim());
  };

  it('gives flags node accepts, and they cap the young generation', () => {
    const MiB = 1 << 20;
    expect(newSpace(cliNodeFlags(ENTRY))).toBeLessThanOrEqual(2 * 8 * MiB);
    expect(newSpace([])).toBeGreaterThan(2 * 8 * MiB);
  });

  it('reads flags only from an env -S node line', () => {
    expect(shebangNodeFlags('#!/usr/bin/env node\nx')).toEqual([]);
    expect(shebangNodeFlags('#!/usr/bin/env -S node\n')).toEqual([]);
    expect(shebangNodeFlags('#!/usr/bin/env -S node --a=1  --b\n')).toEqual(['--a=1', '--b']);
    expect(shebangNodeFlags('// no shebang')).toEqual([]);
  });
});
