import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobRowBuffer } from '../../src/importer/blob-rows.js';
import type { BlobRow } from '../../src/db/import-rows.js';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('BlobRowBuffer', () => {
  it('gives back every row, in order, past its first growth', () => {
    const rows: BlobRow[] = Array.from({ length: 3000 }, (_, i) => ({
      digest: { algorithm: 'sha256', hex: sha256(String(i)) },
      size: BigInt(i) * 1_000_003n,
    }));
    const b = new BlobRowBuffer();
    for (const r of rows) b.push(r);
    expect(b.length).toBe(3000);
    expect([...b]).toEqual(rows);
  });

  it('keeps other algorithms and sizes an int64 cannot hold where they were', () => {
    const rows: BlobRow[] = [
      { digest: { algorithm: 'sha256', hex: sha256('a') }, size: 0n },
      { digest: { algorithm: 'sha512', hex: createHash('sha512').update('b').digest('hex') }, size: 7n },
      { digest: { algorithm: 'sha256', hex: sha256('c') }, size: 2n ** 63n - 1n },
      { digest: { algorithm: 'sha256', hex: sha256('d') }, size: 2n ** 64n },
      { digest: { algorithm: 'sha256', hex: sha256('e') }, size: 42n },
    ];
    const b = new BlobRowBuffer();
    for (const r of rows) b.push(r);
    expect([...b]).toEqual(rows);
    // Iterating twice gives the same rows (a batch retried after a lost connection copies again).
    expect([...b]).toEqual(rows);
  });
});
