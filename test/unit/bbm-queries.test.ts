import { describe, expect, it } from 'vitest';
import { int64, quoteIdent, qualifiedTable, splitTableName, targetSql } from '../../src/db/bbm/queries.js';
import type { BbmTarget } from '../../src/bbm/store.js';
import { WorkRegistry, createWorkRegistry } from '../../src/bbm/work.js';

describe('identifier handling', () => {
  it('quotes identifiers, doubling inner quotes', () => {
    expect(quoteIdent('blobs_p_0')).toBe('"blobs_p_0"');
    expect(quoteIdent('we"ird; DROP TABLE x')).toBe('"we""ird; DROP TABLE x"');
    expect(() => quoteIdent('')).toThrow(/invalid SQL identifier/);
    expect(qualifiedTable({ schema: 'partitions', table: 'blobs_p_63' })).toBe('"partitions"."blobs_p_63"');
  });

  it('splits table_name into schema and table, public by default', () => {
    expect(splitTableName('public.manifests')).toEqual({ schema: 'public', table: 'manifests' });
    expect(splitTableName('partitions.blobs_p_7')).toEqual({ schema: 'partitions', table: 'blobs_p_7' });
    expect(splitTableName('manifests')).toEqual({ schema: 'public', table: 'manifests' });
    expect(splitTableName('a.b.c')).toBeUndefined();
    expect(splitTableName('.x')).toBeUndefined();
    expect(splitTableName('"Q".x')).toBeUndefined();
  });

  it('builds target statements from catalog names only, with values as parameters', () => {
    const t: BbmTarget = {
      oid: 1,
      schema: 'partitions',
      table: 'blobs_p_0',
      column: 'id',
      integerColumn: true,
    };
    const sql = targetSql.populateBlobsId(t);
    expect(sql).toContain(`UPDATE "partitions"."blobs_p_0" t SET "id" = nextval('public.blobs_id_seq')`);
    expect(sql).toContain('WHERE "id" IS NULL LIMIT $1');
    expect(targetSql.keyAtOffset(t)).toContain('LIMIT 1 OFFSET $3');
  });
});

describe('int64 values', () => {
  it('parses int8 strings exactly', () => {
    expect(int64('9223372036854775807')).toBe(9223372036854775807n);
    expect(int64('-9223372036854775808')).toBe(-9223372036854775808n);
    expect(int64(5)).toBe(5n);
    expect(() => int64('1e3')).toThrow(/expected a bigint/);
    expect(() => int64(null)).toThrow(/expected a bigint/);
  });
});

describe('work registry (spec §5.2)', () => {
  it('holds the two registered work functions', () => {
    const r = createWorkRegistry();
    expect(r.names()).toEqual(['copyManifestMediaTypeIDToNewBigIntColumn', 'populateBlobsIDColumn']);
    expect(r.get('populateBlobsIDColumn')).toBeTypeOf('function');
    expect(r.get('nope')).toBeUndefined();
  });

  it('registers a function once', () => {
    const r = new WorkRegistry().register('x', () => Promise.resolve(1));
    expect(r.get('x')).toBeTypeOf('function');
    expect(() => r.register('x', () => Promise.resolve())).toThrow('work function x is already registered');
  });
});
