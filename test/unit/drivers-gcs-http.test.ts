/**
 * The pure parts of the hand-written GCS calls (drivers/gcs-http.ts): base URLs as the SDK forms
 * them from apiEndpoint, object paths and list queries as the JSON API reference writes them
 * (https://cloud.google.com/storage/docs/json_api/v1/objects/list, .../objects/get: the object name
 * is one URL-encoded path segment, '/' as %2F), reply and error parsing on bodies shaped as Google
 * returns them, and which failures are "not found" or transient. The requests themselves run against
 * the GCS test server in the driver, import and auth tests.
 */
import { describe, expect, it } from 'vitest';
import {
  GcsAuthError,
  gcsBaseUrl,
  GcsResponseError,
  isGcsNotFound,
  isTransientGcsError,
  listPath,
  objectPath,
  parseGcsError,
  parseListPage,
} from '../../drivers/gcs-http.js';

describe('gcsBaseUrl', () => {
  it.each([
    [undefined, 'https://storage.googleapis.com'],
    ['http://127.0.0.1:4443', 'http://127.0.0.1:4443'],
    ['http://127.0.0.1:4443/', 'http://127.0.0.1:4443'],
    ['gcs.internal:8443', 'https://gcs.internal:8443'],
    ['https://proxy.internal/gcs//', 'https://proxy.internal/gcs'],
  ])('%s -> %s', (endpoint, want) => {
    expect(gcsBaseUrl(endpoint)).toBe(want);
  });
});

describe('objectPath', () => {
  it.each([
    ['b', 'folder/file.txt', '/storage/v1/b/b/o/folder%2Ffile.txt'],
    ['b', 'a b#c?d', '/storage/v1/b/b/o/a%20b%23c%3Fd'],
    ['b', 'r/tags/v1.0+x/link', '/storage/v1/b/b/o/r%2Ftags%2Fv1.0%2Bx%2Flink'],
    ['my.bucket', 'é', '/storage/v1/b/my.bucket/o/%C3%A9'],
  ])('%s %s', (bucket, key, want) => {
    expect(objectPath(bucket, key)).toBe(want);
  });
});

describe('listPath', () => {
  const fields = 'fields=items(name%2Csize%2Cupdated%2Cmd5Hash)%2Cprefixes%2CnextPageToken';

  it('a first page: prefix, startOffset, endOffset, the page size and the trimmed fields', () => {
    expect(
      listPath('b', { prefix: 'root/v2/', delimiter: false, startAfter: 'root/v2/a b', end: 'root/v2/c' }),
    ).toBe(
      `/storage/v1/b/b/o?prefix=root%2Fv2%2F&startOffset=root%2Fv2%2Fa%20b&endOffset=root%2Fv2%2Fc&maxResults=1000&${fields}`,
    );
  });

  it('a next page: the token, not startOffset; a delimiter; a limit', () => {
    expect(listPath('b', { prefix: '', delimiter: true, startAfter: 'x', token: 'Cg==/+', limit: 1 })).toBe(
      `/storage/v1/b/b/o?prefix=&delimiter=%2F&pageToken=Cg%3D%3D%2F%2B&maxResults=1&${fields}`,
    );
  });

  it('reads back as the parameters it was given', () => {
    const q = new URL(
      listPath('b', { prefix: 'p/&q=1/', delimiter: true, startAfter: 'p/&q=1/é' }),
      'http://x',
    ).searchParams;
    expect(Object.fromEntries(q)).toEqual({
      prefix: 'p/&q=1/',
      delimiter: '/',
      startOffset: 'p/&q=1/é',
      maxResults: '1000',
      fields: 'items(name,size,updated,md5Hash),prefixes,nextPageToken',
    });
  });
});

describe('parseListPage', () => {
  // As objects.list answers with fields=items(name,size,updated,md5Hash),prefixes,nextPageToken:
  // sizes are int64 strings, md5Hash base64 (absent for composite objects).
  const body = JSON.stringify({
    items: [
      {
        name: 'r/a',
        size: '1',
        updated: '2026-01-02T03:04:05.678Z',
        md5Hash: 'DMF1ucDxtqgxw5niaXcmYQ==',
      },
      { name: 'r/big', size: '10737418240', updated: '2026-01-02T03:04:06.000Z' },
    ],
    prefixes: ['r/d/'],
    nextPageToken: 'CgNyL2I=',
  });

  it('reads names, sizes, times, MD5s, prefixes and the page token', () => {
    const page = parseListPage(body);
    expect(page.objects.map((o) => [o.key, o.size, o.modTime?.toISOString(), o.md5])).toEqual([
      ['r/a', 1, '2026-01-02T03:04:05.678Z', '0cc175b9c0f1b6a831c399e269772661'], // md5("a")
      ['r/big', 10737418240, '2026-01-02T03:04:06.000Z', undefined],
    ]);
    expect(page.prefixes).toEqual(['r/d/']);
    expect(page.nextToken).toBe('CgNyL2I=');
  });

  it('an empty, final page has neither items nor prefixes', () => {
    expect(parseListPage('{"kind":"storage#objects"}')).toEqual({
      objects: [],
      prefixes: [],
      nextToken: undefined,
    });
  });
});

describe('parseGcsError', () => {
  it("Google's JSON error body: message and reason", () => {
    const e = parseGcsError(
      429,
      JSON.stringify({
        error: {
          code: 429,
          message: 'The rate of change requests to the object is too high.',
          errors: [{ message: 'x', domain: 'usageLimits', reason: 'rateLimitExceeded' }],
        },
      }),
    );
    expect(e).toBeInstanceOf(GcsResponseError);
    expect(e).toMatchObject({
      code: 429,
      reason: 'rateLimitExceeded',
      message: 'The rate of change requests to the object is too high.',
    });
  });

  it('a text body (media downloads) is the message; an empty one names the status', () => {
    expect(parseGcsError(404, 'No such object: b/r/a\n')).toMatchObject({
      code: 404,
      message: 'No such object: b/r/a',
      reason: undefined,
    });
    expect(parseGcsError(502, '').message).toBe('HTTP 502');
  });
});

describe('GCS error rules', () => {
  it.each([
    [new GcsResponseError(404, 'No such object'), true, false],
    [new GcsResponseError(403, 'Forbidden'), false, false],
    [new GcsResponseError(401, 'Invalid Credentials'), false, false],
    [new GcsResponseError(429, 'rate'), false, true],
    [new GcsResponseError(408, 'timeout'), false, true],
    [new GcsResponseError(503, 'unavailable'), false, true],
    // gaxios (the token endpoint) carries the status in response.status
    [{ response: { status: 500 } }, false, true],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), false, true],
    [new GcsAuthError('cannot get a GCS access token: HTTP 503', true), false, true],
    [new GcsAuthError('cannot get a GCS access token: HTTP 404', false), false, false],
  ])('%s: not found %s, transient %s', (err, notFound, transient) => {
    expect(isGcsNotFound(err)).toBe(notFound);
    expect(isTransientGcsError(err)).toBe(transient);
  });
});
