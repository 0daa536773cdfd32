import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import {
  classifyInterop,
  effectiveApplied,
  gitlabIdsHolder,
  gitlabMigrationIds,
} from '../../src/db/gitlab-baseline.js';
import { parseMigrationFile, type Migration } from '../../src/db/migration-files.js';
import {
  BOTH_LIMITS_MESSAGE,
  formatAppliedAt,
  highestId,
  planDown,
  planUp,
  selectMigrators,
  unknownIds,
  unknownMigrationMessage,
} from '../../src/db/migration-plan.js';

function migration(id: string): Migration {
  return parseMigrationFile(id, 'pre', `/m/${id}.sql`, '-- regdb:up\nSELECT 1;\n-- regdb:down\nSELECT 2;\n');
}

const A = migration('20260101000000_regdb_baseline');
const B = migration('20260201000000_regdb_second');
const C = migration('20260301000000_regdb_third');
const ALL = [A, B, C];
const ids = (ms: Migration[]): string[] => ms.map((m) => m.id);

describe('selectMigrators (spec §4.2 table)', () => {
  it.each([
    [
      {},
      [
        { kind: 'pre', limit: 0 },
        { kind: 'post', limit: 0 },
      ],
    ],
    [{ limit: 2 }, [{ kind: 'pre', limit: 2 }]],
    [{ limit: 0 }, [{ kind: 'pre', limit: 0 }]],
    [{ postDeployLimit: 1 }, [{ kind: 'post', limit: 1 }]],
    [
      { limit: 3, postDeployLimit: 1 },
      [
        { kind: 'pre', limit: 3 },
        { kind: 'post', limit: 1 },
      ],
    ],
    [{ skipPostDeployment: true }, [{ kind: 'pre', limit: 0 }]],
    [{ skipPostDeployment: true, limit: 2 }, [{ kind: 'pre', limit: 2 }]],
    [{ skipPostDeployment: true, postDeployLimit: 2 }, []],
    [{ skipPostDeployment: true, limit: 1, postDeployLimit: 2 }, [{ kind: 'pre', limit: 1 }]],
  ])('%o selects %o', (opts, expected) => {
    expect(selectMigrators(opts)).toEqual(expected);
  });

  it('rejects a limit below 1 when both are given, as a usage error', () => {
    for (const opts of [
      { limit: 0, postDeployLimit: 1 },
      { limit: 1, postDeployLimit: 0 },
      { limit: -1, postDeployLimit: 5 },
    ]) {
      expect(() => selectMigrators(opts)).toThrow(UsageError);
      expect(() => selectMigrators(opts)).toThrow(BOTH_LIMITS_MESSAGE);
    }
  });
});

describe('planUp / planDown', () => {
  it('plans pending migrations in order, catching up gaps, limited', () => {
    expect(ids(planUp(ALL, new Set()))).toEqual(ids(ALL));
    expect(ids(planUp(ALL, new Set([A.id])))).toEqual([B.id, C.id]);
    expect(ids(planUp(ALL, new Set([A.id, C.id])))).toEqual([B.id]);
    expect(ids(planUp(ALL, new Set(), 2))).toEqual([A.id, B.id]);
    expect(ids(planUp(ALL, new Set(ids(ALL))))).toEqual([]);
  });

  it('plans applied migrations newest first, limited', () => {
    expect(ids(planDown(ALL, new Set(ids(ALL))))).toEqual([C.id, B.id, A.id]);
    expect(ids(planDown(ALL, new Set(ids(ALL)), 1))).toEqual([C.id]);
    expect(ids(planDown(ALL, new Set([A.id])))).toEqual([A.id]);
    expect(ids(planDown(ALL, new Set()))).toEqual([]);
  });
});

describe('unknown IDs', () => {
  it('knows regdb IDs and GitLab baseline IDs; anything else is unknown', () => {
    const gitlab = ['20210503145024_create_top_level_namespaces_table'];
    expect(unknownIds(ALL, [A.id, gitlab[0] as string, '20990101000000_some_future'], gitlab)).toEqual([
      '20990101000000_some_future',
    ]);
    expect(unknownMigrationMessage('x')).toBe(
      'Unable to create migration plan because of x: unknown migration in database',
    );
  });
});

describe('GitLab interoperability', () => {
  const gitlab = ['20210101000000_g1', '20210201000000_g2', '20210301000000_g3'];

  it('loads 184 pre and 10 post GitLab IDs, in order', () => {
    const g = gitlabMigrationIds();
    expect(g.pre).toHaveLength(184);
    expect(g.post).toHaveLength(10);
    expect(g.pre[0]).toBe('20210503145024_create_top_level_namespaces_table');
    expect(g.pre.at(-1)).toBe('20251021070732_bbm_backfill_blobs_id_column');
  });

  it('classifies empty, regdb, GitLab-complete and GitLab-partial databases', () => {
    expect(classifyInterop(ALL, new Set(), gitlab)).toEqual({ state: 'none' });
    expect(classifyInterop(ALL, new Set([A.id, ...gitlab]), gitlab)).toEqual({ state: 'regdb' });
    expect(classifyInterop(ALL, new Set(gitlab), gitlab)).toEqual({ state: 'gitlab-complete' });
    expect(classifyInterop(ALL, new Set([gitlab[0] as string, gitlab[1] as string]), gitlab)).toEqual({
      state: 'gitlab-partial',
      lastFound: '20210201000000_g2',
      lastExpected: '20210301000000_g3',
    });
  });

  it('treats the baseline as applied on a GitLab-complete database', () => {
    const { applied } = effectiveApplied(ALL, gitlab, gitlab);
    expect(ids(planUp(ALL, applied))).toEqual([B.id, C.id]);
  });

  it('lets the last baseline file hold the GitLab IDs', () => {
    const split = [
      migration('20260101000000_regdb_baseline_tables'),
      migration('20260101000001_regdb_baseline_seed'),
      B,
    ];
    expect(gitlabIdsHolder(split)).toBe('20260101000001_regdb_baseline_seed');
    expect(gitlabIdsHolder([B, C])).toBeUndefined();
  });
});

describe('formatting', () => {
  it('prints applied_at like Go time.Time.String() in UTC', () => {
    expect(formatAppliedAt('2025-10-21 07:07:32.123456')).toBe('2025-10-21 07:07:32.123456 +0000 UTC');
    expect(formatAppliedAt('2025-10-21 07:07:32.120000')).toBe('2025-10-21 07:07:32.12 +0000 UTC');
    expect(formatAppliedAt('2025-10-21 07:07:32.000000')).toBe('2025-10-21 07:07:32 +0000 UTC');
  });

  it('finds the highest ID in migration order', () => {
    expect(highestId(['20260101000000_regdb_baseline', '20251021070732_bbm_backfill_blobs_id_column'])).toBe(
      '20260101000000_regdb_baseline',
    );
    expect(highestId([])).toBeUndefined();
  });
});
