import { describe, expect, it } from 'vitest';
import { splitSqlStatements } from '../../src/db/sql-split.js';

describe('splitSqlStatements', () => {
  it('splits at top-level semicolons, trims them and keeps leading comments', () => {
    expect(
      splitSqlStatements(
        '-- build it\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a\n  ON t (x);\n\nCREATE INDEX b ON t (y);  SELECT 1;\n-- done\n',
      ),
    ).toEqual([
      '-- build it\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a\n  ON t (x)',
      'CREATE INDEX b ON t (y)',
      'SELECT 1',
    ]);
  });

  it('keeps a last statement without a semicolon and drops comment-only pieces', () => {
    expect(splitSqlStatements('SELECT 1;\n-- a; b\n/* c; */\nSELECT 2')).toEqual([
      'SELECT 1',
      '-- a; b\n/* c; */\nSELECT 2',
    ]);
    expect(splitSqlStatements('-- only a comment;\n')).toEqual([]);
    expect(splitSqlStatements('')).toEqual([]);
  });

  it('does not split inside dollar-quoted bodies, with or without a tag', () => {
    const doBlock = `DO $$\nBEGIN\n  FOR i IN 0..63 LOOP\n    EXECUTE format('CREATE TABLE p_%s ()', i);\n  END LOOP;\nEND\n$$`;
    const fn = `CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body$\nBEGIN\n  RETURN NEW; -- $$ is no end here;\nEND;\n$body$`;
    expect(splitSqlStatements(`${doBlock};\n${fn};\nSELECT 3;`)).toEqual([doBlock, fn, 'SELECT 3']);
  });

  it('does not split inside literals, quoted identifiers or nested block comments', () => {
    const sql = [
      `INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\\\\; slash', E'\\'; q')`,
      `SELECT "odd;name", "with "";"" quote" FROM t`,
      `SELECT /* outer /* inner; */ still; */ 1`,
      `SELECT $1::int, a$b FROM t`,
    ];
    expect(splitSqlStatements(sql.map((s) => `${s};`).join('\n'))).toEqual(sql);
  });
});
