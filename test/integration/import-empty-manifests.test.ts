/**
 * Spec §1.3: a directory is a repository when it has a `_manifests` child, even an empty one. On a
 * filesystem that happens (object stores cannot hold an empty directory); the filesystem walk yields
 * an empty-directory marker on request, and the importer creates the repository row without tags.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileInfo } from '../../drivers/driver.js';
import { runImport } from '../../src/importer/run.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { copyTree, importOptions, type TreeCopy } from '../helpers/import-run.js';

const R = '/docker/registry/v2/repositories';

describe('an empty _manifests directory on a filesystem', () => {
  let tree: TreeCopy;
  let db: TestDatabase;

  beforeAll(async () => {
    tree = await copyTree('real');
    mkdirSync(join(tree.root, 'docker/registry/v2/repositories/group/empty/_manifests'), { recursive: true });
    mkdirSync(join(tree.root, 'docker/registry/v2/repositories/group/hollow/_manifests/tags'), {
      recursive: true,
    });
    mkdirSync(join(tree.root, 'docker/registry/v2/repositories/group/uploads-only/_uploads'), {
      recursive: true,
    });
    db = await freshDatabase();
  });

  afterAll(async () => {
    await db?.drop();
    await tree?.remove();
  });

  it('is yielded as a marker only when the walk asks for empty directories', async () => {
    const collect = async (emptyDirectories: boolean) => {
      const out: FileInfo[] = [];
      for await (const f of tree.driver.walk(`${R}/group`, { emptyDirectories })) out.push(f);
      return out;
    };
    const plain = await collect(false);
    const marked = await collect(true);
    expect(plain.some((f) => f.path.includes('/empty/') || f.path.includes('/hollow/'))).toBe(false);
    const markers = marked.filter((f) => f.isDir).map((f) => f.path);
    expect(markers).toEqual([
      `${R}/group/empty/_manifests/`,
      `${R}/group/hollow/_manifests/tags/`,
      `${R}/group/uploads-only/_uploads/`,
    ]);
    expect(marked.filter((f) => !f.isDir).map((f) => f.path)).toEqual(plain.map((f) => f.path));
  });

  it('becomes a repository row without tags; an _uploads-only directory does not', async () => {
    await runImport({ pool: db.pool, driver: tree.driver }, importOptions());
    const { rows } = await db.pool.query<{ path: string; tags: string }>(
      `SELECT r.path, (SELECT count(*) FROM tags t WHERE t.repository_id = r.id) AS tags
         FROM repositories r WHERE r.path LIKE 'group/%' ORDER BY r.path`,
    );
    const byPath = new Map(rows.map((r) => [r.path, Number(r.tags)]));
    expect(byPath.get('group/empty')).toBe(0);
    expect(byPath.get('group/hollow')).toBe(0);
    expect(byPath.has('group/uploads-only')).toBe(false);
    expect(byPath.get('group/app')).toBeGreaterThan(0);
  });
});
