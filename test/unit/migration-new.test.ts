import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseMigrationFile } from '../../src/db/migration-files.js';
import { migrationTimestamp, newMigrationId, renderTemplate } from '../../src/db/migration-new.js';

const NOW = new Date(Date.UTC(2026, 2, 4, 5, 6, 7, 890));

describe('migrate new', () => {
  it('builds <UTC timestamp>_regdb_<name>', () => {
    expect(migrationTimestamp(NOW)).toBe('20260304050607');
    expect(newMigrationId('add_index_2', NOW)).toBe('20260304050607_regdb_add_index_2');
  });

  it.each(['', 'Add', '2fast', 'with-dash', 'spaced name', 'ümlaut'])(
    'rejects the name %j with a usage error',
    (name) => {
      expect(() => newMigrationId(name, NOW)).toThrow(UsageError);
      expect(() => newMigrationId(name, NOW)).toThrow(`invalid migration name "${name}"`);
    },
  );

  it('reserves baseline names', () => {
    expect(() => newMigrationId('baseline_more', NOW)).toThrow('names starting with "baseline" are reserved');
  });

  it('renders templates that parse: pre in a transaction, post without one', () => {
    const id = newMigrationId('thing', NOW);
    const pre = parseMigrationFile(id, 'pre', 'pre.sql', renderTemplate('pre', id));
    const post = parseMigrationFile(id, 'post', 'post.sql', renderTemplate('post', id));
    expect(pre.noTransaction).toEqual({ up: false, down: false });
    expect(post.noTransaction).toEqual({ up: true, down: true });
    expect(renderTemplate('pre', id)).toContain(`-- ${id}: pre-deployment migration`);
  });
});
