import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseLink } from '../../../src/registry/digest.js';
import {
  linkContentMd5,
  listingProvesLink,
  tagDigestFromListing,
} from '../../../src/registry/listed-links.js';

const A = `sha256:${'a1'.repeat(32)}`;
const B = `sha256:${'b2'.repeat(32)}`;
const md5 = (s: string | Buffer): string => createHash('md5').update(s).digest('hex');

describe('links verified from listing MD5s', () => {
  it('linkContentMd5 is the MD5 of the `<alg>:<hex>` bytes, nothing more', () => {
    expect(linkContentMd5(A)).toBe(md5(Buffer.from(A, 'ascii')));
    expect(linkContentMd5(A)).not.toBe(md5(`${A}\n`));
  });

  it('a link is proven only by the MD5 of exactly the digest it should hold', () => {
    expect(listingProvesLink(md5(A), A)).toBe(true);
    expect(listingProvesLink(undefined, A)).toBe(false);
    expect(listingProvesLink(md5(B), A)).toBe(false);
    // Same length, other bytes: uppercase hex, a trailing newline after a shorter value.
    const upper = `sha256:${'A1'.repeat(32)}`;
    expect(upper).toHaveLength(A.length);
    expect(parseLink(upper).ok).toBe(false);
    expect(listingProvesLink(md5(upper), A)).toBe(false);
    expect(listingProvesLink(md5(`${A}\n`), A)).toBe(false);
    expect(listingProvesLink('', A)).toBe(false);
  });

  it('a tag link is the one history digest whose MD5 it has; none proves nothing', () => {
    expect(tagDigestFromListing({ md5: md5(B), history: [A, B] })).toEqual({
      algorithm: 'sha256',
      hex: 'b2'.repeat(32),
    });
    expect(tagDigestFromListing({ md5: md5(B), history: [A] })).toBeUndefined();
    expect(tagDigestFromListing({ md5: md5(`${B}\n`), history: [A, B] })).toBeUndefined();
    expect(tagDigestFromListing({ md5: md5(''), history: [A, B] })).toBeUndefined();
    expect(tagDigestFromListing({ md5: md5(B), history: [] })).toBeUndefined();
    // A history entry listed twice is still one candidate.
    expect(tagDigestFromListing({ md5: md5(A), history: [A, A] })?.hex).toBe('a1'.repeat(32));
  });
});
