/**
 * Secret canaries: distinct values that test configs carry as the database password, the S3 secret
 * key and session token and the GCS private key. Every process test's stdout, stderr, import log
 * files and --report file are scanned for them (test/helpers/cli.ts): none may appear. The S3
 * secret is whatever the S3 test server helper exports, when it differs from its access key (an
 * access key is not secret and is printed in signed requests).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { S3_SECRET_KEY } from './s3-server.js';

export const DB_PASSWORD_CANARY = 'canary-db-pw-7f3a91c2e5';
export const S3_SECRET_CANARY = 'canary-s3-secret-2b8d64e0f1';
export const S3_SESSION_TOKEN_CANARY = 'canary-s3-session-9c1e7a35b4';
/** The body of the canary service-account key (no PEM framing: that alone is not secret). */
export const GCS_PRIVATE_KEY_CANARY = 'Y2FuYXJ5LWdjcy1wcml2YXRlLWtleS01ZTRhOGQ';
export const GCS_PRIVATE_KEY_PEM = `-----BEGIN PRIVATE KEY-----\n${GCS_PRIVATE_KEY_CANARY}\n-----END PRIVATE KEY-----\n`;

const extra = new Set<string>();

/** Adds a secret of this run (e.g. the embedded server's password) to the scan. */
export function addCanary(value: string): void {
  if (value.length >= 8) extra.add(value);
}

export function canaries(): Map<string, string> {
  const all = new Map<string, string>([
    ['database password', DB_PASSWORD_CANARY],
    ['S3 secret key', S3_SECRET_CANARY],
    ['S3 session token', S3_SESSION_TOKEN_CANARY],
    ['GCS private key', GCS_PRIVATE_KEY_CANARY],
  ]);
  all.set('S3 test server secret key', S3_SECRET_KEY);
  let i = 0;
  for (const v of extra) all.set(`secret ${++i} of this run`, v);
  return all;
}

/** The canaries found in `text`, as "<which> in <where>". */
export function findCanaries(text: string, where: string): string[] {
  const found: string[] = [];
  for (const [what, value] of canaries()) {
    if (text.includes(value)) found.push(`${what} in ${where}`);
  }
  return found;
}

/** Every file under `path` (a file or a folder), for scanning. */
export function filesUnder(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    return [];
  }
  if (st.isFile()) return [path];
  if (!st.isDirectory()) return [];
  return readdirSync(path).flatMap((n) => filesUnder(join(path, n)));
}

export function scanFiles(paths: readonly string[]): string[] {
  const found: string[] = [];
  for (const p of paths) {
    for (const f of filesUnder(p)) found.push(...findCanaries(readFileSync(f, 'utf8'), f));
  }
  return found;
}
