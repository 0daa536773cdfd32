import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../../drivers/driver.js';
import { classifyBlobFile, enumerateBlobs, type BlobEntry } from '../../../src/registry/blobs.js';

const B = '/docker/registry/v2/blobs';
// The big config blob of fixtures/registries/real (300,485 bytes).
const BIG = '7d8b56b50b372bc8af57ddac2cd71624e80156ebd67b728e77e96f5ef5aad8db';
const SHA512 =
  'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';
const SHA384 =
  'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7';

const file = (path: string, size = 17): FileInfo => ({ path, size });

describe('classifyBlobFile (spec §1.7)', () => {
  it('derives digest and size from a canonical sha256 path', () => {
    expect(classifyBlobFile(file(`${B}/sha256/7d/${BIG}/data`, 300485))).toEqual({
      kind: 'blob',
      digest: { algorithm: 'sha256', hex: BIG },
      path: `${B}/sha256/7d/${BIG}/data`,
      size: 300485n,
      canonical: true,
    });
  });

  it('handles sha512', () => {
    expect(classifyBlobFile(file(`${B}/sha512/cf/${SHA512}/data`))).toMatchObject({
      kind: 'blob',
      digest: { algorithm: 'sha512', hex: SHA512 },
      canonical: true,
    });
  });

  it('keeps sizes beyond 2^53 exact', () => {
    const entry = classifyBlobFile(file(`${B}/sha256/7d/${BIG}/data`, Number.MAX_SAFE_INTEGER));
    expect(entry).toMatchObject({ size: 9007199254740991n });
  });

  it('accepts, as GitLab does, a path without the two-character level, marking it non-canonical', () => {
    expect(classifyBlobFile(file(`${B}/sha256/${BIG}/data`))).toMatchObject({
      kind: 'blob',
      digest: { algorithm: 'sha256', hex: BIG },
      canonical: false,
    });
  });

  it.each([
    ['non-hex name', `${B}/sha256/zz/${'z'.repeat(64)}/data`, 'invalid-format', 'ErrDigestInvalidFormat'],
    [
      'uppercase name',
      `${B}/sha256/7D/${BIG.toUpperCase()}/data`,
      'invalid-format',
      'ErrDigestInvalidFormat',
    ],
    ['truncated name', `${B}/sha256/ab/abcdef/data`, 'invalid-length', 'ErrDigestInvalidLength'],
    [
      'one-character name (GitLab panics)',
      `${B}/sha256/a/a/data`,
      'invalid-length',
      'ErrDigestInvalidLength',
    ],
    [
      'unsupported algorithm',
      `${B}/md5/d4/d41d8cd98f00b204e9800998ecf8427e/data`,
      'unsupported-algorithm',
      'ErrDigestUnsupported',
    ],
    ['sha384', `${B}/sha384/cb/${SHA384}/data`, 'sha384-unstorable', null],
  ])('reports a %s with a reason', (_what, path, reason, goError) => {
    const entry = classifyBlobFile(file(path));
    expect(entry).toMatchObject({ kind: 'invalid-path', path, reason, goError });
    expect(entry?.kind === 'invalid-path' && entry.message).toMatch(
      new RegExp(`^failed to parse digest from path ${path.replace(/[+.]/g, '\\$&')}: `),
    );
  });

  it('ignores files not named data and paths outside the blobs root', () => {
    expect(classifyBlobFile(file(`${B}/sha256/7d/${BIG}/link`))).toBeUndefined();
    expect(classifyBlobFile(file(`${B}/sha256/7d/${BIG}/data.tmp`))).toBeUndefined();
    expect(classifyBlobFile(file(`/docker/registry/v2/repositories/a/_uploads/x/data`))).toBeUndefined();
  });
});

describe('enumerateBlobs', () => {
  it('yields blobs and invalid paths in walk order, dropping ignored files', async () => {
    async function* walk(): AsyncGenerator<FileInfo> {
      yield file(`${B}/sha256/7d/${BIG}/data`, 300485);
      yield file(`${B}/sha256/7d/${BIG}/startedat`);
      yield file(`${B}/sha256/ab/abcdef/data`);
      yield file(`${B}/sha512/cf/${SHA512}/data`, 3);
    }
    const out: BlobEntry[] = [];
    for await (const e of enumerateBlobs(walk())) out.push(e);
    expect(out.map((e) => [e.kind, e.kind === 'blob' ? e.digest.algorithm : e.reason])).toEqual([
      ['blob', 'sha256'],
      ['invalid-path', 'invalid-length'],
      ['blob', 'sha512'],
    ]);
  });
});
