/** `--shard auto` from a Kubernetes Indexed Job's environment, `--run-id`, and the derived run identity (issue 13). */
import { describe, expect, it } from 'vitest';
import { checkRunId, resolveShard, runIdentity } from '../../src/cli/shard-flags.js';
import type { Config } from '../../src/config/types.js';
import { UsageError } from '../../src/errors.js';
import { deriveRunId } from '../../src/importer/shard-run.js';

describe('--shard', () => {
  it('I/N as given', () => {
    expect(resolveShard('2/5', {})).toEqual({ index: 2, count: 5 });
  });
  it('auto: JOB_COMPLETION_INDEX of REGDB_SHARD_COUNT', () => {
    expect(resolveShard('auto', { JOB_COMPLETION_INDEX: '3', REGDB_SHARD_COUNT: '4' })).toEqual({
      index: 3,
      count: 4,
    });
  });
  it('auto without the environment, or with an index past the count, is a usage error naming the variable', () => {
    expect(() => resolveShard('auto', { REGDB_SHARD_COUNT: '4' })).toThrow(/JOB_COMPLETION_INDEX is not set/);
    expect(() => resolveShard('auto', { JOB_COMPLETION_INDEX: '0' })).toThrow(/REGDB_SHARD_COUNT is not set/);
    expect(() => resolveShard('auto', { JOB_COMPLETION_INDEX: '4', REGDB_SHARD_COUNT: '4' })).toThrow(
      UsageError,
    );
    expect(() => resolveShard('auto', { JOB_COMPLETION_INDEX: 'x', REGDB_SHARD_COUNT: '4' })).toThrow(
      /JOB_COMPLETION_INDEX="x"/,
    );
  });
});

describe('run identity', () => {
  const config = (bucket: string, password: string): Config => ({
    path: '/etc/registry/config.yml',
    dir: '/etc/registry',
    database: {
      kind: 'server',
      host: 'db',
      port: 5432,
      dbname: 'registry',
      password,
      sslmode: 'disable',
      connectTimeoutMs: 0,
      pool: {},
    },
    storage: { driver: 's3', key: 's3', parameters: { bucket, secretkey: 'SECRET-KEY', region: 'eu' } },
    log: {},
  });

  it('is the same for every shard of one registry, database and N, and differs otherwise', () => {
    const a = deriveRunId(runIdentity(config('b1', 'p1')), 4, [1, 2, 3]);
    expect(a).toMatch(/^run-[0-9a-f]{12}$/);
    // A rotated password does not make another run; another bucket, N or step selection does.
    expect(deriveRunId(runIdentity(config('b1', 'p2')), 4, [1, 2, 3])).toBe(a);
    expect(deriveRunId(runIdentity(config('b2', 'p1')), 4, [1, 2, 3])).not.toBe(a);
    expect(deriveRunId(runIdentity(config('b1', 'p1')), 3, [1, 2, 3])).not.toBe(a);
    expect(deriveRunId(runIdentity(config('b1', 'p1')), 4, [2])).not.toBe(a);
  });

  it('holds no secrets', () => {
    const id = runIdentity(config('b1', 'hunter2'));
    expect(id).not.toContain('hunter2');
    expect(id).not.toContain('SECRET-KEY');
  });

  it('--run-id must be a short printable name', () => {
    expect(checkRunId('import-2026-12')).toBe('import-2026-12');
    expect(() => checkRunId('two words')).toThrow(/invalid --run-id "two words"/);
    expect(() => checkRunId('')).toThrow(UsageError);
  });
});
