import { describe, expect, it } from 'vitest';
import {
  bundledMigrationsDir,
  compareMigrationIds,
  migrationsDir,
  parseMigrationFile,
} from '../../src/db/migration-files.js';

const ID = '20260301120000_regdb_add_things';

describe('parseMigrationFile', () => {
  it('reads the up and down sections of a transactional migration', () => {
    const m = parseMigrationFile(
      ID,
      'pre',
      '/x.sql',
      '-- a leading comment\n\n-- regdb:up\nCREATE TABLE t (a int);\nINSERT INTO t VALUES (1);\n-- regdb:down\nDROP TABLE t;\n',
    );
    expect(m).toEqual({
      id: ID,
      kind: 'pre',
      file: '/x.sql',
      noTransaction: { up: false, down: false },
      requiredBbms: [],
      up: 'CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);',
      down: 'DROP TABLE t;',
    });
  });

  it('reads the no-transaction and requires-bbm headers', () => {
    const m = parseMigrationFile(
      ID,
      'post',
      '/x.sql',
      '-- regdb:no-transaction\n-- regdb:requires-bbm one, two\n-- regdb:requires-bbm three\n-- regdb:up\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- regdb:down\nDROP INDEX CONCURRENTLY i;\n',
    );
    expect(m.noTransaction).toEqual({ up: true, down: true });
    expect(m.requiredBbms).toEqual(['one', 'two', 'three']);
    expect(m.up).toBe('CREATE INDEX CONCURRENTLY i ON t (a);');
  });

  it.each([
    ['no up marker', 'SELECT 1;\n', 'line 1: SQL before "-- regdb:up"'],
    ['no markers at all', '-- nothing\n', 'missing "-- regdb:up"'],
    ['no down marker', '-- regdb:up\nSELECT 1;\n', 'missing "-- regdb:down"'],
    [
      'down before up',
      '-- regdb:down\n-- regdb:up\n',
      'line 1: "-- regdb:down" must appear once, after "-- regdb:up"',
    ],
    ['two up markers', '-- regdb:up\n-- regdb:up\n-- regdb:down\n', 'line 2: "-- regdb:up" must appear once'],
    [
      'header after up',
      '-- regdb:up\n-- regdb:no-transaction\n-- regdb:down\n',
      'line 2: "-- regdb:no-transaction" must come before',
    ],
    ['unknown directive', '-- regdb:upp\n', 'line 1: unknown directive "-- regdb:upp"'],
    [
      'empty bbm list',
      '-- regdb:requires-bbm\n-- regdb:up\n-- regdb:down\n',
      'line 1: "-- regdb:requires-bbm" needs a comma-separated list of names',
    ],
  ])('rejects a file with %s, naming the file', (_what, text, message) => {
    expect(() => parseMigrationFile(ID, 'pre', '/m/pre/bad.sql', text)).toThrow(
      `invalid migration file /m/pre/bad.sql: ${message}`,
    );
  });

  it('rejects IDs without the regdb infix or with a bad name', () => {
    for (const id of ['20260301120000_add_things', '2026030112000_regdb_x', '20260301120000_regdb_Bad']) {
      expect(() => parseMigrationFile(id, 'pre', `/m/${id}.sql`, '-- regdb:up\n-- regdb:down\n')).toThrow(
        `invalid migration file /m/${id}.sql: the file name must be`,
      );
    }
  });

  it('reads per-direction no-transaction headers', () => {
    const body = '-- regdb:up\nDO $$ BEGIN END $$;\n-- regdb:down\nDROP TABLE a;\nDROP TABLE b;\n';
    const down = parseMigrationFile(ID, 'pre', '/x.sql', `-- regdb:no-transaction-down\n${body}`);
    expect(down.noTransaction).toEqual({ up: false, down: true });
    const up = parseMigrationFile(
      ID,
      'pre',
      '/x.sql',
      '-- regdb:no-transaction-up\n-- regdb:up\n-- regdb:down\n',
    );
    expect(up.noTransaction).toEqual({ up: true, down: false });
  });

  it('accepts comment-only sections (a fresh `new` file)', () => {
    const m = parseMigrationFile(ID, 'pre', '/x.sql', '-- regdb:up\n-- fill in\n-- regdb:down\n');
    expect(m.up).toBe('-- fill in');
    expect(m.down).toBe('');
  });
});

describe('compareMigrationIds', () => {
  it('orders by the numeric prefix as an int64, then by ID', () => {
    const ids = [
      '20260101000001_regdb_b',
      '99999999999999999_regdb_x',
      '20260101000001_regdb_a',
      '20210503145024_create_top_level_namespaces_table',
      '3_regdb_short',
    ];
    expect([...ids].sort(compareMigrationIds)).toEqual([
      '3_regdb_short',
      '20210503145024_create_top_level_namespaces_table',
      '20260101000001_regdb_a',
      '20260101000001_regdb_b',
      '99999999999999999_regdb_x',
    ]);
  });
});

describe('migrationsDir', () => {
  it('is the bundled folder next to the module unless REGDB_MIGRATIONS_DIR is set', () => {
    expect(bundledMigrationsDir()).toMatch(/src\/db\/migrations\/$/);
    expect(migrationsDir({})).toBe(bundledMigrationsDir());
    expect(migrationsDir({ REGDB_MIGRATIONS_DIR: '/tmp/elsewhere' })).toBe('/tmp/elsewhere');
  });
});
