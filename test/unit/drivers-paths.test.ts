import { describe, expect, it } from 'vitest';
import { InvalidPathError } from '../../drivers/errors.js';
import { gcsKeyPrefix } from '../../drivers/gcs.js';
import { dirKeyOf, keyOf, pathOf, type ObjectStore } from '../../drivers/object-walk.js';
import { compareBytewise, sortForWalk, subtreeBefore, validatePath } from '../../drivers/paths.js';
import { resolveConcurrency } from '../../drivers/requests.js';
import { endpointUrl, s3KeyPrefix } from '../../drivers/s3.js';

describe('validatePath', () => {
  it('accepts driver paths and the root', () => {
    for (const p of [
      '/',
      '/docker',
      '/docker/registry/v2/repositories/a/b/_manifests/tags/v1.0/current/link',
    ]) {
      expect(validatePath(p, 'x')).toBe(p);
    }
  });

  it.each([
    ['', 'empty path'],
    ['docker/registry', 'not absolute'],
    ['/docker/', 'empty path component'],
    ['/docker//registry', 'empty path component'],
    ['/docker/../etc', '".." component'],
    ['/docker/./x', '"." component'],
    ['/docker/a\0b', 'NUL'],
  ])('rejects %j (%s)', (path, reason) => {
    expect(() => validatePath(path, 'filesystem')).toThrow(InvalidPathError);
    expect(() => validatePath(path, 'filesystem')).toThrow(reason);
  });
});

describe('bytewise order', () => {
  it('orders like UTF-8 bytes, also for surrogate pairs against U+E000..U+FFFF', () => {
    expect(compareBytewise('a-b', 'a/b')).toBeLessThan(0);
    expect(compareBytewise('a/b', 'a0')).toBeLessThan(0);
    expect(compareBytewise('a', 'ab')).toBeLessThan(0);
    expect(compareBytewise('x', 'x')).toBe(0);
    // U+1F600 is F0 9F 98 80 in UTF-8, above U+FFFD (EF BF BD), though its UTF-16 unit 0xD83D is below.
    expect('\u{1F600}' < '\uFFFD').toBe(true);
    expect(compareBytewise('\u{1F600}', '\uFFFD')).toBeGreaterThan(0);
    const words = ['\uFFFD', '\u{1F600}', 'z', '\u00e9'];
    const byBytes = [...words].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...words].sort(compareBytewise)).toEqual(byBytes);
  });

  it('agrees with Buffer.compare of the UTF-8 bytes on random strings, ASCII-only and mixed', () => {
    // A fixed seed: the same strings every run. ASCII pairs take the native comparison, the others
    // the code-unit loop; both must give the sign of the byte comparison.
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 48271) % 2147483647; // Park-Miller: exact in doubles, high bits used below
      return Math.floor((seed / 2147483647) * n);
    };
    const alphabets = [
      ['a', 'b', '-', '.', '/', '_', '0', 'Z'],
      ['a', '/', '\u00e9', '\uFFFD', '\uE000', '\u{1F600}', '\u{10000}', 'z'],
    ];
    const word = (alphabet: readonly string[]): string =>
      Array.from({ length: next(6) }, () => alphabet[next(alphabet.length)]!).join('');
    const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);
    for (let i = 0; i < 4000; i++) {
      const a = word(alphabets[i % 2]!);
      const b = i % 3 === 0 ? a + word(alphabets[0]!) : word(alphabets[(i >> 1) % 2]!);
      const want = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
      expect(sign(compareBytewise(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(want);
    }
  });

  it('sorts walk children so that directories compare as name + "/"', () => {
    const children = [
      { name: 'v1', isDir: true },
      { name: 'v1.0', isDir: true },
      { name: 'v1-rc', isDir: true },
      { name: 'v1a', isDir: false },
      { name: 'v1', isDir: false },
    ];
    expect(sortForWalk(children).map((c) => c.name + (c.isDir ? '/' : ''))).toEqual([
      'v1',
      'v1-rc/',
      'v1.0/',
      'v1/',
      'v1a',
    ]);
  });

  it('knows when a whole subtree sorts before a resume point', () => {
    expect(subtreeBefore('/a/b', '/a/c')).toBe(true);
    expect(subtreeBefore('/a/b', '/a/b/x')).toBe(false);
    expect(subtreeBefore('/a/b', '/a/b-x')).toBe(false); // "/a/b-x" < "/a/b/": the subtree is after it
    expect(subtreeBefore('/a/b', '/a/b0')).toBe(true);
  });
});

describe('key mapping (spec §1.1)', () => {
  it('S3: rootdirectory with trailing "/" trimmed, then the path, leading "/" trimmed', () => {
    expect(s3KeyPrefix(undefined)).toBe('');
    expect(s3KeyPrefix('')).toBe('');
    expect(s3KeyPrefix('/')).toBe('');
    expect(s3KeyPrefix('/registry')).toBe('registry/');
    expect(s3KeyPrefix('registry/data/')).toBe('registry/data/');
  });

  it('GCS: rootdirectory stripped of surrounding "/", one "/" added when non-empty', () => {
    expect(gcsKeyPrefix(undefined)).toBe('');
    expect(gcsKeyPrefix('/')).toBe('');
    expect(gcsKeyPrefix('/a/b/')).toBe('a/b/');
    expect(gcsKeyPrefix('a')).toBe('a/');
  });

  it('maps paths to keys and back', () => {
    const store = { keyPrefix: 'root/', driver: 'x' } as ObjectStore;
    expect(keyOf(store, '/docker/registry/v2/blobs')).toBe('root/docker/registry/v2/blobs');
    expect(dirKeyOf(store, '/docker/registry')).toBe('root/docker/registry/');
    expect(dirKeyOf(store, '/')).toBe('root/');
    expect(pathOf(store, 'root/docker/registry/v2/')).toBe('/docker/registry/v2');
    expect(pathOf(store, 'root/docker/x')).toBe('/docker/x');
  });

  it('builds S3 endpoint URLs from regionendpoint and secure', () => {
    expect(endpointUrl('minio:9000', true)).toBe('https://minio:9000');
    expect(endpointUrl('minio:9000', false)).toBe('http://minio:9000');
    expect(endpointUrl('http://127.0.0.1:4568', true)).toBe('http://127.0.0.1:4568');
  });
});

describe('resolveConcurrency', () => {
  const bounds = { floor: 4, default: 50 };
  it('uses the default when unset or not a positive integer, and raises to the floor', () => {
    expect(resolveConcurrency(undefined, bounds)).toBe(50);
    expect(resolveConcurrency(0, bounds)).toBe(50);
    expect(resolveConcurrency(2.5, bounds)).toBe(50);
    expect(resolveConcurrency(1, bounds)).toBe(4);
    expect(resolveConcurrency(200, bounds)).toBe(200);
  });
});
