import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertNoCanaries } from '../helpers/cli.js';
import {
  canaries,
  DB_PASSWORD_CANARY,
  findCanaries,
  GCS_PRIVATE_KEY_PEM,
  S3_SECRET_CANARY,
  S3_SESSION_TOKEN_CANARY,
  scanFiles,
} from '../helpers/canaries.js';

const dir = mkdtempSync(join(tmpdir(), 'regdb-canary-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('secret canaries', () => {
  it('are distinct from each other', () => {
    const values = [...canaries().values()];
    expect(new Set(values).size).toBe(values.length);
    expect(values.length).toBeGreaterThanOrEqual(4);
  });

  it('are found in text and in files under a folder', () => {
    expect(findCanaries(`x-amz-security-token: ${S3_SESSION_TOKEN_CANARY}`, 'stderr')).toEqual([
      'S3 session token in stderr',
    ]);
    mkdirSync(join(dir, 'logs'));
    writeFileSync(join(dir, 'logs', 'a.log'), `{"key":${JSON.stringify(GCS_PRIVATE_KEY_PEM)}}`);
    expect(scanFiles([join(dir, 'logs'), join(dir, 'missing')])).toEqual([
      `GCS private key in ${join(dir, 'logs', 'a.log')}`,
    ]);
  });

  it('fail a CLI run whose output, report or log folder holds one', () => {
    const clean = { code: 0, signal: null, stdout: '', stderr: '' };
    expect(() => assertNoCanaries(clean, ['database', 'import'])).not.toThrow();
    expect(() => assertNoCanaries({ ...clean, stdout: DB_PASSWORD_CANARY }, ['x'])).toThrow(
      /database password in stdout/,
    );
    const report = join(dir, 'report.json');
    writeFileSync(report, `{"secret":"${S3_SECRET_CANARY}"}`);
    expect(() => assertNoCanaries(clean, ['database', 'import', '--report', report])).toThrow(
      /S3 secret key in .*report\.json/,
    );
  });
});
