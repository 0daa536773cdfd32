/**
 * The pure parts of opening a database: the PostgreSQL >= 15 rule (spec §3.5) and the TLS options
 * each sslmode gives node-postgres.
 */
import { describe, expect, it } from 'vitest';
import type { ServerDatabaseConfig } from '../../src/config/types.js';
import { assertSupportedVersion, describeError, VERSION_TOO_LOW_MESSAGE } from '../../src/db/open.js';
import { tlsOptions } from '../../src/db/tls.js';

const base: ServerDatabaseConfig = {
  kind: 'server',
  host: 'db',
  port: 5432,
  sslmode: 'require',
  connectTimeoutMs: 0,
  pool: {},
};

describe('assertSupportedVersion', () => {
  it.each(['150000', '150020', '170010', '180000'])('accepts server_version_num %s', (v) => {
    expect(assertSupportedVersion(v)).toBe(Number(v));
  });

  it.each(['140012', '90624', '', undefined, 'abc'])('refuses %j with the spec message', (v) => {
    expect(() => assertSupportedVersion(v)).toThrow(VERSION_TOO_LOW_MESSAGE);
  });

  it('uses the exact message of spec §3.5', () => {
    expect(VERSION_TOO_LOW_MESSAGE).toBe(
      'the database version is lower than the minimal supported version 15.0',
    );
  });
});

describe('tlsOptions', () => {
  it('require verifies nothing without a root certificate', () => {
    const o = tlsOptions(base);
    expect(o.rejectUnauthorized).toBe(false);
    expect(o.ca).toBeUndefined();
  });

  it('verify-ca verifies the chain but not the host name', () => {
    const o = tlsOptions({ ...base, sslmode: 'verify-ca' });
    expect(o.rejectUnauthorized).toBe(true);
    expect(o.checkServerIdentity?.('db', {} as never)).toBeUndefined();
  });

  it('verify-full verifies chain and host name (Node default identity check)', () => {
    const o = tlsOptions({ ...base, sslmode: 'verify-full' });
    expect(o.rejectUnauthorized).toBe(true);
    expect(o.checkServerIdentity).toBeUndefined();
  });
});

describe('describeError', () => {
  it('spells out an AggregateError (IPv4 and IPv6 attempts) whose own message is empty', () => {
    const e = new AggregateError([
      new Error('connect ECONNREFUSED ::1:1'),
      new Error('connect ECONNREFUSED 127.0.0.1:1'),
    ]);
    expect(describeError(e)).toBe('connect ECONNREFUSED ::1:1; connect ECONNREFUSED 127.0.0.1:1');
  });
});
