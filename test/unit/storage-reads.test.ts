import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDriver } from '../../drivers/factory.js';
import { ownBytes, StorageReads } from '../../src/importer/storage-reads.js';
import { blobDataPath } from '../../src/registry/paths.js';
import type { Digest } from '../../src/registry/digest.js';

const root = mkdtempSync(join(tmpdir(), 'regdb-reads-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ownBytes', () => {
  it('copies a slice of a shared block into a buffer of its own', () => {
    const pooled = Buffer.from('{"schemaVersion":2}'); // small: a slice of Node's buffer pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const own = ownBytes(pooled);
    expect(own.buffer.byteLength).toBe(own.length);
    expect(own.equals(pooled)).toBe(true);
    expect(own.buffer).not.toBe(pooled.buffer);
  });

  it('keeps a buffer that already owns its block', () => {
    const alone = Buffer.allocUnsafeSlow(10).fill(1);
    expect(ownBytes(alone)).toBe(alone);
  });
});

describe('StorageReads.blob', () => {
  it('hands out payloads that pin no more memory than their bytes', async () => {
    const driver = await createDriver({
      driver: 'filesystem',
      key: 'filesystem',
      parameters: { rootdirectory: root },
    });
    try {
      const payloads = ['{"a":1}', '{"b":2}', 'x'.repeat(5000)].map((s) => Buffer.from(s));
      const digests: Digest[] = payloads.map((p) => ({
        algorithm: 'sha256',
        hex: createHash('sha256').update(p).digest('hex'),
      }));
      digests.forEach((d, i) => {
        const file = join(root, blobDataPath(d));
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, payloads[i]!);
      });
      const reads = new StorageReads(driver);
      const got = await Promise.all(digests.map((d) => reads.blob(d)));
      got.forEach((r, i) => {
        expect(r.kind).toBe('payload');
        if (r.kind !== 'payload') return;
        expect(r.payload.equals(payloads[i]!)).toBe(true);
        expect(r.payload.buffer.byteLength).toBe(r.payload.length);
      });
    } finally {
      await driver.close();
    }
  });
});
