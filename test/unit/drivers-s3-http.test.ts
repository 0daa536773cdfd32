/**
 * The pure parts of the hand-written S3 calls (drivers/s3-http.ts): SigV4's URI encoding, XML
 * entity decoding and the ListObjectsV2 parser, on a response body as radosgw and AWS write it.
 * The requests themselves are checked against Ceph radosgw by the driver and import tests.
 */
import { describe, expect, it } from 'vitest';
import { parseListResult, uriEncode, xmlDecode } from '../../drivers/s3-http.js';

describe('uriEncode', () => {
  it.each([
    ['a/b c', true, 'a/b%20c'],
    ['a/b c', false, 'a%2Fb%20c'],
    ["v1!'()*~._-", false, 'v1%21%27%28%29%2A~._-'],
    ['é', false, '%C3%A9'],
    ['sha256:ab', true, 'sha256%3Aab'],
  ])('%s (keep "/": %s)', (input, keep, want) => {
    expect(uriEncode(input, keep)).toBe(want);
  });

  it('agrees with RFC 3986 byte by byte, for every ASCII character and some beyond', () => {
    // The reference: each UTF-8 byte kept when unreserved (or a kept '/'), else %XX in upper case.
    const reference = (s: string, keepSlash: boolean): string =>
      [...Buffer.from(s, 'utf8')]
        .map((b) => {
          const c = String.fromCharCode(b);
          return /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')
            ? c
            : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
        })
        .join('');
    const ascii = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));
    const samples = [
      ...ascii,
      ascii.join(''),
      'docker/registry/v2/blobs/sha256/ab/abcdef/data',
      'repositories/group/multi.x/_manifests/tags/v1.0-rc~1/current/link',
      'continuation-token_1.x~',
      'é/ü\u{1F600}',
    ];
    for (const s of samples)
      for (const keep of [true, false])
        expect(uriEncode(s, keep), JSON.stringify(s)).toBe(reference(s, keep));
  });
});

describe('xmlDecode', () => {
  it('decodes the five named entities and numeric ones', () => {
    expect(xmlDecode('&quot;a&amp;b&lt;c&gt;d&apos;&#47;&#x2F;')).toBe('"a&b<c>d\'//');
    expect(xmlDecode('plain')).toBe('plain');
  });

  it('decodes a quoted value, and one with other entities inside or an unclosed quote', () => {
    expect(xmlDecode('&quot;0cc175b9c0f1b6a831c399e269772661&quot;')).toBe(
      '"0cc175b9c0f1b6a831c399e269772661"',
    );
    expect(xmlDecode('&quot;&quot;')).toBe('""');
    expect(xmlDecode('&quot;a&amp;b&quot;')).toBe('"a&b"');
    expect(xmlDecode('&quot;a&quot;b&quot;')).toBe('"a"b"');
    expect(xmlDecode('&quot;abc')).toBe('"abc');
    expect(xmlDecode('&quot;abc&amp;')).toBe('"abc&');
  });
});

describe('parseListResult', () => {
  const body = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>r/</Prefix><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken><Contents><Key>r/a&amp;b</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>&quot;0cc175b9c0f1b6a831c399e269772661&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>r/c</Key><LastModified>2026-01-02T03:04:06.000Z</LastModified><ETag>&quot;abc-2&quot;</ETag><Size>10485760</Size></Contents><CommonPrefixes><Prefix>r/d/</Prefix></CommonPrefixes></ListBucketResult>`;

  it('reads keys, sizes, times, ETags, prefixes and the continuation token', () => {
    expect(parseListResult(body)).toEqual({
      Contents: [
        {
          Key: 'r/a&b',
          Size: 1,
          LastModified: new Date('2026-01-02T03:04:05.000Z'),
          ETag: '"0cc175b9c0f1b6a831c399e269772661"',
        },
        { Key: 'r/c', Size: 10485760, LastModified: new Date('2026-01-02T03:04:06.000Z'), ETag: '"abc-2"' },
      ],
      CommonPrefixes: ['r/d/'],
      IsTruncated: true,
      NextContinuationToken: 'tok&1',
    });
  });

  it('an empty, final page', () => {
    expect(
      parseListResult(
        '<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>',
      ),
    ).toEqual({ Contents: [], CommonPrefixes: [], IsTruncated: false });
  });
});
