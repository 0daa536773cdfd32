import { describe, expect, it } from 'vitest';
import {
  byteaToDigest,
  digestToBytea,
  formatDigest,
  parseDigest,
  parseLink,
  type Digest,
} from '../../../src/registry/digest.js';

// sha256 and sha512 of the empty string, sha384 of "abc" (FIPS 180-2 test vector).
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EMPTY_SHA512 =
  'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';
const ABC_SHA384 =
  'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7';
// The app manifest of fixtures/registries/real.
const APP = '37820c2141bf87ef7da900cafc5fe54b1c4f79c6985942e879f7c1566bad3234';

describe('parseDigest (go-digest v1.0.0 semantics, spec §1.2)', () => {
  it('accepts sha256 and sha512 with lowercase hex of exact length', () => {
    expect(parseDigest(`sha256:${APP}`)).toEqual({ ok: true, digest: { algorithm: 'sha256', hex: APP } });
    expect(parseDigest(`sha512:${EMPTY_SHA512}`)).toEqual({
      ok: true,
      digest: { algorithm: 'sha512', hex: EMPTY_SHA512 },
    });
  });

  it.each([
    ['empty content', '', 'empty', 'ErrDigestInvalidFormat'],
    ['no colon', `sha256${APP}`, 'invalid-format', 'ErrDigestInvalidFormat'],
    ['colon first', `:${APP}`, 'invalid-format', 'ErrDigestInvalidFormat'],
    ['nothing after the colon', 'sha256:', 'invalid-format', 'ErrDigestInvalidFormat'],
    ['uppercase hex', `sha256:${APP.toUpperCase()}`, 'invalid-format', 'ErrDigestInvalidFormat'],
    ['non-hex of the right length', `sha256:${'g'.repeat(64)}`, 'invalid-format', 'ErrDigestInvalidFormat'],
    [
      'unknown algorithm matching the grammar',
      'md5:d41d8cd98f00b204e9800998ecf8427e',
      'unsupported-algorithm',
      'ErrDigestUnsupported',
    ],
    ['unknown compound algorithm', 'tarsum.v1+sha256:abc=', 'unsupported-algorithm', 'ErrDigestUnsupported'],
    [
      'unknown algorithm in uppercase (grammar fails)',
      'MD5:d41d8cd98f00b204e9800998ecf8427e',
      'invalid-format',
      'ErrDigestInvalidFormat',
    ],
    ['sha256 with 63 hex', `sha256:${APP.slice(0, 63)}`, 'invalid-length', 'ErrDigestInvalidLength'],
    ['sha256 with 65 hex', `sha256:${APP}0`, 'invalid-length', 'ErrDigestInvalidLength'],
    ['sha512 with sha256 length', `sha512:${APP}`, 'invalid-length', 'ErrDigestInvalidLength'],
    [
      'length checked before characters',
      `sha256:${'Z'.repeat(12)}`,
      'invalid-length',
      'ErrDigestInvalidLength',
    ],
    ['trailing newline (not trimmed)', `sha256:${APP}\n`, 'invalid-length', 'ErrDigestInvalidLength'],
    ['trailing space (not trimmed)', `sha256:${APP} `, 'invalid-length', 'ErrDigestInvalidLength'],
  ])('rejects %s', (_what, value, reason, goError) => {
    const result = parseDigest(value);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe(reason);
    expect(result.goError).toBe(goError);
    expect(result.message).toContain(JSON.stringify(value).slice(0, 40));
  });

  it('reports a valid sha384 digest as unstorable, with no go-digest error', () => {
    expect(parseDigest(`sha384:${ABC_SHA384}`)).toEqual({
      ok: false,
      reason: 'sha384-unstorable',
      goError: null,
      message: `sha384 digests cannot be stored in the database: "sha384:${ABC_SHA384.slice(0, 143)}"`,
    });
  });

  it('rejects a sha384 digest of the wrong length as a length error', () => {
    const result = parseDigest(`sha384:${EMPTY_SHA256}`);
    expect(result).toMatchObject({ ok: false, reason: 'invalid-length', goError: 'ErrDigestInvalidLength' });
  });

  it('names the go-digest error in the message', () => {
    expect(parseDigest('sha256:abc')).toMatchObject({
      message: 'invalid checksum digest length: "sha256:abc"',
    });
    expect(parseDigest('md5:abc')).toMatchObject({ message: 'unsupported digest algorithm: "md5:abc"' });
    expect(parseDigest('nope')).toMatchObject({ message: 'invalid checksum digest format: "nope"' });
  });
});

