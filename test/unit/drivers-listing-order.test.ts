/**
 * drivers/listing-order.ts: the page check that detects a store listing out of binary order, and the
 * directory walk the object walk falls back to (each directory sorted here, `after` and `prune`
 * honoured), over an in-memory tree whose listings come back in reverse order.
 */
import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../drivers/driver.js';
import { checkPageOrder, directoryWalk, ListingOrderError } from '../../drivers/listing-order.js';

const FILES = [
  '/r/multi/a/_m/x',
  '/r/multi/_m/t/v1',
  '/r/multi/_m/t/v1-rc',
  '/r/multi/_m/t/v1.0',
  '/r/multi-docker/_m/x',
  '/r/multi.x/_m/x',
];

/** One level of FILES below `dir`, in reverse order (a store that sorts otherwise). */
async function listDir(dir: string): Promise<{ files: FileInfo[]; dirs: string[] }> {
  const files = new Map<string, FileInfo>();
  const dirs = new Set<string>();
  for (const p of FILES) {
    if (!p.startsWith(`${dir}/`)) continue;
    const rest = p.slice(dir.length + 1);
    const cut = rest.indexOf('/');
    if (cut < 0) files.set(p, { path: p, size: 1 });
    else dirs.add(`${dir}/${rest.slice(0, cut)}`);
  }
  return { files: [...files.values()].reverse(), dirs: [...dirs].reverse() };
}

async function collect(it: AsyncIterable<FileInfo>): Promise<string[]> {
  const out: string[] = [];
  for await (const f of it) out.push(f.path);
  return out;
}

/** Bytewise order of ASCII paths is JavaScript's default sort. */
const sorted = [...FILES].sort();

describe('checkPageOrder', () => {
  it('accepts strictly increasing keys after the last one seen', () => {
    expect(() => checkPageOrder('s3aws', ['a-b', 'a.b', 'a/b'], 'a')).not.toThrow();
  });
  it('refuses a page out of binary order, or one that does not start after what came before', () => {
    expect(() => checkPageOrder('s3aws', ['a/b', 'a-b'], undefined)).toThrow(ListingOrderError);
    expect(() => checkPageOrder('s3aws', ['a-b'], 'a/b')).toThrow(
      /listed "a-b" after "a\/b", not in binary key order/,
    );
    expect(() => checkPageOrder('s3aws', ['a', 'a'], undefined)).toThrow(ListingOrderError);
  });
});

describe('directoryWalk', () => {
  it('yields every file in binary order whatever order the listings came in', async () => {
    expect(sorted).toEqual([
      '/r/multi-docker/_m/x',
      '/r/multi.x/_m/x',
      '/r/multi/_m/t/v1',
      '/r/multi/_m/t/v1-rc',
      '/r/multi/_m/t/v1.0',
      '/r/multi/a/_m/x',
    ]);
    expect(await collect(directoryWalk('/r', listDir, {}, undefined))).toEqual(sorted);
  });
  it('yields only what sorts after `after`, and skips pruned directories', async () => {
    expect(await collect(directoryWalk('/r', listDir, {}, '/r/multi/_m/t/v1'))).toEqual(sorted.slice(3));
    expect(
      await collect(directoryWalk('/r', listDir, { prune: (d) => d === '/r/multi/_m' }, undefined)),
    ).toEqual(sorted.filter((p) => !p.startsWith('/r/multi/_m/')));
  });
});
