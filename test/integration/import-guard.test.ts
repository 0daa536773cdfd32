/**
 * A dry run puts the sequences back when it ends, so it never runs beside a real import of the same
 * database (src/db/import-guard.ts): real imports (shards) share the guard, a dry run holds it alone,
 * and whichever comes second refuses to start. The lock dies with its session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportWriter } from '../../src/db/import-writer.js';
import { openDatabase } from '../../src/db/open.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
}, 600_000);
afterAll(async () => {
  await db?.drop();
}, 600_000);

const open = (dryRun: boolean, pool = db.pool) =>
  ImportWriter.open(pool, { dryRun, dynamicMediaTypes: true, scope: 'guard-test' });

describe('import guard', { timeout: 120_000 }, () => {
  it('real imports run side by side; a dry run waits for none of them and refuses to start', async () => {
    const a = await open(false);
    const b = await open(false);
    await expect(open(true)).rejects.toThrow(
      /^another regdb database import is running against this database: a dry run puts the sequences back/,
    );
    await a.close();
    await expect(open(true)).rejects.toThrow(/another regdb database import is running/);
    await b.close();
    const dry = await open(true);
    await dry.close();
  });

  it('a real import refuses to start beside a dry run, also with a pool of one connection', async () => {
    const small = await openDatabase({ ...db.config, pool: { maxOpen: 1 } });
    try {
      const dry = await open(true);
      await expect(open(false, small.pool)).rejects.toThrow(
        /^a dry run of regdb database import is running against this database/,
      );
      await expect(open(true, small.pool)).rejects.toThrow(/another regdb database import is running/);
      await dry.close();
      const real = await open(false, small.pool);
      // The guard is not taken from the pool: the pool's one connection still serves the import.
      expect((await real.countRows()).repositories).toBe(0n);
      await real.close();
    } finally {
      await small.close();
    }
  });
});
