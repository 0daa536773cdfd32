import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { md5FromBase64, md5FromETag } from '../../drivers/content-md5.js';

const content = Buffer.from('sha256:' + 'ab'.repeat(32));
const hex = createHash('md5').update(content).digest('hex');
const base64 = createHash('md5').update(content).digest('base64');

describe('md5FromETag (S3 ListObjectsV2)', () => {
  it('takes the hex MD5 of a single-part upload, quoted or not, as lowercase', () => {
    expect(md5FromETag(`"${hex}"`)).toBe(hex);
    expect(md5FromETag(hex)).toBe(hex);
    expect(md5FromETag(`"${hex.toUpperCase()}"`)).toBe(hex);
  });

  it('gives nothing for a multipart ETag, an empty or missing one, or any other shape', () => {
    expect(md5FromETag(`"${hex}-2"`)).toBeUndefined();
    expect(md5FromETag('""')).toBeUndefined();
    expect(md5FromETag('')).toBeUndefined();
    expect(md5FromETag(undefined)).toBeUndefined();
    expect(md5FromETag(`"${hex.slice(1)}"`)).toBeUndefined();
    expect(md5FromETag(`"${hex}0"`)).toBeUndefined();
    expect(md5FromETag(`W/"${hex}"`)).toBeUndefined();
    expect(md5FromETag(`"${'g'.repeat(32)}"`)).toBeUndefined();
  });
});

describe('md5FromBase64 (GCS md5Hash)', () => {
  it('decodes the 16 bytes to hex', () => {
    expect(md5FromBase64(base64)).toBe(hex);
  });

  it('gives nothing when absent (composite objects) or not 16 bytes of base64', () => {
    expect(md5FromBase64(undefined)).toBeUndefined();
    expect(md5FromBase64('')).toBeUndefined();
    expect(md5FromBase64(hex)).toBeUndefined();
    expect(md5FromBase64(base64.slice(0, -2))).toBeUndefined();
    expect(md5FromBase64(Buffer.alloc(20).toString('base64'))).toBeUndefined();
    // Bits past the 128th set: not the encoding of 16 bytes.
    expect(md5FromBase64(`${base64.slice(0, 21)}B==`)).toBeUndefined();
  });
});
