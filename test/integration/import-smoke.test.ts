import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { copyTree, importTree, type TreeCopy } from '../helpers/import-run.js';

let db: TestDatabase;
let tree: TreeCopy;
beforeAll(async () => {
  db = await freshDatabase();
  tree = await copyTree('real');
});
afterAll(async () => {
  await tree?.remove();
  await db?.drop();
});

it('imports the real tree', async () => {
  const report = await importTree(db.pool, tree);
  console.log(JSON.stringify(report.toJSON(), null, 1));
  const { rows } = await db.pool.query('SELECT count(*) FROM tags');
  expect(Number(rows[0].count)).toBeGreaterThan(0);
});
