/**
 * Issue 12 §1: the GCS test server is written from Google's documentation, and regdb's GCS calls are
 * written by hand; so that the tests do not check one reading of the docs against itself, Google's own
 * client (@google-cloud/storage, a dev dependency only) talks to the same server here. Uploads, listings
 * (names whose binary UTF-8 order differs from a directory walk's, paged and by delimiter), metadata
 * with its MD5, downloads, ranges and deletes must come back as the SDK expects them.
 */
import { createHash } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';

const BUCKET = 'sdk-check';
// A directory walk meets multi/ before multi-docker (it lists "multi" first); binary order puts '-'
// (0x2d) and '.' (0x2e) before '/' (0x2f).
const NAMES = [
  'r/multi/a/link',
  'r/multi-docker/link',
  'r/multi.x/link',
  'r/multi/b',
  'r/v1',
  'r/v1-rc',
  'r/v1.0',
  'r/é',
];

let server: GcsTestServer;
let storage: Storage;

const bytewise = (names: readonly string[]): string[] =>
  [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

beforeAll(async () => {
  server = await startGcsServer();
  storage = new Storage({
    apiEndpoint: server.endpoint,
    projectId: 'regdb-test',
    retryOptions: { autoRetry: false },
  });
  // The bucket exists once the server holds an object in it.
  server.put(BUCKET, 'seed', Buffer.from('seed'));
  for (const name of NAMES)
    await storage
      .bucket(BUCKET)
      .file(name)
      .save(Buffer.from(`content of ${name}`), { resumable: false });
});

afterAll(async () => {
  await server?.close();
});

describe("Google's client against the test server", () => {
  it('lists in binary UTF-8 order, across pages', async () => {
    const names: string[] = [];
    let pages = 0;
    let query: Record<string, unknown> | null = { prefix: 'r/', maxResults: 3, autoPaginate: false };
    while (query) {
      const [files, next] = (await storage.bucket(BUCKET).getFiles(query)) as unknown as [
        Array<{ name: string }>,
        Record<string, unknown> | null,
      ];
      names.push(...files.map((f) => f.name));
      pages++;
      query = next ?? null;
    }
    expect(names).toEqual(bytewise(NAMES));
    expect(pages).toBe(3);
    // Not the order a directory walk would give.
    expect(names.indexOf('r/multi-docker/link')).toBeLessThan(names.indexOf('r/multi/a/link'));
  });

  it('groups by delimiter into sorted prefixes', async () => {
    const [files, , response] = await storage
      .bucket(BUCKET)
      .getFiles({ prefix: 'r/', delimiter: '/', autoPaginate: false });
    expect(files.map((f) => f.name)).toEqual(bytewise(['r/v1', 'r/v1-rc', 'r/v1.0', 'r/é']));
    expect((response as { prefixes?: string[] }).prefixes).toEqual([
      'r/multi-docker/',
      'r/multi.x/',
      'r/multi/',
    ]);
  });

  it('returns metadata with size and the MD5 of the content', async () => {
    const [meta] = await storage.bucket(BUCKET).file('r/v1-rc').getMetadata();
    const content = Buffer.from('content of r/v1-rc');
    expect(Number(meta.size)).toBe(content.length);
    expect(meta.md5Hash).toBe(createHash('md5').update(content).digest('base64'));
  });

  it('downloads whole objects and ranges', async () => {
    const [whole] = await storage.bucket(BUCKET).file('r/é').download();
    expect(whole.toString('utf8')).toBe('content of r/é');
    const [part] = await storage.bucket(BUCKET).file('r/v1.0').download({ start: 11, end: 14 });
    expect(part.toString('utf8')).toBe('r/v1');
  });

  it('deletes, after which the object is not found (404)', async () => {
    await storage.bucket(BUCKET).file('r/multi/b').delete();
    const [exists] = await storage.bucket(BUCKET).file('r/multi/b').exists();
    expect(exists).toBe(false);
    await expect(storage.bucket(BUCKET).file('r/multi/b').download()).rejects.toMatchObject({ code: 404 });
  });
});
