/**
 * The GCS driver with a service-account key: tokens come from the key's `token_uri` (the GCS test
 * server's token endpoint, which checks the RS256 assertion against the account's public key), every
 * storage request carries one (the server answers 401 to anything else), a token is fetched once and
 * reused until shortly before it expires, and failures to get one are reported, not retried when the
 * token endpoint refuses the key.
 */
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../../drivers/driver.js';
import { PathNotFoundError, StorageDriverError } from '../../drivers/errors.js';
import { createDriver } from '../../drivers/factory.js';
import { startGcsServer, type GcsTestServer } from '../helpers/gcs-server.js';

const BUCKET = 'auth';
const EMAIL = 'regdb-test@regdb-test.iam.gserviceaccount.com';
const FILES = Array.from({ length: 40 }, (_, i) => `/docker/registry/v2/repositories/r${i}/link`);

function keyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
}

const account = keyPair();
const stranger = keyPair();
let dir: string;
let server: GcsTestServer;
let shortLived: GcsTestServer;

function serviceAccount(s: GcsTestServer, privateKey = account.privateKey): Record<string, string> {
  return {
    type: 'service_account',
    project_id: 'regdb-test',
    private_key_id: 'k1',
    private_key: privateKey,
    client_email: EMAIL,
    client_id: '1',
    token_uri: s.tokenUri,
  };
}

function open(s: GcsTestServer, auth: Record<string, unknown>): Promise<StorageDriver> {
  return createDriver(
    {
      driver: 'gcs',
      key: 'gcs',
      parameters: { bucket: BUCKET, endpoint: s.endpoint, rootdirectory: 'root', maxretries: 2, ...auth },
    },
    { retry: { baseDelayMs: 1, maxDelayMs: 5 } },
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'regdb-gcs-auth-'));
  const publicKey = createPublicKey(account.publicKey);
  [server, shortLived] = await Promise.all([
    startGcsServer({ auth: { clientEmail: EMAIL, publicKey } }),
    startGcsServer({ auth: { clientEmail: EMAIL, publicKey, tokenLifetimeS: 2 } }),
  ]);
  for (const s of [server, shortLived])
    for (const f of FILES) s.put(BUCKET, `root${f}`, Buffer.from(`content of ${f}`));
});

afterAll(async () => {
  await Promise.all([server?.close(), shortLived?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('GCS with a service-account key', () => {
  it('keyfile: one token from token_uri serves every request of a concurrent import-like run', async () => {
    const keyfile = join(dir, 'key.json');
    writeFileSync(keyfile, JSON.stringify(serviceAccount(server)));
    const before = { tokens: server.tokens.length, requests: server.requests.length };
    const d = await open(server, { keyfile });
    // 40 reads at once, before any token exists: they share one token request.
    const got = await d.getContents(FILES, { maxBytes: 1000 });
    expect(got.map((r) => r.content?.toString())).toEqual(FILES.map((f) => `content of ${f}`));
    const walked: string[] = [];
    for await (const f of d.walk('/docker')) walked.push(f.path);
    expect(walked).toEqual([...FILES].sort());
    await d.putContent('/docker/registry/lockfiles/database-in-use', Buffer.from('x'));
    expect((await d.stat('/docker/registry/lockfiles/database-in-use')).size).toBe(1);
    await d.delete('/docker/registry/lockfiles/database-in-use');
    await expect(d.stat('/docker/registry/lockfiles/database-in-use')).rejects.toBeInstanceOf(
      PathNotFoundError,
    );
    await d.close();
    const tokens = server.tokens.slice(before.tokens);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({
      aud: server.tokenUri,
      scope: 'https://www.googleapis.com/auth/devstorage.read_write',
    });
    // Every storage request reached the server authorized (an unauthorized one is answered 401 and
    // would have failed the call above): 40 gets, the walk, put, stat, delete, stat and its probe.
    expect(server.requests.length - before.requests).toBeGreaterThanOrEqual(40 + 1 + 5);
  });

  it('credentials map: the same, inline', async () => {
    const before = server.tokens.length;
    const d = await open(server, { credentials: serviceAccount(server) });
    expect((await d.getContent(FILES[0]!, { maxBytes: 1000 })).toString()).toBe(`content of ${FILES[0]}`);
    expect((await d.getContent(FILES[1]!, { maxBytes: 1000 })).toString()).toBe(`content of ${FILES[1]}`);
    await d.close();
    expect(server.tokens.length - before).toBe(1);
  });

  it('asks for a new token before the old one expires, and reuses it until then', async () => {
    // Tokens live 2 s here: the driver replaces one half-way through its life.
    const d = await open(shortLived, { credentials: serviceAccount(shortLived) });
    const read = async (i: number): Promise<void> => {
      expect((await d.getContent(FILES[i]!, { maxBytes: 1000 })).toString()).toBe(`content of ${FILES[i]}`);
    };
    await read(0);
    await read(1);
    expect(shortLived.tokens).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1_200));
    await read(2);
    await read(3);
    expect(shortLived.tokens).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1_200));
    await read(4);
    expect(shortLived.tokens).toHaveLength(3);
    await d.close();
  });

  it('a key the token endpoint refuses: one attempt, an error naming the refusal, no key text', async () => {
    const before = { tokens: server.tokens.length, requests: server.requests.length };
    const d = await open(server, { credentials: serviceAccount(server, stranger.privateKey) });
    const err = await d.getContent(FILES[0]!, { maxBytes: 1000 }).catch((e: unknown) => e);
    await d.close();
    expect(err).toBeInstanceOf(StorageDriverError);
    expect((err as StorageDriverError).attempts).toBe(1);
    expect((err as Error).message).toMatch(/access token.*invalid_grant: Invalid JWT Signature/);
    const body = stranger.privateKey.split('\n')[1]!;
    expect((err as Error).message).not.toContain(body);
    expect(server.tokens.length).toBe(before.tokens);
    expect(server.requests.length).toBe(before.requests);
  });

  it('without credentials a custom endpoint gets no token: the server answers 401, not retried', async () => {
    const d = await open(server, {});
    const before = server.requests.length;
    const err = await d.getContent(FILES[0]!, { maxBytes: 1000 }).catch((e: unknown) => e);
    await d.close();
    expect(err).toBeInstanceOf(StorageDriverError);
    expect((err as StorageDriverError).attempts).toBe(1);
    expect((err as Error).message).toContain('Invalid Credentials');
    expect(server.requests.length - before).toBe(1);
  });
});