describe('parseLink (link file content)', () => {
  it('reads an exact link without a warning', () => {
    const result = parseLink(Buffer.from(`sha256:${APP}`));
    expect(result).toEqual({ ok: true, digest: { algorithm: 'sha256', hex: APP } });
  });

  it.each([
    ['a trailing newline', '\n'],
    ['a trailing space', ' '],
    ['a trailing CRLF', '\r\n'],
    ['trailing tabs and newlines', '\t\n\n'],
  ])("reads a link with %s, with a warning naming GitLab's error", (_what, tail) => {
    const result = parseLink(Buffer.from(`sha256:${APP}${tail}`));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.digest).toEqual({ algorithm: 'sha256', hex: APP });
    expect(result.warning).toBe(
      `link has trailing whitespace ${JSON.stringify(tail)} after the digest (GitLab: invalid checksum digest length: ${JSON.stringify(`sha256:${APP}${tail}`)})`,
    );
  });

  it('does not tolerate leading whitespace', () => {
    expect(parseLink(` sha256:${APP}`)).toMatchObject({ ok: false, reason: 'invalid-format' });
  });

  it('reports empty and whitespace-only links as empty', () => {
    expect(parseLink(Buffer.alloc(0))).toEqual({
      ok: false,
      reason: 'empty',
      goError: 'ErrDigestInvalidFormat',
      message: 'the link is empty',
    });
    expect(parseLink('\n')).toEqual({
      ok: false,
      reason: 'empty',
      goError: 'ErrDigestInvalidFormat',
      message: 'the link holds only whitespace "\\n"',
    });
  });

  it('keeps the untrimmed fault when trimming does not help', () => {
    // 63 hex + "\n" has the right length, so go-digest reports the newline as a format error.
    expect(parseLink(`sha256:${APP.slice(0, 63)}\n`)).toMatchObject({ ok: false, reason: 'invalid-format' });
    expect(parseLink(`sha256:${APP.slice(0, 62)}\n`)).toMatchObject({ ok: false, reason: 'invalid-length' });
    expect(parseLink('md5:d41d8cd98f00b204e9800998ecf8427e\n')).toMatchObject({
      ok: false,
      reason: 'invalid-format',
      goError: 'ErrDigestInvalidFormat',
    });
  });

  it("reports sha384 behind a newline as unstorable while keeping GitLab's length error", () => {
    expect(parseLink(`sha384:${ABC_SHA384}\n`)).toMatchObject({
      ok: false,
      reason: 'sha384-unstorable',
      goError: 'ErrDigestInvalidLength',
    });
  });

  it('counts bytes, not characters, in non-ASCII content', () => {
    // 63 hex + "é" (2 bytes in UTF-8) is 65 bytes: a length error, as in Go.
    expect(parseLink(Buffer.from(`sha256:${APP.slice(0, 63)}é`, 'utf8'))).toMatchObject({
      ok: false,
      reason: 'invalid-length',
    });
    expect(parseLink(Buffer.from([0x73, 0x68, 0x61, 0xff]))).toMatchObject({
      ok: false,
      reason: 'invalid-format',
    });
  });
});

describe('database encoding', () => {
  const sha256: Digest = { algorithm: 'sha256', hex: EMPTY_SHA256 };
  const sha512: Digest = { algorithm: 'sha512', hex: EMPTY_SHA512 };

  it('prefixes sha256 with 0x01 and sha512 with 0x02', () => {
    expect(digestToBytea(sha256).toString('hex')).toBe(`01${EMPTY_SHA256}`);
    expect(digestToBytea(sha256)).toHaveLength(33);
    expect(digestToBytea(sha512).toString('hex')).toBe(`02${EMPTY_SHA512}`);
    expect(digestToBytea(sha512)).toHaveLength(65);
  });

  it('round-trips', () => {
    expect(byteaToDigest(digestToBytea(sha256))).toEqual(sha256);
    expect(byteaToDigest(digestToBytea(sha512))).toEqual(sha512);
    expect(formatDigest(byteaToDigest(Buffer.from(`01${APP}`, 'hex')))).toBe(`sha256:${APP}`);
  });

  it('refuses unknown prefixes, empty values and wrong lengths', () => {
    expect(() => byteaToDigest(Buffer.from(`03${EMPTY_SHA256}`, 'hex'))).toThrow(
      'Cannot decode a database digest with prefix byte 0x03: only 0x01 (sha256) and 0x02 (sha512) exist.',
    );
    expect(() => byteaToDigest(Buffer.alloc(0))).toThrow(
      'Cannot decode a database digest with an empty value',
    );
    expect(() => byteaToDigest(Buffer.from(`02${EMPTY_SHA256}`, 'hex'))).toThrow(
      'Cannot decode a database sha512 digest of 32 hash bytes.',
    );
  });

  it('refuses to encode a digest whose hex is not valid', () => {
    expect(() => digestToBytea({ algorithm: 'sha256', hex: 'abc' })).toThrow(
      'Cannot encode digest "sha256:abc"',
    );
    expect(() => digestToBytea({ algorithm: 'sha256', hex: EMPTY_SHA256.toUpperCase() })).toThrow(
      'the hex part is not valid',
    );
  });
});
