/**
 * sslmode against a PostgreSQL that has TLS on and refuses plain connections (pg_hba: hostnossl
 * reject, except for the maintenance database): an embedded server of this test's own, with a CA and a server certificate for
 * IP 127.0.0.1 made by openssl. Shows the libpq semantics regdb implements on top of node-postgres:
 * allow falls back to TLS, prefer and require use it, verify-ca checks the chain, verify-full also
 * the host name, disable fails with the server's refusal.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedDatabaseConfig, ServerDatabaseConfig, SslMode } from '../../src/config/types.js';
import { startEmbedded, type EmbeddedServer } from '../../src/db/embedded.js';
import { openDatabase } from '../../src/db/open.js';

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function makeCertificates(dir: string): void {
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.crt`,
      '-subj',
      `/CN=regdb test ${ca}`,
    ]);
  }
  openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    'server.crt',
    '-extfile',
    'san.ext',
  ]);
}

describe('sslmode against a TLS-only server', () => {
  let dir: string;
  let embedded: EmbeddedDatabaseConfig;
  let server: EmbeddedServer;
  let base: ServerDatabaseConfig;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regdb-tls-'));
    await chmod(dir, 0o755);
    makeCertificates(dir);
    embedded = {
      kind: 'embedded',
      dataDir: join(dir, 'pgdata'),
      port: 0,
      user: 'regdb',
      password: 'tls-test-password',
      dbname: 'registry',
      pool: {},
    };
    // First start initialises the cluster; then TLS is switched on and plain TCP refused.
    const first = await startEmbedded(embedded);
    await first.stop();
    const owner = await stat(embedded.dataDir);
    for (const f of ['server.crt', 'server.key']) {
      const target = join(embedded.dataDir, f);
      await writeFile(target, await readFile(join(dir, f)), { mode: 0o600 });
      await chown(target, owner.uid, owner.gid);
    }
    const conf = join(embedded.dataDir, 'postgresql.conf');
    await writeFile(
      conf,
      `${await readFile(conf, 'utf8')}\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n`,
    );
    await writeFile(
      join(embedded.dataDir, 'pg_hba.conf'),
      [
        // startEmbedded checks for the target database over plain TCP on the maintenance database.
        'host postgres all 127.0.0.1/32 scram-sha-256',
        'hostnossl all all 127.0.0.1/32 reject',
        'hostssl all all 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
    );
    server = await startEmbedded(embedded);
    base = {
      kind: 'server',
      host: '127.0.0.1',
      port: server.port,
      user: 'regdb',
      password: 'tls-test-password',
      dbname: 'registry',
      sslmode: 'disable',
      connectTimeoutMs: 5000,
      pool: {},
    };
  });

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function tlsUsed(sslmode: SslMode, extra: Partial<ServerDatabaseConfig> = {}): Promise<boolean> {
    const db = await openDatabase({ ...base, ...extra, sslmode });
    try {
      const { rows } = await db.pool.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      return rows[0]?.ssl === true;
    } finally {
      await db.close();
    }
  }

  it('disable: the server refuses the plain connection (SQLSTATE 28000)', async () => {
    const err = (await openDatabase(base).catch((e: unknown) => e)) as Error & { cause?: { code?: string } };
    expect(err).toBeInstanceOf(Error);
    expect(err.cause?.code).toBe('28000');
    expect(err.message).toMatch(
      /^cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ \(database "registry", user "regdb"\): /,
    );
  });

  it('allow: plain is refused, so regdb retries with TLS', async () => {
    expect(await tlsUsed('allow')).toBe(true);
  });

  it('prefer and require use TLS', async () => {
    expect(await tlsUsed('prefer')).toBe(true);
    expect(await tlsUsed('require')).toBe(true);
  });

  it('verify-ca accepts the right CA and rejects another', async () => {
    expect(await tlsUsed('verify-ca', { sslrootcert: join(dir, 'ca.crt') })).toBe(true);
    await expect(tlsUsed('verify-ca', { sslrootcert: join(dir, 'other-ca.crt') })).rejects.toThrow(
      /cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ .*certificate/,
    );
  });

  it('require with a root certificate verifies the chain, as libpq does', async () => {
    await expect(tlsUsed('require', { sslrootcert: join(dir, 'other-ca.crt') })).rejects.toThrow(
      /certificate/,
    );
  });

  it('verify-full also checks the host name against the certificate', async () => {
    expect(await tlsUsed('verify-full', { sslrootcert: join(dir, 'ca.crt') })).toBe(true);
    // Same server, reached as "localhost": the certificate names only IP 127.0.0.1.
    await expect(
      tlsUsed('verify-full', { host: 'localhost', sslrootcert: join(dir, 'ca.crt') }),
    ).rejects.toThrow(/localhost/);
    // verify-ca does not look at the name.
    expect(await tlsUsed('verify-ca', { host: 'localhost', sslrootcert: join(dir, 'ca.crt') })).toBe(true);
  });

  it('a missing certificate file is a configuration error naming the key and file', async () => {
    const missing = join(dir, 'absent.crt');
    await expect(tlsUsed('verify-ca', { sslrootcert: missing })).rejects.toThrow(
      `database.sslrootcert: cannot read ${missing} (ENOENT)`,
    );
  });
});
