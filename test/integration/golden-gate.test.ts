/**
 * Goldens are regdb's own output: `REGDB_UPDATE_GOLDEN=1` may rewrite them only after the oracle test
 * passed for the current source tree (test/helpers/oracle-marker.ts). Without the marker, the golden
 * writer refuses and writes nothing.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectGolden, GOLDEN_DIR } from '../helpers/golden.js';
import { markerPath } from '../helpers/oracle-marker.js';

const marker = markerPath();
const hidden = `${marker}.hidden-by-golden-gate-test`;

afterEach(() => {
  vi.unstubAllEnvs();
  if (existsSync(hidden)) renameSync(hidden, marker);
});

describe('REGDB_UPDATE_GOLDEN=1', () => {
  it('is refused, and writes nothing, when the oracle has not passed for this source tree', async () => {
    if (existsSync(marker)) renameSync(marker, hidden);
    vi.stubEnv('REGDB_UPDATE_GOLDEN', '1');
    const file = join(GOLDEN_DIR, 'real-full', 'tags.json');
    const before = readFileSync(file, 'utf8');
    await expect(expectGolden('real-full', { tags: [] })).rejects.toThrow(
      /REGDB_UPDATE_GOLDEN=1 refused: no oracle pass for this source tree/,
    );
    expect(readFileSync(file, 'utf8')).toBe(before);
  });
});
